"""``careledger records store|show|erase|find``: the off-chain encrypted record store."""

from __future__ import annotations

from pathlib import Path

import click

from careledger.cli.context import AppContext, pass_app, record_store

__all__ = ["records"]


_STORE_OPT = click.option(
    "--store",
    "folder",
    envvar="CARELEDGER_RECORDS",
    default=None,
    help="Record store folder (default: .records/ in the checkout).",
)


@click.group()
def records() -> None:
    """Encrypted off-chain records: per-record key, salted commitment on chain, crypto-shredding."""


@records.command("store")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_STORE_OPT
@pass_app
def store_cmd(app: AppContext, file: Path, folder: str | None) -> None:
    """Encrypt FILE into the store; print its id and the commitment to put on chain."""
    store = record_store(folder)
    ref = store.store(file.read_bytes())
    app.emit(ref.to_json(), lambda: click.echo(f"stored record {ref.record_id}\ncommitment 0x{ref.commitment.hex()}"))


@records.command("show")
@click.argument("record_id")
@click.option("--decrypt", is_flag=True, help="Write the decrypted content to stdout (else metadata only).")
@_STORE_OPT
@pass_app
def show_cmd(app: AppContext, record_id: str, decrypt: bool, folder: str | None) -> None:
    """Show a record's status and commitment (or its content with --decrypt)."""
    store = record_store(folder)
    if decrypt:
        click.get_binary_stream("stdout").write(store.read(record_id))
        return
    info = store.info(record_id)
    app.emit(info, lambda: click.echo("\n".join(f"{k}: {v}" for k, v in info.items())))


@records.command("erase")
@click.argument("record_id")
@_STORE_OPT
@pass_app
def erase_cmd(app: AppContext, record_id: str, folder: str | None) -> None:
    """Crypto-shred a record: destroy its key and salt, keep a tombstone (GDPR Art. 17)."""
    store = record_store(folder)
    out = store.erase(record_id)
    app.emit(
        out,
        lambda: click.echo(
            f"erased record {record_id}: key and salt destroyed; the on-chain commitment "
            f"{out['commitment']} now links to nothing"
        ),
    )


@records.command("find")
@click.argument("commitment")
@_STORE_OPT
@pass_app
def find_cmd(app: AppContext, commitment: str, folder: str | None) -> None:
    """Which record an on-chain commitment refers to, if any."""
    from careledger.errors import InvalidInput, NotVerified

    try:
        raw = bytes.fromhex(commitment.removeprefix("0x"))
    except ValueError:
        raise InvalidInput(f"commitment {commitment!r} is not hex") from None
    if len(raw) != 32:
        raise InvalidInput("a commitment is 32 bytes")
    store = record_store(folder)
    found = store.find(raw)
    if found is None:
        raise NotVerified(f"commitment {commitment} links to no record in this store")
    app.emit(found, lambda: click.echo("\n".join(f"{k}: {v}" for k, v in found.items())))
