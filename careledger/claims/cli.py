"""``careledger claims ...``: plans, enrolment, pool, claims, review, payouts, FHIR export.

Amounts are given in token units with decimals (``180.00`` dtUSD), dates as ``YYYY-MM-DD``
(UTC), claim ids as 0x + 64 hex digits. Every command prints JSON with ``--json``.

Codes and service dates are typed readable and never reach the chain: the plan's code key
(the key file of :mod:`careledger.claims.keys`, written by ``claims plan`` and shared off chain
with the plan's network) turns codes into plan-keyed digests and a date into the plan year
plus an episode digest. Enrolment needs the member's signature (``claims sign-enrolment``, run
with the key of the plan pseudonym on the member's card).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from careledger.cli.context import AppContext, pass_app
from careledger.cli.params import ADDRESS, CLAIM_ID, AddressType, AmountType, Bytes32Type
from careledger.errors import InvalidInput
from careledger.exactjson import dumps, quantity

__all__ = ["claims"]

DEFAULT_PLAN_OPTS = "covered"


def _client(app: AppContext, default: str) -> Any:
    from careledger.claims.client import ClaimsClient

    return ClaimsClient(app.signer(default=default), app.deployment())


def _reader(app: AppContext) -> Any:
    from careledger.claims.client import ClaimsClient

    return ClaimsClient(app.chain(), app.deployment())


def _decimals(client: Any) -> int:
    return int(client.chain.call(client.token.functions.decimals(), "token decimals"))


def _token_decimals(app: AppContext) -> int:
    return _decimals(_reader(app))


AMOUNT = AmountType(_token_decimals)
"""A payment-token amount with decimals (``180.00``), in base units: the token's decimals are read from the chain."""


def _fmt(units: int, decimals: int) -> str:
    from decimal import Decimal

    return f"{Decimal(units).scaleb(-decimals).normalize():f}"


def _parse_rule(text: str, decimals: int) -> tuple[str, Any, int | None]:
    """``CPT:99213=coins=2000,copay=20`` -> (code, CoverageRule, GTIN bound to a drug code)."""
    from careledger.claims.batchfile import parse_amount
    from careledger.claims.types import CoverageRule, service_code

    code_text, _, opts = text.partition("=")
    service_code(code_text)
    covered, pre_auth, unit, once, coins, copay, cap = True, False, False, False, 0, 0, 0
    gtin: int | None = None
    for opt in filter(None, (o.strip() for o in (opts or DEFAULT_PLAN_OPTS).split(","))):
        key, _, value = opt.partition("=")
        if key == "covered":
            covered = True
        elif key == "not-covered":
            covered = False
        elif key == "preauth":
            pre_auth = True
        elif key == "unit":
            unit = True
        elif key == "once-per-year":
            once = True
        elif key == "gtin" and value.isdigit() and len(value) <= 14:
            gtin = int(value)
        elif key == "coins" and value.isdigit() and int(value) <= 10_000:
            coins = int(value)
        elif key == "copay" and value:
            copay = parse_amount(value, decimals)
        elif key == "max-per-unit" and value:
            cap = parse_amount(value, decimals)
        else:
            raise InvalidInput(
                f"rule option {opt!r} in {text!r} is not one of covered, not-covered, preauth, unit, once-per-year, "
                "gtin=GTIN, coins=BPS (0..10000), copay=AMOUNT, max-per-unit=AMOUNT"
            )
    if unit and gtin is None:
        raise InvalidInput(f"rule {text!r}: a drug code (unit) needs gtin=GTIN, the product it binds")
    return code_text.strip(), CoverageRule(covered, pre_auth, unit, once, coins, copay, cap), gtin


def _parse_line(text: str, decimals: int, ctx: Any) -> Any:
    """``CODE,UNITS,AMOUNT[,UNIT_IDS;...,GTIN]`` -> Line."""
    from careledger.claims.batchfile import _line

    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 5):
        raise InvalidInput(f"line {text!r} must be CODE,UNITS,AMOUNT[,UNIT_ID;UNIT_ID...,GTIN]")
    return _line(
        {
            "code": parts[0],
            "units": parts[1],
            "billed": parts[2],
            "unitIds": parts[3] if len(parts) == 5 else "",
            "gtin": parts[4] if len(parts) == 5 else "",
        },
        decimals,
        ctx,
    )


