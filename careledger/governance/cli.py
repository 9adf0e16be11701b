"""``careledger gov propose|approve|execute|list|status``: consortium decisions.

Members act with their own key (``--account``). An ordinary decision (register, set roles,
reinstate, admit or expel a member, resume a paused contract) passes when the council's quorum
voted for it, is then queued and runs after the timelock's delay; an emergency one (suspend, pause
a contract, cancel a queued decision) passes at the emergency quorum and runs at once.
"""

from __future__ import annotations

from typing import Any

import click

from careledger.cli.context import AppContext, pass_app
from careledger.cli.params import ADDRESS, ROLES
from careledger.codes import Role
from careledger.governance import PAUSABLE


def _client(app: AppContext, *, signing: bool = False) -> Any:
    from careledger.governance.client import GovernanceClient

    chain = app.signer() if signing else app.chain()
    return GovernanceClient(chain, app.deployment())


def _proposal_id(text: str) -> int:
    from careledger.errors import InvalidInput

    try:
        value = int(text, 0) if text.lower().startswith("0x") else int(text)
    except ValueError:
        raise InvalidInput(f"proposal id {text!r} is not a number (decimal or 0x hex)") from None
    if not 0 <= value < 2**256:
        raise InvalidInput(f"proposal id {text!r} is out of range")
    return value


def _describe(info: Any) -> str:
    from careledger.exactjson import uint_id

    first = info.description.splitlines()[0] if info.description else "(no description)"
    when = f", runs from {info.eta}" if info.eta else ""
    return (
        f"{uint_id(info.proposal_id)} [{info.council.name.lower()}] {info.state.name.lower()}: {first} "
        f"({info.votes_for}/{info.quorum} for, {info.votes_against} against{when})"
    )


@click.group()
def gov() -> None:
    """Consortium decisions: propose, approve, execute, list."""


@gov.group()
def propose() -> None:
    """Put a decision to the council (members only; your vote is not cast by proposing)."""


def _submit(app: AppContext, build: Any, note: str) -> None:
    from careledger.exactjson import uint_id

    client = _client(app, signing=True)
    calls = build(client)
    council, proposal_id, receipt = client.propose(calls, note=note)
    data = {
        "council": council.name.lower(),
        "proposalId": uint_id(proposal_id),
        "actions": [c.summary for c in calls],
        "tx": receipt["transactionHash"].to_0x_hex(),
    }
    app.emit(
        data,
        lambda: click.echo(
            f"proposed to the {council.name.lower()} council: {'; '.join(data['actions'])}\n"
            f"proposal {data['proposalId']}: members approve with 'careledger gov approve {data['proposalId']}'"
        ),
    )


_note = click.option("--note", default="", help="A line for the other members (public on chain: no personal data).")


@propose.command("register")
@click.argument("address", type=ADDRESS)
@click.argument("roles", type=ROLES)
@click.option("--credential", required=True, help="Licence / NPI / GLN (committed with a salt, never stored).")
@click.option("--salt", default=None, help="Hex salt for the commitment (random when omitted; keep it).")
@_note
@pass_app
def propose_register(app: AppContext, address: str, roles: Role, credential: str, salt: str | None, note: str) -> None:
    """Propose registering ADDRESS with ROLES (e.g. pharmacy or provider,relayer)."""
    import secrets

    from careledger.directory.client import credential_commitment
    from careledger.errors import InvalidInput

    addr, flags = address, roles
    try:
        salt_bytes = bytes.fromhex(salt.removeprefix("0x")) if salt else secrets.token_bytes(32)
    except ValueError:
        raise InvalidInput(f"salt {salt!r} is not hex") from None
    commitment = credential_commitment(credential, salt_bytes)
    if not salt:
        click.echo(f"credential salt (keep it with the credential): 0x{salt_bytes.hex()}", err=True)
    _submit(app, lambda c: [c.register(addr, flags, commitment)], note)


@propose.command("set-roles")
@click.argument("address", type=ADDRESS)
@click.argument("roles", type=ROLES)
@_note
@pass_app
def propose_set_roles(app: AppContext, address: str, roles: Role, note: str) -> None:
    """Propose replacing the roles of ADDRESS."""
    addr, flags = address, roles
    _submit(app, lambda c: [c.set_roles(addr, flags)], note)


@propose.command("reinstate")
@click.argument("address", type=ADDRESS)
@_note
@pass_app
def propose_reinstate(app: AppContext, address: str, note: str) -> None:
    """Propose lifting the suspension of ADDRESS."""
    addr = address
    _submit(app, lambda c: [c.reinstate(addr)], note)


@propose.command("suspend")
@click.argument("address", type=ADDRESS)
@click.option("--reason", required=True, help="A short reason code (max 32 bytes), e.g. LICENCE-LAPSED.")
@_note
@pass_app
def propose_suspend(app: AppContext, address: str, reason: str, note: str) -> None:
    """Propose suspending ADDRESS at once (emergency council)."""
    addr = address
    _submit(app, lambda c: [c.suspend(addr, reason)], note)


@propose.command("rotate-key")
@click.argument("old_key", type=ADDRESS)
@click.argument("new_key", type=ADDRESS)
@_note
@pass_app
def propose_rotate_key(app: AppContext, old_key: str, new_key: str, note: str) -> None:
    """Propose moving the organisation acting as OLD_KEY to NEW_KEY (ordinary council); once it has
    run, NEW_KEY takes over with 'directory accept-key OLD_KEY'."""
    old, new = old_key, new_key
    _submit(app, lambda c: [c.rotate_key(old, new)], note)


