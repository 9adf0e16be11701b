"""``careledger consent recovery set-guardians|guardian-address|approve|start|cancel|execute|move|status``:
recovering a patient pseudonym whose key is lost (docs/consent.md, "Recovery"). Thin: the work is
in :mod:`careledger.consent.recovery`.

Who acts: the person (``--person NAME`` on a devnet, else ``$CARELEDGER_PATIENT_MNEMONIC``) signs
as their pseudonym for COUNTERPARTY, or, for ``approve`` and ``guardian-address``, as a guardian
(their own pseudonym for the ward); the new seed (``--new-person NAME``, else
``$CARELEDGER_NEW_MNEMONIC``) signs as the successor. The transaction is sent by ``--account``
(default on a devnet: ``relayer``), which must be an active relayer: pseudonyms hold no ether.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from careledger.cli.context import AppContext, pass_app
from careledger.errors import InvalidInput
from careledger.exactjson import dumps

__all__ = ["recovery"]

DAY = 86_400

_PERSON = click.option("--person", default=None, help="Devnet person acting (default: $CARELEDGER_PATIENT_MNEMONIC).")
_PLAN = click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The private recovery plan file (it links your pseudonyms: keep it like your mnemonic).",
)


def _identity(app: AppContext, name: str | None, env: str) -> Any:
    from careledger.accounts import PersonIdentity, dev_person
    from careledger.devchain import require_devnet

    if name is not None:
        try:
            person = dev_person(name)
        except KeyError:
            raise InvalidInput(f"{name!r} is not a devnet person (patient, patient2)") from None
        chain = app.chain()
        require_devnet(chain.is_devnet(), f"devnet person {name!r}", chain.chain_id, f"set {env}")
        return person
    mnemonic = os.environ.get(env)
    if not mnemonic:
        raise InvalidInput(f"name a devnet person or set {env}")
    prefix = env.removesuffix("_MNEMONIC")
    return PersonIdentity(
        mnemonic, int(os.environ.get(f"{prefix}_IDENTITY", "0")), os.environ.get(f"{prefix}_PASSPHRASE", "")
    )


def _client(app: AppContext) -> Any:
    from careledger.consent.recovery import RecoveryClient

    return RecoveryClient(app.signer(default="relayer"), app.deployment())


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read the {what} {path}: {exc}") from None


def _load_plan(path: Path) -> Any:
    from careledger.consent.recovery import RecoveryPlan

    return RecoveryPlan.from_json(_read_json(path, "recovery plan")) if path.exists() else RecoveryPlan(())


def _entry(plan: Any, counterparty: str) -> tuple[str, Any]:
    for c, pseudonym, gset in plan.entries:
        if c == counterparty:
            return pseudonym, gset
    raise InvalidInput(f"the recovery plan has no guardians for counterparty {counterparty}")


@click.group()
def recovery() -> None:
    """Recover a pseudonym whose key is lost: guardians (M-of-N, M >= 2) approve, a delay lets the
    real key cancel, then the successor (the new seed's pseudonym) moves the consents."""


@recovery.command("guardian-address")
@click.argument("ward")
@_PERSON
@pass_app
def guardian_address_cmd(app: AppContext, ward: str, person: str | None) -> None:
    """The address to give WARD (a pseudonym you guard): your own pseudonym for it."""
    from careledger.consent.recovery import guardian_address

    me = _identity(app, person, "CARELEDGER_PATIENT_MNEMONIC")
    w = app.address(ward, "ward")
    app.emit({"ward": w, "guardian": guardian_address(me, w)})


@recovery.command("set-guardians")
@click.argument("counterparty")
@click.option("--guardian", "guardians", multiple=True, required=True, help="A guardian's address for this pseudonym.")
@click.option("--threshold", type=int, required=True, help="Approvals needed (at least 2).")
@click.option("--delay-days", type=float, default=7.0, show_default=True, help="Days the real key has to cancel.")
@_PLAN
@_PERSON
@pass_app
def set_guardians_cmd(
    app: AppContext,
    counterparty: str,
    guardians: tuple[str, ...],
    threshold: int,
    delay_days: float,
    plan_path: Path,
    person: str | None,
) -> None:
    """Commit your pseudonym for COUNTERPARTY to a guardian set (only its hash goes on chain) and
    record it in the plan file."""
    from careledger.consent.recovery import GuardianSet, RecoveryPlan

    me = _identity(app, person, "CARELEDGER_PATIENT_MNEMONIC")
    cp = app.address(counterparty, "counterparty")
    gset = GuardianSet.of([app.address(g, "guardian") for g in guardians], threshold, round(delay_days * DAY))
    key = me.pseudonym(cp)
    client = _client(app)
    msg, sig = client.sign_set_guardians(key, gset)
    tx = client.set_guardians(msg, sig)["transactionHash"].to_0x_hex()
    plan = _load_plan(plan_path)
    entries = (*(e for e in plan.entries if e[0] != cp), (cp, key.address, gset))
    plan_path.write_text(dumps(RecoveryPlan(entries).to_json()) + "\n")
    app.emit({"patient": key.address, "guardiansHash": gset.hash, **gset.to_json(), "tx": tx})


@recovery.command("approve")
@click.argument("ward")
@click.argument("successor")
@click.option("--deadline", type=int, required=True, help="Unix time the approval expires (at most one day ahead).")
@_PERSON
@pass_app
def approve_cmd(app: AppContext, ward: str, successor: str, deadline: int, person: str | None) -> None:
    """As a guardian of WARD, approve its recovery to SUCCESSOR (prints the approval to pass on)."""
    me = _identity(app, person, "CARELEDGER_PATIENT_MNEMONIC")
    w, s = app.address(ward, "ward"), app.address(successor, "successor")
    approval = _client(app).approval(me.pseudonym(w), w, s, deadline)
    app.emit(approval.to_json())


@recovery.command("start")
@click.argument("counterparty")
@click.option(
    "--approval",
    "approval_files",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A guardian's approval file (from `approve`); at least the threshold.",
)
@_PLAN
@pass_app
def start_cmd(app: AppContext, counterparty: str, approval_files: tuple[Path, ...], plan_path: Path) -> None:
    """Start the recovery of your pseudonym for COUNTERPARTY with the guardians' approvals."""
    from careledger.consent.recovery import Approval

    cp = app.address(counterparty, "counterparty")
    lost, gset = _entry(_load_plan(plan_path), cp)
    approvals = [Approval.from_json(_read_json(p, "approval")) for p in approval_files]
    if any(a.patient != lost for a in approvals):
        raise InvalidInput(f"an approval is not for {lost}, your pseudonym for {cp}")
    client = _client(app)
    receipt = client.start_with(gset, approvals)
    from web3.logs import DISCARD

    ev = client.contract.events.RecoveryStarted().process_receipt(receipt, errors=DISCARD)[0]["args"]
    app.emit(
        {
            "patient": lost,
            "successor": str(ev["successor"]),
            "executableAt": int(ev["executableAt"]),
            "approvals": int(ev["approvals"]),
            "tx": receipt["transactionHash"].to_0x_hex(),
        }
    )


@recovery.command("cancel")
@click.argument("counterparty")
@_PERSON
@pass_app
def cancel_cmd(app: AppContext, counterparty: str, person: str | None) -> None:
    """With the real key: cancel a recovery of your pseudonym for COUNTERPARTY (approvals void)."""
    me = _identity(app, person, "CARELEDGER_PATIENT_MNEMONIC")
    key = me.pseudonym(app.address(counterparty, "counterparty"))
    client = _client(app)
    msg, sig = client.sign_cancel(key)
    tx = client.cancel(msg, sig)["transactionHash"].to_0x_hex()
    app.emit({"patient": key.address, "cancelled": True, "tx": tx})


@recovery.command("execute")
@click.argument("patient")
@pass_app
def execute_cmd(app: AppContext, patient: str) -> None:
    """Execute the pending recovery of PATIENT once its delay is over (anyone may)."""
    client = _client(app)
    p = app.address(patient, "patient")
    tx = client.execute(p)["transactionHash"].to_0x_hex()
    app.emit({"patient": p, "successor": client.successor_of(p), "tx": tx})


@recovery.command("move")
@click.argument("counterparty", required=False)
@_PLAN
@click.option("--all", "move_all", is_flag=True, help="Every counterparty of the plan whose recovery was executed.")
@click.option("--new-person", default=None, help="Devnet person of the new seed (else $CARELEDGER_NEW_MNEMONIC).")
@click.option("--spread", type=float, default=0.0, help="Seconds to wait between two moves (timing linkage).")
@pass_app
def move_cmd(
    app: AppContext, counterparty: str | None, plan_path: Path, move_all: bool, new_person: str | None, spread: float
) -> None:
    """As the successor (the new seed's pseudonym for COUNTERPARTY), move every live consent of
    the retired pseudonym; with --all, for every counterparty of the plan already recovered to
    the new seed (moves in one burst link those pseudonyms by timing: use --spread, or run it per
    counterparty on different days)."""
    if (counterparty is None) == (not move_all):
        raise InvalidInput("give a COUNTERPARTY or --all")
    new = _identity(app, new_person, "CARELEDGER_NEW_MNEMONIC")
    plan = _load_plan(plan_path)
    client = _client(app)
    if counterparty is not None:
        cp = app.address(counterparty, "counterparty")
        todo = [(cp, _entry(plan, cp)[0])]
    else:
        todo = [(c, lost) for c, lost, _ in plan.entries if client.successor_of(lost) == new.address_for(c)]
        if not todo:
            raise InvalidInput("no pseudonym of the plan has been recovered to this new seed yet")
    out = []
    for cp, lost in todo:
        key = new.pseudonym(cp)
        out.append({"counterparty": cp, "lost": lost, "successor": key.address,
                    "moved": client.move_all(key, lost, spread=spread)})  # fmt: skip
    app.emit(out[0] if counterparty is not None else out)


@recovery.command("status")
@click.argument("patient")
@pass_app
def status_cmd(app: AppContext, patient: str) -> None:
    """Guardian commitment, pending recovery, nonce and successor of PATIENT."""
    from careledger.consent.recovery import RecoveryClient

    client = RecoveryClient(app.chain(), app.deployment())
    app.emit(client.status(app.address(patient, "patient")))