def _context(client: Any, plan_id: int) -> Any:
    """The plan's context: its terms (on chain) and code key (the key file)."""
    from careledger.claims.keys import KeyStore, PlanContext

    _, terms = client.plan(plan_id)
    if terms.period_length == 0:
        raise InvalidInput(f"plan {plan_id} does not exist")
    # The key of the rule table in force now: after `claims rules --new-key` the newest key waits
    # for its table, and a claim submitted before then is read under the old one.
    store = KeyStore()
    in_force, _ = client.rules_in_force(plan_id)
    wanted = client.code_key_id(plan_id, in_force) if in_force else None
    key = next((k for k in store.keys(plan_id) if k.key_id == wanted), None) if wanted else None
    return PlanContext(plan_id, key or store.current(plan_id), terms)


def _tx(receipt: Any) -> dict[str, Any]:
    return {
        "tx": receipt["transactionHash"].to_0x_hex(),
        "block": int(receipt["blockNumber"]),
        "gasUsed": int(receipt["gasUsed"]),
    }


@click.group()
def claims() -> None:
    """Insurance claims: plans, enrolment, pool, submission, review, payouts, FHIR export."""


@claims.command()
@click.option("--deductible", type=AMOUNT, required=True, help="Per member and plan year (e.g. 100.00).")
@click.option("--annual-max", type=AMOUNT, required=True, help="Most the plan pays per member and plan year.")
@click.option(
    "--auto-approve", "auto_approve", type=AMOUNT, required=True, help="Claims billing at most this settle unreviewed."
)
@click.option("--appeal-days", type=click.IntRange(0, 365), default=30, show_default=True)
@click.option("--filing-days", type=click.IntRange(0, 366), default=90, show_default=True)
@click.option("--year-start", default=None, help="First day of plan year 0, YYYY-MM-DD (default: 1 January this year).")
@click.option("--rule", "rules", multiple=True, help="CODE=OPTS, e.g. CPT:99213=coins=2000,copay=20 (repeatable).")
@pass_app
def plan(
    app: AppContext,
    deductible: int,
    annual_max: int,
    auto_approve: int,
    appeal_days: int,
    filing_days: int,
    year_start: str | None,
    rules: tuple[str, ...],
) -> None:
    """Create a plan (as the insurer), its code key, and its first rule table."""
    from careledger.claims.batchfile import parse_day
    from careledger.claims.keys import KeyStore, new_code_key
    from careledger.claims.types import PLAN_YEAR, PlanTerms

    client = _client(app, "insurer")
    d = _decimals(client)
    parsed = [_parse_rule(r, d) for r in rules]
    now = int(client.chain.w3.eth.get_block("latest")["timestamp"])
    this_year = datetime.fromtimestamp(now, UTC).year
    start = parse_day(year_start or f"{this_year}-01-01") * 86_400
    terms = PlanTerms(
        deductible,
        annual_max,
        auto_approve,
        appeal_days * 86_400,
        start,
        PLAN_YEAR,
        filing_days * 86_400,
    )
    plan_id, receipt = client.create_plan(terms)
    key = new_code_key()
    store = KeyStore()
    store.add(plan_id, key)
    store.add_codes(plan_id, [c for c, _, _ in parsed])  # so digests read back later
    out: dict[str, Any] = {
        "planId": plan_id,
        **_tx(receipt),
        "rules": len(parsed),
        "codeKeyId": "0x" + key.key_id.hex(),
    }
    if parsed:
        table = {key.digest(plan_id, c): r for c, r, _ in parsed}
        bindings = {key.digest(plan_id, c): key.gtin_binding(plan_id, c, g) for c, _, g in parsed if g is not None}
        version, _, receipt = client.coverage_now(plan_id, key.key_id, table, bindings)
        out["coverageTx"] = _tx(receipt)["tx"]
        out["rulesVersion"] = version
    app.emit(out, lambda: click.echo(f"plan {plan_id} created with {len(parsed)} coverage rule(s)"))


