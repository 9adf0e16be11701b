"""``careledger consent grant|modify|revoke|check|list|log|export-fhir|import-fhir|unreviewed|review|
cancel``, ``consent break-glass open|co-sign|review|unreviewed``, ``consent study status|close|reopen``.

Patient commands sign with ``--account`` (default on a devnet: ``patient``). With ``--relay URL``
they are signed as EIP-712 messages and sent to a relayer (``careledger relay serve``) instead,
so the patient spends no gas. Parties can be given as 0x addresses or, on a devnet, cast names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from careledger.cli.context import AppContext, pass_app
from careledger.cli.params import ADDRESS, CATEGORIES, CATEGORY, PURPOSE, PURPOSES, AddressType, Bytes32Type
from careledger.codes import Category, Purpose
from careledger.consent.terms import ALL_CATEGORIES, ALL_PURPOSES, GrantTerms, ModifyTerms
from careledger.errors import InvalidInput, NotVerified
from careledger.exactjson import dumps, uint_id

__all__ = ["consent"]

DAY = 86_400


def _client(app: AppContext, signer_default: str | None = "patient") -> Any:
    from careledger.consent.client import ConsentClient

    chain = app.signer(default=signer_default) if signer_default else app.chain()
    return ConsentClient(chain, app.deployment())


def _as_pseudonym(client: Any, person: Any, counterparty: str, relayed: bool) -> Any:
    """``client`` acting as ``person``'s pairwise pseudonym for ``counterparty``."""
    return client.acting_as(person.pseudonym(counterparty), relayed=relayed, counterparty=counterparty)


def _current(app: AppContext, grantee: str, patient: str | None, relayed: bool) -> tuple[Any, str, Any]:
    """(client acting for the patient, the patient's address, its current consent to ``grantee``):
    a person acts as its pseudonym for ``grantee``; :class:`InvalidInput` when there is none."""
    client = _client(app)
    person = None if patient else app.person()
    if person is not None:
        client = _as_pseudonym(client, person, grantee, relayed)
    who = app.address(patient, "patient") if patient else client.me
    state = client.consent_of(who, grantee)
    if state.valid_until == 0:
        raise InvalidInput(f"{who} has no current consent for {grantee}")
    return client, who, state


def _period(valid_from: int, days: float | None, until: int | None, now: int) -> tuple[int, int]:
    if (days is None) == (until is None):
        raise InvalidInput("give exactly one of --days or --until")
    end = until if until is not None else max(valid_from, now) + round((days or 0) * DAY)
    return valid_from, end


def _commitment(document: Path | None) -> bytes:
    if document is None:
        return b"\0" * 32
    from careledger.cli.context import record_store

    # The consent document is kept encrypted off chain (the record store 'careledger records'
    # uses: $CARELEDGER_RECORDS or .records/); only its salted commitment goes on chain.
    ref = record_store(None).store(document.read_bytes())
    click.echo(f"consent document stored as record {ref.record_id}", err=True)
    return ref.commitment


def _deny(deny_categories: int | None, deny_purposes: int | None) -> tuple[int, int]:
    if deny_categories is None and deny_purposes is None:
        return 0, 0
    return (deny_categories or ALL_CATEGORIES, deny_purposes or ALL_PURPOSES)


def _identities(app: AppContext, client: Any, patient: str | None) -> list[str]:
    """Addresses whose history is the patient's: a person's pseudonyms for every organisation and
    study, or the one address given."""
    person = app.person(patient)
    if person is not None:
        return list(person.pseudonyms(client.counterparties()))
    if patient:
        return [app.address(patient, "patient")]
    return [_client(app).me]


@click.group()
def consent() -> None:
    """Patient consents: grant, modify, revoke, check, list, audit log, FHIR export/import;
    break-glass (open, co-sign, review) and research study status."""


