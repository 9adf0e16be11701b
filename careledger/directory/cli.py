"""``careledger directory show|register|set-roles|suspend|reinstate|attest-prefix|revoke-prefix|gtin-owner|
propose-rotation|accept-key``."""

from __future__ import annotations

import click

from careledger.cli.context import AppContext, pass_app
from careledger.cli.params import ADDRESS, ROLES, role_names
from careledger.codes import Role


def _client(app: AppContext, signer: str | None = None):  # type: ignore[no-untyped-def]
    from careledger.directory.client import DirectoryClient

    chain = app.signer(default=signer) if signer else app.chain()
    return DirectoryClient(chain, app.deployment())


@click.group()
def directory() -> None:
    """The consortium's participant directory."""


@directory.command()
@click.argument("address", type=ADDRESS)
@pass_app
def show(app: AppContext, address: str) -> None:
    """Show the directory entry of ADDRESS."""
    addr = address  # checked (and a cast name resolved) by the ADDRESS type
    info = _client(app).get(addr)

    client = _client(app)
    current = client.current_key(addr)
    organisation = client.organisation_of(addr)
    data = {**info.to_json(), "organisation": organisation, "currentKey": current}

    def human() -> None:
        if current != addr:
            click.echo(f"{info.address}: retired; organisation {organisation} acts as {current}")
            return
        if not info.registered:
            click.echo(f"{info.address}: not registered")
            return
        state = "SUSPENDED" if info.suspended else "active"
        click.echo(
            f"{info.address}: {', '.join(info.to_json()['roles'])} ({state}), credential {info.credential_commitment}"
        )  # type: ignore[arg-type]

    app.emit(data, human)


@directory.command()
@click.argument("address", type=ADDRESS)
@click.argument("roles", type=ROLES)
@click.option("--credential", required=True, help="Licence / NPI / GLN (committed with a salt, never stored).")
@click.option("--salt", default=None, help="Hex salt for the commitment (random when omitted; keep it).")
@pass_app
def register(app: AppContext, address: str, roles: Role, credential: str, salt: str | None) -> None:
    """Register ADDRESS with ROLES (e.g. pharmacy or provider,relayer)."""
    import secrets

    from careledger.directory.client import credential_commitment
    from careledger.errors import InvalidInput

    addr = address
    flags = roles
    try:
        salt_bytes = bytes.fromhex(salt.removeprefix("0x")) if salt else secrets.token_bytes(32)
    except ValueError:
        raise InvalidInput(f"salt {salt!r} is not hex") from None
    receipt = _client(app, "admin").register(addr, flags, credential_commitment(credential, salt_bytes))
    data = {
        "address": addr,
        "roles": role_names(roles),
        "salt": "0x" + salt_bytes.hex(),
        "tx": receipt["transactionHash"].to_0x_hex(),
    }
    app.emit(
        data,
        lambda: click.echo(
            f"registered {addr} as {role_names(roles)}; keep the salt {data['salt']} with the credential"
        ),
    )


@directory.command("set-roles")
@click.argument("address", type=ADDRESS)
@click.argument("roles", type=ROLES)
@pass_app
def set_roles(app: AppContext, address: str, roles: Role) -> None:
    """Replace the roles of ADDRESS."""
    addr = address
    receipt = _client(app, "admin").set_roles(addr, roles)
    app.emit(
        {"address": addr, "roles": role_names(roles), "tx": receipt["transactionHash"].to_0x_hex()},
        lambda: click.echo(f"{addr} now holds {role_names(roles)}"),
    )


@directory.command()
@click.argument("address", type=ADDRESS)
@click.option("--reason", required=True, help="A short reason code (max 32 bytes), e.g. LICENCE-LAPSED.")
@pass_app
def suspend(app: AppContext, address: str, reason: str) -> None:
    """Suspend ADDRESS in every role."""
    from careledger.errors import InvalidInput

    if len(reason.encode()) > 32:
        raise InvalidInput(f"reason code {reason!r} is longer than 32 bytes; use a short code")
    addr = address
    receipt = _client(app, "admin").suspend(addr, reason)
    app.emit(
        {"address": addr, "suspended": True, "tx": receipt["transactionHash"].to_0x_hex()},
        lambda: click.echo(f"{addr} suspended ({reason})"),
    )