@claims.command()
@click.argument("plan_id", type=int)
@click.option("--rule", "rules", multiple=True, required=True, help="CODE=OPTS as for 'claims plan' (repeatable).")
@click.option("--new-key", is_flag=True, help="Rotate the plan's code key: the new table's codes use a fresh key.")
@click.option("--from", "from_day", default=None, help="First day in force, YYYY-MM-DD (default: the plan's notice).")
@pass_app
def rules(app: AppContext, plan_id: int, rules: tuple[str, ...], new_key: bool, from_day: str | None) -> None:
    """Schedule the next rule table of PLAN_ID (as its insurer), optionally with a new code key.

    Claims submitted before it takes effect stay with their own table (and key), so their codes
    keep their meaning for whoever holds the old key; a rotated key is appended to the key file."""
    from careledger.claims.batchfile import parse_day
    from careledger.claims.keys import KeyStore, new_code_key

    client = _client(app, "insurer")
    parsed = [_parse_rule(r, _decimals(client)) for r in rules]
    store = KeyStore()
    key = new_code_key() if new_key else store.current(plan_id)
    if from_day is not None:
        effective = parse_day(from_day) * 86_400
        version, _ = client.schedule_rules(plan_id, effective, key.key_id)
    else:
        version, effective = client.schedule_rules_now(plan_id, key.key_id)
    if new_key:
        store.add(plan_id, key)  # only once the chain took the table that uses it
    store.add_codes(plan_id, [c for c, _, _ in parsed])
    table = {key.digest(plan_id, c): r for c, r, _ in parsed}
    bindings = {key.digest(plan_id, c): key.gtin_binding(plan_id, c, g) for c, _, g in parsed if g is not None}
    receipt = client.set_coverage(plan_id, version, table, bindings)
    out = {
        "planId": plan_id,
        "rulesVersion": version,
        "effectiveFrom": effective,
        "codeKeyId": "0x" + key.key_id.hex(),
        "rotated": new_key,
        "rules": len(parsed),
        **_tx(receipt),
    }
    app.emit(
        out,
        lambda: click.echo(
            f"plan {plan_id}: rule table {version} with {len(parsed)} rule(s) in force from {effective}"
            + (" (new code key)" if new_key else "")
        ),
    )


def _member_key(app: AppContext, insurer: str) -> Any:
    """The key that signs as the member: a person (a devnet person by ``--account``, or
    ``$CARELEDGER_PATIENT_MNEMONIC``) signs as its pairwise pseudonym for the plan's insurer,
    the address on its card for the plan (never the ones it uses with its providers); any other
    signer (``--account 0x<key>``, ``$CARELEDGER_PRIVATE_KEY``) as its own address."""
    person = app.person()
    if person is not None:
        return person.pseudonym(insurer)
    return app.signer()._require_account()