_PATIENT = click.option(
    "--patient", default=None, help="Patient to act for (default: the signer; a delegate passes the patient here)."
)
_RELAY = click.option(
    "--relay",
    "relay_url",
    default=None,
    envvar="CARELEDGER_RELAY",
    help="Relay URL: sign an EIP-712 message and let the relayer pay the gas.",
)


@consent.command("grant")
@click.argument("grantee", type=ADDRESS)
@click.option("--categories", type=CATEGORIES, required=True, help="Comma-separated data categories, or 'all'.")
@click.option(
    "--purposes",
    type=PURPOSES,
    required=True,
    help="Comma-separated purposes (treat, hpaymt, hoperat, hresch, pubhlth).",
)
@click.option("--days", type=float, default=None, help="Valid for this many days from now (or from --from).")
@click.option("--until", type=int, default=None, help="Valid until this unix time (exclusive).")
@click.option("--from", "valid_from", type=int, default=0, help="Valid from this unix time (default: now).")
@click.option(
    "--deny-categories",
    type=CATEGORIES,
    default=None,
    help="Deny provision: categories (default all if purposes given).",
)
@click.option(
    "--deny-purposes", type=PURPOSES, default=None, help="Deny provision: purposes (default all if categories given)."
)
@click.option(
    "--document",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Signed consent document: stored encrypted, its salted commitment goes on chain.",
)
@click.option("--allow-unvetted", is_flag=True, help="Grant even if the grantee is not (yet) a vetted participant.")
@click.option(
    "--plan",
    "plan",
    type=AddressType("plan insurer"),
    default=None,
    help="A payment consent for your health plan: sign as your pseudonym for this insurer (the "
    "member address the plan's claims use), not as your pseudonym for the grantee.",
)
@_PATIENT
@_RELAY
@pass_app
def grant_cmd(
    app: AppContext,
    grantee: str,
    categories: int,
    purposes: int,
    days: float | None,
    until: int | None,
    valid_from: int,
    deny_categories: int | None,
    deny_purposes: int | None,
    document: Path | None,
    allow_unvetted: bool,
    plan: str | None,
    patient: str | None,
    relay_url: str | None,
) -> None:
    """Grant GRANTEE access to CATEGORIES for PURPOSES for a period. A person acts as their
    pairwise pseudonym for GRANTEE (or, with --plan, for that insurer)."""
    client = _client(app)
    g = grantee
    start, end = _period(valid_from, days, until, client.chain_time())
    dc, dp = _deny(deny_categories, deny_purposes)
    terms = GrantTerms(
        grantee=g,
        categories=categories,
        purposes=purposes,
        valid_until=end,
        valid_from=start,
        deny_categories=dc,
        deny_purposes=dp,
        document=_commitment(document),
    )
    terms.check()
    person = None if patient else app.person()
    if person is not None:  # the person's pairwise pseudonym for this grantee (or plan) acts
        client = _as_pseudonym(client, person, plan or g, bool(relay_url))
    who = app.address(patient, "patient") if patient else client.me
    if not allow_unvetted:
        client.require_vetted(g)
    sent = client.act("grant", relay=relay_url, patient=who, terms=terms)
    cid, tx, gas = sent.consent_id or 0, sent.tx, sent.gas_used
    data = {
        "consentId": uint_id(cid),
        "patient": who,
        "grantee": g,
        "validUntil": end,
        "tx": tx,
        "gasUsed": gas,
        "relayed": sent.relayed,
    }
    app.emit(
        data,
        lambda: click.echo(
            f"granted consent {cid:#x} to {g} until {end} (tx {tx}, {gas:,} gas"
            f"{' paid by the relayer' if relay_url else ''})"
        ),
    )