@directory.command()
@click.argument("address", type=ADDRESS)
@pass_app
def reinstate(app: AppContext, address: str) -> None:
    """Lift the suspension of ADDRESS."""
    addr = address
    receipt = _client(app, "admin").reinstate(addr)
    app.emit(
        {"address": addr, "suspended": False, "tx": receipt["transactionHash"].to_0x_hex()},
        lambda: click.echo(f"{addr} reinstated"),
    )


@directory.command("propose-rotation")
@click.argument("old_key", type=ADDRESS)
@click.argument("new_key", type=ADDRESS)
@pass_app
def propose_rotation(app: AppContext, old_key: str, new_key: str) -> None:
    """Propose moving the organisation acting as OLD_KEY to NEW_KEY (a registrar; with a consortium,
    use 'gov propose rotate-key'). NEW_KEY then runs 'directory accept-key OLD_KEY'."""
    old, new = old_key, new_key
    receipt = _client(app, "admin").propose_rotation(old, new)
    app.emit(
        {"oldKey": old, "newKey": new, "tx": receipt["transactionHash"].to_0x_hex()},
        lambda: click.echo(f"proposed: {old} -> {new}; {new} must now run 'directory accept-key {old}'"),
    )


@directory.command("accept-key")
@click.argument("old_key", type=ADDRESS)
@pass_app
def accept_key(app: AppContext, old_key: str) -> None:
    """As the proposed new key (--account / CARELEDGER_PRIVATE_KEY), take the organisation over
    from OLD_KEY: its roles follow, and OLD_KEY is refused everywhere from now on."""
    from careledger.directory.client import DirectoryClient
    from careledger.errors import InvalidInput

    old = old_key
    chain = app.signer()
    if chain.account is None:
        raise InvalidInput("accept-key signs with the new key: give --account or set CARELEDGER_PRIVATE_KEY")
    client = DirectoryClient(chain, app.deployment())
    receipt = client.accept_rotation(old)
    new = chain.account.address
    organisation = client.organisation_of(new)
    app.emit(
        {"oldKey": old, "newKey": new, "organisation": organisation, "tx": receipt["transactionHash"].to_0x_hex()},
        lambda: click.echo(f"{new} now acts for organisation {organisation}; {old} is retired"),
    )


@directory.command("attest-prefix")
@click.argument("address", type=ADDRESS)
@click.argument("prefix")
@click.option("--evidence", required=True, help="The GS1 licence record checked (hashed; never stored in clear).")
@pass_app
def attest_prefix(app: AppContext, address: str, prefix: str, evidence: str) -> None:
    """Attest that the GS1 company PREFIX (6-12 digits) belongs to the manufacturer ADDRESS (registrar)."""
    from eth_utils.crypto import keccak

    from careledger.directory.client import parse_prefix

    addr = address
    parse_prefix(prefix)  # before any node is contacted
    receipt = _client(app, "admin").attest_prefix(addr, prefix, keccak(text=evidence))
    app.emit(
        {"owner": addr, "companyPrefix": prefix, "gasUsed": receipt["gasUsed"]},
        lambda: click.echo(f"company prefix {prefix} attested to {addr}"),
    )


@directory.command("revoke-prefix")
@click.argument("prefix")
@click.option("--reason", required=True, help="A short reason code (max 32 bytes), e.g. LICENCE-LAPSED.")
@pass_app
def revoke_prefix(app: AppContext, prefix: str, reason: str) -> None:
    """Withdraw the attestation of the GS1 company PREFIX (registrar)."""
    from careledger.directory.client import parse_prefix
    from careledger.provenance.client import code32

    parse_prefix(prefix)
    receipt = _client(app, "admin").revoke_prefix(prefix, code32(reason))
    app.emit(
        {"companyPrefix": prefix, "revoked": True, "gasUsed": receipt["gasUsed"]},
        lambda: click.echo(f"company prefix {prefix} revoked"),
    )


@directory.command("gtin-owner")
@click.argument("gtin")
@pass_app
def gtin_owner(app: AppContext, gtin: str) -> None:
    """Who owns GTIN: the manufacturer its company prefix is attested to."""
    from careledger.provenance.gs1 import _check_gtin

    number = int(_check_gtin(gtin))
    found = _client(app).gtin_owner(number)
    app.emit(
        {"gtin": f"{number:014d}", **found.to_json()},
        lambda: click.echo(
            f"{number:014d}: company prefix {found.prefix} owned by {found.owner}"
            if found.owner
            else f"{number:014d}: no company prefix attested"
        ),
    )