@claims.command("sign-enrolment")
@click.argument("plan_id", type=int)
@click.option(
    "--record",
    type=Bytes32Type("record commitment"),
    required=True,
    help="Commitment to the member record (0x + 64 hex).",
)
@click.option("--from-period", type=click.IntRange(0, 2**32 - 1), default=None, help="Default: the current plan year.")
@click.option("--to-period", type=click.IntRange(0, 2**32 - 1), default=None, help="Default: --from-period.")
@click.option("--valid-hours", type=click.IntRange(1, 24 * 30), default=72, show_default=True)
@pass_app
def sign_enrolment(
    app: AppContext, plan_id: int, record: bytes, from_period: int | None, to_period: int | None, valid_hours: int
) -> None:
    """As the member: agree to an enrolment in PLAN_ID; prints the agreement for the insurer.

    A person signs as its plan pseudonym, derived from its one identity for the plan's insurer
    (the address on its card; ``member`` in the output): claims, enrolment and the payment
    consents (``careledger consent grant GRANTEE --plan INSURER ...``) use it, and nothing on
    chain joins it to the pseudonyms the person uses with its providers. Signing is off chain:
    the pseudonym needs no ether."""
    client = _reader(app)
    insurer, _ = client.plan(plan_id)
    if int(insurer, 16) == 0:
        raise InvalidInput(f"no plan {plan_id} on this deployment")
    account = _member_key(app, insurer)
    now = int(client.chain.w3.eth.get_block("latest")["timestamp"])
    first = client.period_at(plan_id, now) if from_period is None else from_period
    last = first if to_period is None else to_period
    deadline = now + valid_hours * 3_600
    member_record = record
    sig = client.sign_enrolment(account, plan_id, member_record, first, last, deadline)
    out = {
        "planId": plan_id,
        "member": account.address,
        "insurer": insurer,
        "record": "0x" + member_record.hex(),
        "fromPeriod": first,
        "toPeriod": last,
        "deadline": deadline,
        "signature": "0x" + sig.hex(),
    }
    app.emit(out, lambda: click.echo(dumps(out)))


@claims.command()
@click.argument("agreement", type=click.Path(path_type=Path))
@pass_app
def enrol(app: AppContext, agreement: Path) -> None:
    """Enrol the member of AGREEMENT (the JSON ``claims sign-enrolment`` printed) as the insurer."""
    from careledger.claims.batchfile import _bytes32

    try:
        a = json.loads(agreement.read_text())
        plan_id, member = int(a["planId"]), str(a["member"])
        first, last, deadline = int(a["fromPeriod"]), int(a["toPeriod"]), int(a["deadline"])
        sig_text = str(a["signature"])
        sig = bytes.fromhex(sig_text.removeprefix("0x"))
        record = _bytes32(str(a["record"]), "record commitment")
    except (OSError, ValueError, KeyError, TypeError):
        raise InvalidInput(f"{agreement} is not an enrolment agreement (claims sign-enrolment --json)") from None
    client = _client(app, "insurer")
    n, receipt = client.enrol(plan_id, member, record, first, last, deadline, sig)
    app.emit({"enrolment": n, **_tx(receipt)}, lambda: click.echo(f"{member} enrolled in plan {plan_id} (#{n})"))


@claims.command()
@click.argument("member", type=ADDRESS)
@click.argument("enrolment", type=click.IntRange(1, 2**32 - 1))
@click.argument("last_period", type=click.IntRange(0, 2**32 - 1))
@pass_app
def terminate(app: AppContext, member: str, enrolment: int, last_period: int) -> None:
    """End ENROLMENT of MEMBER (the plan pseudonym) after plan year LAST_PERIOD, as the plan's
    insurer: shorter only, never before the current year (InvalidTermination)."""
    client = _client(app, "insurer")
    receipt = client.terminate(member, enrolment, last_period)
    app.emit(
        {"member": member, "enrolment": enrolment, "lastPeriod": last_period, **_tx(receipt)},
        lambda: click.echo(f"enrolment {enrolment} of {member} ends after plan year {last_period}"),
    )


@claims.command("void-enrolment")
@click.argument("member", type=ADDRESS)
@click.argument("enrolment", type=click.IntRange(1, 2**32 - 1))
@pass_app
def void_enrolment(app: AppContext, member: str, enrolment: int) -> None:
    """Void ENROLMENT of MEMBER, made by an insurer now suspended, as a directory registrar (the
    member may then enrol elsewhere for the same years; InsurerStillActive otherwise)."""
    client = _client(app, "admin")
    receipt = client.void_enrolment(member, enrolment)
    app.emit(
        {"member": member, "enrolment": enrolment, **_tx(receipt)},
        lambda: click.echo(f"enrolment {enrolment} of {member} voided"),
    )