@consent.command("modify")
@click.argument("grantee", type=ADDRESS)
@click.option("--categories", type=CATEGORIES, required=True)
@click.option("--purposes", type=PURPOSES, required=True)
@click.option("--days", type=float, default=None)
@click.option("--until", type=int, default=None)
@click.option("--deny-categories", type=CATEGORIES, default=None)
@click.option("--deny-purposes", type=PURPOSES, default=None)
@_PATIENT
@_RELAY
@pass_app
def modify_cmd(
    app: AppContext,
    grantee: str,
    categories: int,
    purposes: int,
    days: float | None,
    until: int | None,
    deny_categories: int | None,
    deny_purposes: int | None,
    patient: str | None,
    relay_url: str | None,
) -> None:
    """Change the terms of the current consent to GRANTEE (its id stays)."""
    client, who, state = _current(app, grantee, patient, bool(relay_url))
    g = grantee
    _, end = _period(0, days, until, client.chain_time())
    dc, dp = _deny(deny_categories, deny_purposes)
    terms = ModifyTerms(categories, purposes, end, dc, dp)
    tx = client.act("modify", relay=relay_url, patient=who, grantee=g, consent_id=state.id, terms=terms).tx
    app.emit(
        {"consentId": uint_id(state.id), "validUntil": end, "tx": tx},
        lambda: click.echo(f"modified consent {state.id:#x} (tx {tx})"),
    )


@consent.command("revoke")
@click.argument("grantee", type=ADDRESS)
@_PATIENT
@_RELAY
@pass_app
def revoke_cmd(app: AppContext, grantee: str, patient: str | None, relay_url: str | None) -> None:
    """Revoke the current consent to GRANTEE now (accesses already logged stay logged)."""
    client, who, state = _current(app, grantee, patient, bool(relay_url))
    g = grantee
    tx = client.act("revoke", relay=relay_url, patient=who, grantee=g, consent_id=state.id).tx
    app.emit(
        {"consentId": uint_id(state.id), "revoked": True, "tx": tx},
        lambda: click.echo(f"revoked consent {state.id:#x} (tx {tx})"),
    )


@consent.command("check")
@click.argument("patient")
@click.argument("grantee", type=ADDRESS)
@click.argument("category", type=CATEGORY)
@click.argument("purpose", type=PURPOSE)
@pass_app
def check_cmd(app: AppContext, patient: str, grantee: str, category: Category, purpose: Purpose) -> None:
    """May GRANTEE access CATEGORY of PATIENT for PURPOSE now? Exit 0 yes, 1 no."""
    client = _client(app, signer_default=None)
    cat, pur, g = category, purpose, grantee
    person = app.person(patient)
    p = person.address_for(g) if person is not None else app.address(patient, "patient")
    allowed, cid = client.can_access(p, g, cat, pur)
    data = {
        "allowed": allowed,
        "consentId": uint_id(cid),
        "patient": p,
        "grantee": g,
        "category": cat.name,
        "purpose": pur.name,
    }
    if not allowed:
        raise NotVerified(f"{g} may NOT access {cat.name} of {p} for {pur.name}")
    app.emit(data, lambda: click.echo(f"allowed under consent {cid:#x}"))


@consent.command("list")
@click.option("--patient", default=None, help="Patient (default: the signer).")
@pass_app
def list_cmd(app: AppContext, patient: str | None) -> None:
    """The patient's consents (one per grantee), rebuilt from events, with their state now. A
    person's consents are those of all their pairwise pseudonyms (column "as")."""
    client = _client(app, signer_default=None)
    rows = []
    for who in _identities(app, client, patient):
        rows += [{**r, "as": who} for r in client.consents(who)]

    app.emit_rows(
        rows,
        lambda r: (
            f"{r['status']:9} {r['grantee']}  {','.join(r['categories']) or '-'} for "
            f"{','.join(r['purposes']) or '-'} until {r['validUntil']}  id {r['consentId']}"
        ),
        "no consents",
    )


