"""``careledger gateway serve|put|erase|pointer|read``: the provider record gateway (issue #19).

The provider runs ``serve`` (and ``put``/``erase`` against the same database and key file); a
requester runs ``read`` with the pointer the patient handed over; the patient's app makes the
pointer (``pointer``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from careledger.cli.context import AppContext, pass_app
from careledger.cli.params import CATEGORY, PURPOSE, AddressType

if TYPE_CHECKING:
    from careledger.codes import Category, Purpose

__all__ = ["gateway"]

TOKEN_ENV = "CARELEDGER_GATEWAY_TOKEN"
PASSPHRASE_ENV = "CARELEDGER_GATEWAY_PASSPHRASE"


def _store(db: str | None, keys: str | None) -> Any:
    from careledger.cli.context import ask_passphrase
    from careledger.gateway.store import GatewayStore

    passphrase = ask_passphrase(PASSPHRASE_ENV, "the gateway's record keys")
    return GatewayStore(db, Path(keys) if keys else None, passphrase)


_DB = click.option(
    "--db",
    envvar="CARELEDGER_GATEWAY_DB",
    default=None,
    help="SQLite file or postgresql:// URL (default: .gateway/records.sqlite in the checkout).",
)
_KEYS = click.option(
    "--keys",
    envvar="CARELEDGER_GATEWAY_KEYS",
    default=None,
    help="Sealed key file, kept apart from the database (default: .gateway/records.keys).",
)


def _gateway(app: AppContext, db: str | None, keys: str | None) -> Any:
    from careledger.gateway.app import Gateway

    return Gateway(app.signer(default="clinic"), app.deployment(), _store(db, keys))


@click.group()
def gateway() -> None:
    """Provider record gateway: FHIR records anchored on chain, read only under consent."""


@gateway.command("serve")
@_DB
@_KEYS
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default).")
@click.option("--port", default=8700, show_default=True, type=click.IntRange(1, 65535))
@pass_app
def serve(app: AppContext, db: str | None, keys: str | None, host: str, port: int) -> None:
    """Serve POST /read (signed requests), the provider's /records endpoints (bearer token from
    $CARELEDGER_GATEWAY_TOKEN) and /.well-known/careledger-gateway; signs as --account (default: clinic)."""
    from careledger._extras import needs_extra
    from careledger.devnet import port_in_use
    from careledger.errors import EnvironmentProblem, InvalidInput
    from careledger.gateway.app import create_app

    with needs_extra("gateway", "careledger gateway serve"):
        import uvicorn

    token = os.environ.get(TOKEN_ENV, "")
    if len(token) < 16:
        raise InvalidInput(f"set ${TOKEN_ENV} to an admin token of at least 16 characters")
    gw = _gateway(app, db, keys)
    if port_in_use(host, port):
        raise EnvironmentProblem(f"port {port} on {host} is already taken; pass --port")
    click.echo(f"record gateway of {gw.address} on chain {gw.chain.chain_id}; http://{host}:{port}", err=True)
    uvicorn.run(create_app(gw, token), host=host, port=port, log_level="warning")


@gateway.command("put")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--pseudonym",
    type=AddressType("pseudonym"),
    required=True,
    help="The patient's pairwise pseudonym for this provider.",
)
@_DB
@_KEYS
@pass_app
def put(app: AppContext, file: Path, pseudonym: str, db: str | None, keys: str | None) -> None:
    """Validate a FHIR R4 resource (JSON FILE), store it encrypted and anchor its commitment."""
    from careledger.errors import InvalidInput

    try:
        resource = json.loads(file.read_text())
    except ValueError as exc:
        raise InvalidInput(f"{file} is not JSON: {exc}") from None
    out = _gateway(app, db, keys).put(pseudonym, resource)
    app.emit(out, lambda: click.echo(f"stored and anchored record {out['recordId']} ({out['category']})"))


@gateway.command("erase")
@click.argument("record_id")
@click.option("--reason", default="patient request (GDPR Art. 17)", show_default=True)
@_DB
@_KEYS
@pass_app
def erase(app: AppContext, record_id: str, reason: str, db: str | None, keys: str | None) -> None:
    """Crypto-shred a record: destroy its key, salt and ciphertext; keep the audit entry."""
    out = _gateway(app, db, keys).erase(record_id, reason)
    app.emit(out, lambda: click.echo(f"erased record {record_id}; its anchor {out['commitment']} links to nothing"))


@gateway.command("pointer")
@click.argument("url")
@click.option(
    "--pseudonym",
    type=AddressType("pseudonym"),
    required=True,
    help="The pseudonym the gateway holds the records under.",
)
@click.option("--fhir", "as_fhir", is_flag=True, help="Print a FHIR R4 Endpoint instead of the pointer string.")
@pass_app
def pointer(app: AppContext, url: str, pseudonym: str, as_fhir: bool) -> None:
    """The pointer a patient hands a requester (gateway URL + pseudonym); nothing goes on chain."""
    from careledger.gateway.protocol import endpoint_resource, pointer_string

    p = pseudonym
    if as_fhir:
        resource = endpoint_resource(url, p)
        app.emit(resource, lambda: click.echo(json.dumps(resource, indent=2)))
        return
    text = pointer_string(url, p)
    app.emit({"pointer": text}, lambda: click.echo(text))


@gateway.command("read")
@click.argument("pointer_text", metavar="POINTER")
@click.option("--category", type=CATEGORY, required=True, help="Category name, e.g. DIAGNOSTIC_REPORT.")
@click.option("--purpose", type=PURPOSE, default="TREAT", show_default=True, help="Purpose name, e.g. TREAT, ETREAT.")
@click.option(
    "--grantor",
    type=AddressType("grantor"),
    default=None,
    help="The patient address whose consent allows the read (default: the pseudonym).",
)
@click.option(
    "--link",
    "link_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The patient's pointer link (JSON: expires, signature) when the grantor is another pseudonym.",
)
@pass_app
def read(
    app: AppContext,
    pointer_text: str,
    category: Category,
    purpose: Purpose,
    grantor: str | None,
    link_file: Path | None,
) -> None:
    """As a requester (--account): record the access on chain, fetch, decrypt and verify."""
    from careledger.gateway.client import GatewayReader, Link
    from careledger.gateway.protocol import parse_pointer

    url, pseudonym = parse_pointer(pointer_text)
    reader = GatewayReader(app.signer(), app.deployment())
    link = None
    if link_file is not None:
        data = json.loads(link_file.read_text())
        link = Link(
            data["gateway"],
            data["pseudonym"],
            data["grantor"],
            data["requester"],
            int(data["expires"]),
            bytes.fromhex(str(data["signature"])[2:]),
        )
    out = reader.read(url, pseudonym, category, purpose, grantor=grantor, link=link)
    app.emit(out, lambda: click.echo(f"{out['count']} record(s), verified against their anchors"))