@claims.command()
@click.argument("plan_id", type=int)
@click.argument("amount", type=AMOUNT)
@click.option("--mint", is_flag=True, help="Devnet only: mint the test tokens first.")
@pass_app
def fund(app: AppContext, plan_id: int, amount: int, mint: bool) -> None:
    """Fund PLAN_ID's pool with AMOUNT tokens (as the insurer)."""
    client = _client(app, "insurer")
    units = amount
    if mint:
        client.mint_test_tokens(client.chain._require_account().address, units)
    receipt = client.fund(plan_id, units)
    pool = client.pool(plan_id)
    app.emit(
        {**_tx(receipt), "pool": pool.to_json()},
        lambda: click.echo(f"pool of plan {plan_id}: funded {pool.funded}, owed {pool.owed}, free {pool.free}"),
    )


@claims.command()
@click.option("--plan", "plan_id", type=int, required=True, help="The member's plan (on the card).")
@click.option("--member", type=ADDRESS, required=True, help="The plan pseudonym on the member's card.")
@click.option("--day", "service_date", required=True, help="Service date, YYYY-MM-DD (stays off chain).")
@click.option(
    "--line", "lines", multiple=True, required=True, help="CODE,UNITS,AMOUNT[,UNIT_ID;...,GTIN] (repeatable)."
)
@click.option(
    "--fhir-claim",
    type=Bytes32Type("FHIR claim commitment"),
    required=True,
    help="Commitment to the off-chain FHIR Claim (0x + 64 hex).",
)
@click.option("--payee", type=ADDRESS, default=None, help="Default: the signer (a provider or pharmacy).")
@click.option("--resubmission", type=click.IntRange(0, 65_535), default=0)
@pass_app
def submit(
    app: AppContext,
    plan_id: int,
    member: str,
    service_date: str,
    lines: tuple[str, ...],
    fhir_claim: bytes,
    payee: str | None,
    resubmission: int,
) -> None:
    """Submit one claim (as a provider, pharmacy, or the insurer for the member)."""
    from careledger.claims.batchfile import parse_day
    from careledger.claims.keys import KeyStore

    client = _client(app, "clinic")
    d = _decimals(client)
    ctx = _context(client, plan_id)
    me = client.chain._require_account().address
    req = ctx.request(
        member,
        payee or me,
        parse_day(service_date),
        tuple(_parse_line(x, d, ctx) for x in lines),
        fhir_claim,
        resubmission,
    )
    res = client.submit(req)
    KeyStore().add_codes(plan_id, sorted(ctx.used))  # the codes billed: their digests read back in 'status'
    app.emit(
        res.to_json(),
        lambda: click.echo(f"claim 0x{res.claim_id.hex()}: {res.status.name}, pays {_fmt(res.amount, d)}"),
    )


@claims.command("submit-batch")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Per-row results (default FILE.results.csv)."
)
@click.option("--batch-size", type=click.IntRange(1, 100), default=100, show_default=True)
@click.option("--plan", "plan_id", type=int, required=True, help="The members' plan (whose code key to use).")
@pass_app
def submit_batch(app: AppContext, file: Path, out: Path | None, batch_size: int, plan_id: int) -> None:
    """Submit the claims of a CSV/JSON FILE in batches; bad rows are reported, not fatal."""
    from rich.progress import Progress

    from careledger.claims.batchfile import load_rows, run_batch_file, write_results
    from careledger.claims.keys import KeyStore

    client = _client(app, "clinic")
    ctx = _context(client, plan_id)
    rows = load_rows(file, client.chain._require_account().address, _decimals(client), ctx)
    KeyStore().add_codes(plan_id, sorted(ctx.used))
    with Progress(transient=True, disable=app.json_output) as bar:
        task = bar.add_task(f"claims from {file.name}", total=len(rows))
        results = run_batch_file(client, rows, batch_size=batch_size, progress=lambda n: bar.advance(task, n))
    target = out or file.with_name(file.name + ".results.csv")
    write_results(target, results)
    resumed = sum(1 for r in results if r.resumed)
    ok = sum(1 for r in results if r.error is None and not r.resumed)
    summary = {
        "rows": len(results),
        "submitted": ok,
        "alreadyOnChain": resumed,
        "refused": len(results) - ok - resumed,
        "results": str(target),
        "errors": [{"line": r.line, "error": r.error} for r in results if r.error],
    }

    def human() -> None:
        click.echo(f"{ok} of {len(results)} rows submitted; results in {target}")
        if resumed:
            click.echo(f"{resumed} rows were already on chain from an earlier run (not sent again)")
        for r in results:
            if r.error:
                click.echo(f"  line {r.line}: {r.error}")

    app.emit(summary, human)