@consent.command("log")
@click.option("--patient", default=None, help="Patient (default: the signer).")
@pass_app
def log_cmd(app: AppContext, patient: str | None) -> None:
    """The patient's audit log: grants, changes, accesses and break-glass uses, in chain order;
    for a person, one combined log of all their pairwise pseudonyms."""
    client = _client(app, signer_default=None)
    entries = [e.to_json() for e in client.history(_identities(app, client, patient))]

    def human() -> None:
        for e in entries:
            mark = "!! " if e["event"] == "BreakGlassOpened" else "   "
            extra = {k: v for k, v in e.items() if k not in ("event", "block", "logIndex", "tx", "patient")}
            click.echo(f"{mark}block {e['block']:>6}  {e['event']:<18} {json.dumps(extra, default=str)}")

    app.emit(entries, human)


@consent.command("export-fhir")
@click.argument("grantee", type=ADDRESS)
@click.option("--patient", default=None, help="Patient (default: the signer).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_app
def export_cmd(app: AppContext, grantee: str, patient: str | None, output: Path | None) -> None:
    """Write the consent to GRANTEE as a FHIR R4 Consent resource (validated)."""
    from careledger.consent import fhir

    client = _client(app, signer_default=None)
    g = grantee
    person = app.person(patient)
    if person is not None:
        who = person.address_for(g)
    else:
        who = app.address(patient, "patient") if patient else _client(app).me
    state = client.consent_of(who, g)
    document = None
    for e in client.history(who, ("ConsentGranted",)):
        if e.args["grantee"] == g and int(e.args["consentId"]) == state.id:
            document = bytes(e.args["document"])
    resource = fhir.export_consent(who, g, state, document=document, now=client.chain_time())
    text = dumps(resource)
    if output:
        output.write_text(text + "\n")
        app.emit(
            {"written": str(output), "id": resource["id"], "status": resource["status"]},
            lambda: click.echo(
                f"wrote FHIR R4 Consent {resource['id'][:12]}... ({resource['status']}) to {output}", err=True
            ),
        )
    else:
        click.echo(text)


@consent.command("import-fhir")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--allow-unvetted", is_flag=True)
@_RELAY
@pass_app
def import_cmd(app: AppContext, file: Path, allow_unvetted: bool, relay_url: str | None) -> None:
    """Grant the consent a FHIR R4 Consent resource describes (the signer must be its patient or a delegate)."""
    from careledger.consent import fhir

    try:
        resource = json.loads(file.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{file} is not JSON: {exc}") from None
    if not isinstance(resource, dict):
        raise InvalidInput(f"{file} does not hold a FHIR resource object")
    patient, terms = fhir.import_consent(resource)
    client = _client(app)
    person = app.person()
    if person is not None:
        client = _as_pseudonym(client, person, terms.grantee, bool(relay_url))
        if patient.lower() != client.me.lower():
            raise InvalidInput(
                f"this Consent's patient {patient} is not your pseudonym for {terms.grantee} ({client.me}); "
                "nothing was granted"
            )
    if not allow_unvetted:
        client.require_vetted(terms.grantee)
    sent = client.act("grant", relay=relay_url, patient=patient, terms=terms)
    cid, tx = sent.consent_id or 0, sent.tx
    app.emit(
        {"consentId": uint_id(cid), "patient": patient, "grantee": terms.grantee, "tx": tx},
        lambda: click.echo(f"granted consent {cid:#x} from {file.name} (tx {tx})"),
    )


def _key_for(app: AppContext, client: Any, address: str) -> Any:
    """The key that signs as ``address``: the acting person's pseudonym with that address (or the
    account itself when it is that address)."""
    person = app.person()
    if person is not None:
        for org in client.counterparties():
            key = person.pseudonym(org)
            if key.address.lower() == address.lower():
                return key
    account = app.signer(default="patient").account
    if account is not None and account.address.lower() == address.lower():
        return account
    raise InvalidInput(f"{address} is not one of your addresses: nothing was signed")


@consent.command("unreviewed")
@click.option("--patient", default=None, help="Patient (default: the signer; a person: all pseudonyms).")
@pass_app
def unreviewed_cmd(app: AppContext, patient: str | None) -> None:
    """Break-glass openings on you that nobody marked reviewed yet (all your pseudonyms)."""
    client = _client(app, signer_default=None)
    rows = []
    for e in client.unreviewed_break_glass(_identities(app, client, patient)):
        args = e.to_json()
        seq = _break_glass_seq(client, args)
        rows.append({**args, "seq": seq})

    app.emit_rows(
        rows,
        lambda r: (
            f"!! block {r['block']:>6}  {r['provider']} opened break-glass #{r['seq']} on {r['patient']} "
            f"until {r['until']}  (review: careledger consent review {r['breakGlassId']})"
        ),
        "no unreviewed break-glass",
    )


def _break_glass_seq(client: Any, args: dict[str, Any]) -> int:
    from careledger.consent.terms import break_glass_id

    wanted = int(args["breakGlassId"], 16)
    latest = int(client.contract.functions.breakGlassOf(args["patient"], args["provider"]).call()[1])
    for seq in range(latest, 0, -1):
        if break_glass_id(args["patient"], args["provider"], seq) == wanted:
            return seq
    raise InvalidInput(f"break-glass {args['breakGlassId']} is not on chain")


@consent.command("review")
@click.argument("break_glass_id", type=Bytes32Type("break-glass id"))
@_RELAY
@pass_app
def review_cmd(app: AppContext, break_glass_id: bytes, relay_url: str | None) -> None:
    """Mark break-glass opening BREAK_GLASS_ID (from 'consent unreviewed') reviewed."""
    client = _client(app, signer_default=None)
    wanted = int.from_bytes(break_glass_id, "big")
    mine = _identities(app, client, None)
    match = [e for e in client.unreviewed_break_glass(mine) if int(e.args["breakGlassId"]) == wanted]
    if not match:
        raise InvalidInput(f"no unreviewed break-glass 0x{break_glass_id.hex()} on your addresses")
    args = match[0].to_json()
    seq = _break_glass_seq(client, args)
    key = _key_for(app, client, args["patient"])
    acting = client.acting_as(key, relayed=bool(relay_url))
    tx = acting.act(
        "review_break_glass", relay=relay_url, patient=args["patient"], provider=args["provider"], seq=seq
    ).tx
    app.emit(
        {"breakGlassId": "0x" + break_glass_id.hex(), "reviewed": True, "tx": tx},
        lambda: click.echo(f"break-glass #{seq} of {args['provider']} marked reviewed (tx {tx})"),
    )


@consent.command("cancel")
@click.argument("grantee", type=ADDRESS, required=False)
@_RELAY
@pass_app
def cancel_cmd(app: AppContext, grantee: str | None, relay_url: str | None) -> None:
    """Void signatures you gave but nobody submitted yet: for GRANTEE (every signed grant, modify
    or revoke of that relationship), or without GRANTEE your patient-wide ones."""

    client = _client(app)
    g = grantee
    person = app.person()
    if person is not None and g is not None:
        client = _as_pseudonym(client, person, g, bool(relay_url))
    tx = client.act("cancel", relay=relay_url, grantee=g).tx
    app.emit(
        {"patient": client.me, "grantee": g, "cancelled": True, "tx": tx},
        lambda: click.echo(f"outstanding signatures of {client.me} for {g or 'patient-wide actions'} voided (tx {tx})"),
    )


# ---------------------------------------------------------------------- break-glass (provider side)


_ENCOUNTER = Bytes32Type("encounter", commitment=True)
_JUSTIFICATION = Bytes32Type("justification", commitment=True)


def _org_client(app: AppContext) -> Any:
    """A client signing as the organisation named by --account (or $CARELEDGER_PRIVATE_KEY):
    provider, regulator or registrar actions have no default signer."""
    from careledger.consent.client import ConsentClient

    return ConsentClient(app.signer(default=None), app.deployment())


def _patient_at(app: AppContext, value: str, organisation: str) -> str:
    """The patient as ``organisation`` knows them: a 0x address as given, or on a devnet a person
    of the cast by name, resolved to their pairwise pseudonym for that organisation."""
    if not value.startswith("0x"):
        person = app.person(value)
        if person is not None:
            return str(person.address_for(organisation))
    return app.address(value, "patient")


@consent.group("break-glass")
def break_glass() -> None:
    """Emergency access: open (bounded per day), co-sign over the cap, review, list unreviewed."""


@break_glass.command("open")
@click.argument("patient")
@click.option(
    "--reason",
    type=click.Choice(["etreat", "btg"], case_sensitive=False),
    required=True,
    help="ETREAT (emergency treatment) or BTG (break the glass).",
)
@click.option(
    "--encounter",
    type=_ENCOUNTER,
    required=True,
    help="Salted commitment (0x + 64 hex) of the encounter this opening serves.",
)
@click.option(
    "--justification",
    type=_JUSTIFICATION,
    required=True,
    help="Salted commitment (0x + 64 hex) of the off-chain justification note.",
)
@pass_app
def break_glass_open_cmd(app: AppContext, patient: str, reason: str, encounter: bytes, justification: bytes) -> None:
    """Open a 4-hour break-glass window on PATIENT as the signing provider (--account). At most
    two a day per provider and patient; beyond that a second provider or a regulator co-signs
    the same encounter first ('break-glass co-sign')."""
    from careledger.errors import ChainRefused

    enc, note = encounter, justification
    client = _org_client(app)
    who = _patient_at(app, patient, client.me)
    try:
        bg_id, receipt = client.break_glass(who, Purpose[reason.upper()], note, enc)
    except ChainRefused as exc:
        if exc.error_name == "BreakGlassCapReached":
            raise ChainRefused(
                f"{exc.message}: the daily cap is reached; ask a second provider or a regulator to run "
                f"'careledger consent break-glass co-sign {who} {client.me} --encounter 0x{enc.hex()}'",
                error_name=exc.error_name,
                error_args=exc.error_args,
            ) from None
        raise
    ev = client.contract.events.BreakGlassOpened().process_receipt(receipt)[0]["args"]
    seq = int(client.contract.functions.breakGlassOf(who, client.me).call()[1])
    data = {
        "breakGlassId": uint_id(bg_id),
        "seq": seq,
        "patient": who,
        "provider": client.me,
        "reason": reason.upper(),
        "until": int(ev["until"]),
        "encounter": "0x" + enc.hex(),
        "coSigned": bool(ev["coSigned"]),
        "tx": receipt["transactionHash"].to_0x_hex(),
    }
    app.emit(
        data,
        lambda: click.echo(
            f"break-glass #{seq} open on {who} until {data['until']}"
            f"{' (co-signed)' if data['coSigned'] else ''}: id {data['breakGlassId']} (tx {data['tx']})"
        ),
    )


@break_glass.command("co-sign")
@click.argument("patient")
@click.argument("provider", type=ADDRESS)
@click.option(
    "--encounter", type=_ENCOUNTER, required=True, help="The encounter commitment the opening will carry (0x + 64 hex)."
)
@pass_app
def break_glass_cosign_cmd(app: AppContext, patient: str, provider: str, encounter: bytes) -> None:
    """As a second provider or a regulator (--account): allow PROVIDER one more break-glass opening
    on PATIENT today, for that encounter only (used up by the opening)."""
    enc = encounter
    client = _org_client(app)
    opener = provider
    if opener.lower() == str(client.me).lower():
        raise InvalidInput("a provider cannot co-sign its own break-glass: a second provider or a regulator must")
    who = _patient_at(app, patient, opener)
    receipt = client.co_sign_break_glass(who, opener, enc)
    data = {
        "patient": who,
        "provider": opener,
        "cosigner": client.me,
        "encounter": "0x" + enc.hex(),
        "tx": receipt["transactionHash"].to_0x_hex(),
    }
    app.emit(
        data,
        lambda: click.echo(f"{client.me} co-signed one more break-glass of {opener} on {who} (tx {data['tx']})"),
    )


break_glass.add_command(review_cmd, "review")
break_glass.add_command(unreviewed_cmd, "unreviewed")


# ---------------------------------------------------------------------- study status

_STUDY_STATUS = {0: "unregistered", 1: "active", 2: "closed"}


def _study(app: AppContext, client: Any, study: str) -> tuple[str, dict[str, Any]]:
    from careledger.artifacts import load_artifacts
    from careledger.codes import Role

    addr = app.address(study, "study")
    sponsor, version, status, form = client.chain.call(client.contract.functions.studyOf(addr), "read study")
    if int(version) == 0:
        raise InvalidInput(f"{addr} is not a registered study")
    directory = client.chain.contract(
        client.deployment.address("ParticipantDirectory"), load_artifacts()["ParticipantDirectory"].abi
    )
    active = bool(client.chain.call(directory.functions.isActive(sponsor, int(Role.PROVIDER)), "read sponsor"))
    return addr, {
        "study": addr,
        "sponsor": str(sponsor),
        "sponsorActive": active,
        "formVersion": int(version),
        "form": "0x" + bytes(form).hex(),
        "status": _STUDY_STATUS.get(int(status), str(status)),
        # research access needs both: an active study and a sponsor still an active provider
        "accessOpen": int(status) == 1 and active,
    }


@consent.group("study")
def study() -> None:
    """Research studies: status; close or reopen (sponsor: close; registrar or regulator: both)."""


@study.command("status")
@click.argument("study_address")
@pass_app
def study_status_cmd(app: AppContext, study_address: str) -> None:
    """Show STUDY_ADDRESS's sponsor, form version and status, and whether research access is open."""
    client = _client(app, signer_default=None)
    _, data = _study(app, client, study_address)
    app.emit(
        data,
        lambda: click.echo(
            f"study {data['study']}: {data['status']}, form v{data['formVersion']}, sponsor {data['sponsor']}"
            f"{'' if data['sponsorActive'] else ' (not an active provider)'}; research access "
            f"{'open' if data['accessOpen'] else 'closed'}"
        ),
    )


def _set_study(app: AppContext, study_address: str, status: int) -> None:
    client = _org_client(app)
    addr, before = _study(app, client, study_address)
    wanted = _STUDY_STATUS[status]
    if before["status"] == wanted:
        app.emit(
            {**before, "changed": False},
            lambda: click.echo(f"study {addr} is already {wanted}: nothing sent"),
        )
        return
    receipt = client.set_study_status(addr, status)
    tx = receipt["transactionHash"].to_0x_hex()
    app.emit(
        {**before, "status": wanted, "accessOpen": status == 1 and before["sponsorActive"], "changed": True, "tx": tx},
        lambda: click.echo(f"study {addr} is now {wanted} (tx {tx})"),
    )


@study.command("close")
@click.argument("study_address")
@pass_app
def study_close_cmd(app: AppContext, study_address: str) -> None:
    """Close STUDY_ADDRESS (its sponsor, a registrar or a regulator, as --account): no new
    research consent and no research access until it is reopened."""
    _set_study(app, study_address, 2)


@study.command("reopen")
@click.argument("study_address")
@pass_app
def study_reopen_cmd(app: AppContext, study_address: str) -> None:
    """Reopen a closed STUDY_ADDRESS (a registrar or a regulator, as --account)."""
    _set_study(app, study_address, 1)


def _add_recovery() -> None:
    from careledger.consent.recovery_cli import recovery

    consent.add_command(recovery)


_add_recovery()