@propose.command("pause")
@click.argument("contract", type=click.Choice(sorted(PAUSABLE)))
@_note
@pass_app
def propose_pause(app: AppContext, contract: str, note: str) -> None:
    """Propose pausing CONTRACT at once (emergency council): what it stops is in docs/governance.md."""
    _submit(app, lambda c: [c.pause(contract)], note)


@propose.command("unpause")
@click.argument("contract", type=click.Choice(sorted(PAUSABLE)))
@_note
@pass_app
def propose_unpause(app: AppContext, contract: str, note: str) -> None:
    """Propose resuming a paused CONTRACT (ordinary council: it runs after the timelock's delay)."""
    _submit(app, lambda c: [c.unpause(contract)], note)


@propose.command("attest-prefix")
@click.argument("address", type=ADDRESS)
@click.argument("prefix")
@click.option(
    "--evidence", required=True, help="Reference of the GS1 licence checked off chain (committed, never stored)."
)
@_note
@pass_app
def propose_attest_prefix(app: AppContext, address: str, prefix: str, evidence: str, note: str) -> None:
    """Propose binding the GS1 company PREFIX to the manufacturer ADDRESS."""
    from eth_utils.crypto import keccak

    from careledger.directory.client import parse_prefix

    addr = address
    parse_prefix(prefix)
    _submit(app, lambda c: [c.attest_prefix(addr, prefix, keccak(text=evidence))], note)


@propose.command("revoke-prefix")
@click.argument("prefix")
@click.option("--reason", required=True, help="A short reason code (max 32 bytes), e.g. LICENCE-LAPSED.")
@_note
@pass_app
def propose_revoke_prefix(app: AppContext, prefix: str, reason: str, note: str) -> None:
    """Propose withdrawing the attestation of the GS1 company PREFIX."""
    from careledger.directory.client import parse_prefix
    from careledger.provenance.client import code32

    parse_prefix(prefix)
    _submit(app, lambda c: [c.revoke_prefix(prefix, code32(reason))], note)


@propose.command("admit")
@click.argument("member", type=ADDRESS)
@_note
@pass_app
def propose_admit(app: AppContext, member: str, note: str) -> None:
    """Propose admitting MEMBER to the consortium (one vote)."""
    addr = member
    _submit(app, lambda c: [c.admit(addr)], note)


@propose.command("expel")
@click.argument("member", type=ADDRESS)
@_note
@pass_app
def propose_expel(app: AppContext, member: str, note: str) -> None:
    """Propose expelling MEMBER from the consortium."""
    addr = member
    _submit(app, lambda c: [c.expel(addr)], note)


@propose.command("cancel")
@click.argument("proposal_id")
@_note
@pass_app
def propose_cancel(app: AppContext, proposal_id: str, note: str) -> None:
    """Propose cancelling a queued ordinary decision during its delay (emergency council)."""
    pid = _proposal_id(proposal_id)
    _submit(app, lambda c: [c.cancel_queued(pid)], note)


@gov.command()
@click.argument("proposal_id")
@click.option("--against", is_flag=True, help="Vote against instead of for.")
@click.option("--reason", default="", help="A short public reason for the vote (no personal data).")
@pass_app
def approve(app: AppContext, proposal_id: str, against: bool, reason: str) -> None:
    """Vote for (or --against) PROPOSAL_ID with your member key."""
    pid = _proposal_id(proposal_id)
    client = _client(app, signing=True)
    receipt = client.vote(pid, support=not against, reason=reason)
    info = client.proposal(pid)
    app.emit(
        {**info.to_json(), "tx": receipt["transactionHash"].to_0x_hex()},
        lambda: click.echo(_describe(info)),
    )


@gov.command()
@click.argument("proposal_id")
@pass_app
def execute(app: AppContext, proposal_id: str) -> None:
    """Queue a passed ordinary decision, or run one that is ready (anyone may)."""
    pid = _proposal_id(proposal_id)
    client = _client(app, signing=True)
    done, receipt = client.execute(pid)
    info = client.proposal(pid)
    app.emit(
        {"done": done, **info.to_json(), "tx": receipt["transactionHash"].to_0x_hex()},
        lambda: click.echo(f"{done}: {_describe(info)}"),
    )


@gov.command("list")
@click.option("--council", type=click.Choice(["ordinary", "emergency"]), default=None)
@pass_app
def list_(app: AppContext, council: str | None) -> None:
    """Every proposal of the councils, with its state and votes."""
    from careledger.governance.client import Council

    client = _client(app)
    which = Council[council.upper()] if council else None
    found = client.proposals(which)

    def human() -> None:
        if not found:
            click.echo("no proposals")
        for info in found:
            click.echo(_describe(info))

    app.emit([p.to_json() for p in found], human)


@gov.command()
@pass_app
def status(app: AppContext) -> None:
    """Who holds which power: the directory's and the timelock's roles, the members."""
    from careledger.governance.client import paused_contracts
    from careledger.governance.consortium import power_holders

    holders = power_holders(app.chain().w3)
    config = app.deployment().config.get("consortium")
    paused = paused_contracts(app.chain(), app.deployment())
    data = {"consortium": config, "roles": holders, "paused": paused}

    def human() -> None:
        if config:
            click.echo(
                f"consortium: {len(config['members'])} members, quorum {config['quorum']}, emergency quorum "
                f"{config['emergencyQuorum']}, delay {config['delaySeconds']} s"
            )
        else:
            click.echo("no consortium: the deployer's key holds the directory's roles (devnet only)")
        for contract, roles in holders.items():
            for role, accounts in roles.items():
                click.echo(f"{contract} {role}: {', '.join(accounts)}")
        for contract, stopped in paused.items():
            click.echo(f"{contract}: {'PAUSED' if stopped else 'running'}")

    app.emit(data, human)