@claims.command()
@click.argument("claim_id", type=CLAIM_ID)
@pass_app
def adjudicate(app: AppContext, claim_id: bytes) -> None:
    """Adjudicate a queued claim by the rules (once the pool can cover it)."""
    client = _client(app, "insurer")
    receipt = client.adjudicate(claim_id)
    status = client.status(claim_id)
    app.emit({**_tx(receipt), "status": status.name}, lambda: click.echo(f"claim 0x{claim_id.hex()}: {status.name}"))


@claims.command()
@click.argument("claim_id", type=CLAIM_ID)
@click.option("--approve", "decision", flag_value="approve", help="Pay what the rules compute.")
@click.option("--partial", "partial", type=AMOUNT, default=None, help="Pay this amount (less than the rules compute).")
@click.option("--deny", "decision", flag_value="deny")
@click.option("--reason", type=click.IntRange(0, 999), default=0, help="X12 CARC (required to deny or reduce).")
@pass_app
def review(app: AppContext, claim_id: bytes, decision: str | None, partial: int | None, reason: int) -> None:
    """Decide a claim in review (as the insurer or its adjuster)."""
    from careledger.claims.types import Decision

    if (decision is None) == (partial is None):
        raise InvalidInput("give exactly one of --approve, --partial AMOUNT, --deny")
    client = _client(app, "insurer")
    cid = claim_id
    if partial is not None:
        receipt = client.review(cid, Decision.PARTIALLY_APPROVE, partial, reason)
    else:
        receipt = client.review(cid, Decision.APPROVE if decision == "approve" else Decision.DENY, 0, reason)
    status = client.status(cid)
    app.emit({**_tx(receipt), "status": status.name}, lambda: click.echo(f"claim 0x{claim_id.hex()}: {status.name}"))


@claims.command()
@click.argument("claim_id", type=CLAIM_ID)
@pass_app
def withdraw(app: AppContext, claim_id: bytes) -> None:
    """Withdraw a claim before a decision (payee or the plan's insurer)."""
    receipt = _client(app, "clinic").withdraw(claim_id)
    app.emit(_tx(receipt), lambda: click.echo(f"claim 0x{claim_id.hex()} withdrawn"))


@claims.command()
@click.argument("claim_id", type=CLAIM_ID)
@pass_app
def appeal(app: AppContext, claim_id: bytes) -> None:
    """Appeal a denied claim (once, within the plan's window)."""
    receipt = _client(app, "clinic").appeal(claim_id)
    app.emit(_tx(receipt), lambda: click.echo(f"claim 0x{claim_id.hex()} appealed: back in review"))


@claims.command()
@click.argument("claim_ids", type=CLAIM_ID, nargs=-1, required=True)
@pass_app
def pay(app: AppContext, claim_ids: tuple[bytes, ...]) -> None:
    """Pay approved claims from the pool (several ids: one batch; a failing payee is skipped)."""
    client = _client(app, "insurer")
    ids = list(claim_ids)
    if len(ids) == 1:
        receipt = client.pay(ids[0])
        paid = 1
    else:
        paid, receipt = client.pay_batch(ids)
    app.emit(
        {**_tx(receipt), "paid": paid, "deferred": len(ids) - paid},
        lambda: click.echo(f"paid {paid} of {len(ids)} claim(s)"),
    )


def _readable(info: Any, codes_file: Path | None, records: str | None) -> tuple[list[str | None], str | None]:
    """What the caller can read of a claim off chain: each line's code (over every key and code
    its key file holds for the plan, plus ``codes_file``, e.g. a public code list), and the
    service date when it holds the committed FHIR Claim in its record store (``records``)."""
    from careledger.audit import load_code_list
    from careledger.claims.keys import KeyStore, service_date_of

    extra: list[str] = []
    if codes_file is not None:
        try:
            extra = load_code_list(codes_file)
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"--codes {codes_file}: {exc}") from None
    reader = KeyStore().reader(info.plan_id, extra)
    codes = [reader.code(ln.code) for ln in info.lines]
    date = None
    if records is not None:
        from careledger.cli.context import record_store

        store = record_store(records)
        found = store.find(info.fhir_claim)
        if found is not None and found["status"] == "stored":
            date = service_date_of(store.read(found["recordId"]))
    return codes, date


@claims.command()
@click.argument("claim_id", type=CLAIM_ID)
@click.argument("to", type=AddressType("new payee"))
@pass_app
def redirect(app: AppContext, claim_id: bytes, to: str) -> None:
    """As the payee of an approved, unpaid claim: have it paid to TO instead (e.g. when the token
    will not deliver to you)."""
    receipt = _client(app, "clinic").redirect_payout(claim_id, to)
    app.emit({**_tx(receipt), "payee": to}, lambda: click.echo(f"claim 0x{claim_id.hex()} pays {to}"))


@claims.command("release-lapsed")
@click.argument("claim_id", type=CLAIM_ID)
@pass_app
def release_lapsed(app: AppContext, claim_id: bytes) -> None:
    """As the plan's insurer: return a payout that could not be delivered for PAYOUT_TIMEOUT (180
    days, no redirect) to the pool's free funds; the claim becomes LAPSED."""
    client = _client(app, "insurer")
    cid = claim_id
    receipt = client.release_lapsed(cid)
    status = client.status(cid)
    app.emit({**_tx(receipt), "status": status.name}, lambda: click.echo(f"claim 0x{claim_id.hex()}: {status.name}"))


@claims.command()
@click.argument("claim_id", type=CLAIM_ID, required=False)
@click.option("--plan", "plan_id", type=int, default=None, help="Show a plan's terms and pool instead.")
@click.option(
    "--codes",
    "codes_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='More codes to read digests back over: {"codes": ["CPT:99213", ...]} (e.g. a public code list).',
)
@click.option(
    "--records",
    envvar="CARELEDGER_RECORDS",
    default=None,
    help="Your record store (careledger records): the service date, when it holds the claim's FHIR Claim.",
)
@pass_app
def status(
    app: AppContext, claim_id: bytes | None, plan_id: int | None, codes_file: Path | None, records: str | None
) -> None:
    """Show a claim (rebuilt from its events) or, with --plan, a plan's pool.

    Each line's code is shown to whoever holds the plan's code key (the key file; the codes of
    its rule tables and those this holder billed), else as ``keyed 0x...``; the service date
    only to whoever holds the committed FHIR Claim (``--records``). Neither is on chain."""
    client = _reader(app)
    if plan_id is not None:
        insurer, terms = client.plan(plan_id)
        if int(insurer, 16) == 0:
            raise InvalidInput(f"no plan {plan_id} on this deployment")
        pool = client.pool(plan_id)
        data = {
            "planId": plan_id,
            "insurer": insurer,
            "terms": {  # token amounts as decimal strings (docs/json.md); the window in seconds
                "deductible": quantity(terms.deductible),
                "annualMax": quantity(terms.annual_max),
                "autoApproveLimit": quantity(terms.auto_approve_limit),
                "appealWindow": terms.appeal_window,
            },
            "pool": pool.to_json(),
        }
        app.emit(data, lambda: click.echo(dumps(data)))
        return
    if claim_id is None:
        raise InvalidInput("give a CLAIM_ID or --plan N")
    info = client.info(claim_id)
    codes, date = _readable(info, codes_file, records)
    data = info.to_json()
    for line, code in zip(data["lines"], codes, strict=True):
        line["serviceCode"] = code  # None: this holder cannot read the digest (no key, unknown code)
    data["serviceDate"] = date
    d = _decimals(client)

    def human() -> None:
        click.echo(
            f"claim 0x{claim_id.hex()}: {info.status.name}, amount {_fmt(info.amount, d)}, payee {info.payee}, "
            f"plan {info.plan_id} year {info.service_period}"
            + (f", service date {date}" if date else " (service date: off chain)")
        )
        for ln, code in zip(info.lines, codes, strict=True):
            units = f" units {', '.join('0x' + u.hex() for u in ln.unit_ids)}" if ln.unit_ids else ""
            click.echo(f"  {code or 'keyed 0x' + ln.code.hex()} x{ln.units}  billed {_fmt(ln.billed, d)}{units}")
        click.echo(f"  history {' -> '.join(e for e, _ in info.history)}")

    app.emit(data, human)


@claims.command("export-fhir")
@click.argument("claim_id", type=CLAIM_ID)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write to a file (default stdout).")
@click.option(
    "--as-claim",
    "codes",
    is_flag=False,
    flag_value="",
    default=None,
    help="Export the FHIR Claim instead, its codes restored with the plan's keys: over the codes of the key file, "
    "or CODE,CODE,... when given.",
)
@click.option("--day", "service_date_text", default=None, help="With --as-claim: the service date (off chain).")
@click.option(
    "--records",
    envvar="CARELEDGER_RECORDS",
    default=None,
    help="With --as-claim and no --day: your record store holding the committed FHIR Claim (its service date).",
)
@pass_app
def export_fhir(
    app: AppContext,
    claim_id: bytes,
    out: Path | None,
    codes: str | None,
    service_date_text: str | None,
    records: str | None,
) -> None:
    """Export the claim's decision as a FHIR R4 ClaimResponse, or (--as-claim, with the plan's code
    keys) the Claim with its codes read back from their digests; validated before writing.

    Every key of the plan in the key file is tried, so a claim made before a key rotation reads
    back with the old key."""
    from careledger.claims.batchfile import parse_day
    from careledger.claims.fhir import claim_resource, claim_response, validate, validate_claim
    from careledger.claims.keys import KeyStore

    client = _reader(app)
    info = client.info(claim_id)
    insurer, _ = client.plan(info.plan_id)
    if codes is not None:
        store = KeyStore()
        if not store.keys(info.plan_id):
            raise InvalidInput(f"no code key for plan {info.plan_id} in {store.path} (the insurer shares it off chain)")
        given = [c.strip() for c in codes.split(",") if c.strip()]
        if given:
            table: dict[bytes, str] = {}
            for key in store.keys(info.plan_id):
                table |= key.codes_of(info.plan_id, given)
        else:
            table = store.reader(info.plan_id).table
        if service_date_text is None:
            date = _readable(info, None, records)[1] if records is not None else None
            if date is None:
                raise InvalidInput(
                    "--as-claim needs --day (the service date from the provider's record) or --records holding "
                    "the committed FHIR Claim"
                )
            service_date_text = date
        resource = claim_resource(
            info, table, parse_day(service_date_text), insurer=insurer, decimals=_decimals(client)
        )
        text = validate_claim(resource).model_dump_json(indent=2)
        if out is not None:
            out.write_text(text + "\n")
            app.emit({"written": str(out), "items": len(resource["item"])}, lambda: click.echo(f"wrote {out}"))
        else:
            click.echo(text)
        return
    block = client.chain.w3.eth.get_block(info.history[-1][1]) if info.history else None
    created = datetime.fromtimestamp(int(block["timestamp"]), UTC) if block else None
    resource = claim_response(info, insurer=insurer, decimals=_decimals(client), created=created)
    model = validate(resource)
    text = model.model_dump_json(indent=2)
    if out is not None:
        out.write_text(text + "\n")
        app.emit({"written": str(out), "outcome": resource["outcome"]}, lambda: click.echo(f"wrote {out}"))
    else:
        click.echo(text)
