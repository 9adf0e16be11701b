"""``careledger drugs ...``: commission, ship, split, accept, reject, cancel, parcels, verify,
dispense, recall, quarantine, void, history. Imports stay inside the commands so ``drugs verify``
starts fast; a malformed scan is rejected (exit 2) before any node is contacted."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from careledger.cli.context import AppContext, pass_app
from careledger.cli.params import ADDRESS, BATCH, REASON

if TYPE_CHECKING:
    from careledger.provenance.client import ProvenanceClient
    from careledger.provenance.gs1 import Scan


def _client(app: AppContext, signer: str | None = None) -> ProvenanceClient:
    from careledger.provenance.client import ProvenanceClient

    chain = app.signer(default=signer) if signer else app.chain()
    return ProvenanceClient(chain, app.deployment())


def _document(value: str | None, file: Path | None) -> bytes:
    from eth_utils.crypto import keccak

    from careledger.errors import InvalidInput
    from careledger.provenance.client import code32

    if file is not None:
        try:
            return keccak(file.read_bytes())
        except OSError as exc:
            raise InvalidInput(f"cannot read document {str(file)!r}: {exc.strerror}") from None
    if value is None:
        raise InvalidInput("a change of ownership needs the DSCSA TI/TS document: --document 0x... or --document-file")
    return code32(value, "document commitment")


def _scan(scan: str | None, image: Path | None) -> Scan:
    from careledger.errors import InvalidInput
    from careledger.provenance.gs1 import decode_image, parse_scan

    if image is not None:
        return parse_scan(decode_image(image))
    if not scan:
        raise InvalidInput("give the scan (element string or Digital Link) or --image FILE")
    return parse_scan(scan)


def _proof(
    s: Scan, serials: Path | None, service: str | None = None, app: AppContext | None = None
) -> tuple[int, list[bytes]]:
    """(position, proof) of the scanned serial; (0, []) when it is not in the batch's list. From
    ``--serials FILE``, a partner's proof service (``--proof-service URL``, a request signed with
    the account's key), or the local store."""
    from careledger.errors import InvalidInput
    from careledger.provenance.store import ProvenanceStore, build_batch, read_serials

    if service is not None and app is not None:
        return _service_proof(s, service, app)
    if serials is not None:
        batch = build_batch(s.gtin_int, s.lot, s.expiry_int, read_serials(serials))
        return batch.locate(s.serial) or (0, [])
    found = ProvenanceStore().proof_only(s.gtin_int, s.lot, s.serial)
    if found is None:
        raise InvalidInput(f"no serial list for batch {s.gtin}/{s.lot} in the local store; pass --serials FILE")
    return found


def _service_proof(s: Scan, service: str, app: AppContext) -> tuple[int, list[bytes]]:
    """Ask a trading partner's proof service (frontend/proof-service.mjs) for this unit's proof."""
    from careledger.errors import InvalidInput, NodeFailed
    from careledger.provenance.proofs import MAX_DEADLINE_S, fetch_proof, sign_proof_request

    chain = app.signer()
    if chain.account is None:
        raise InvalidInput("--proof-service needs a signer: pass --account NAME or set CARELEDGER_PRIVATE_KEY")
    registry = app.deployment().address("ProvenanceRegistry")
    # The deadline is read against the chain's clock by the server: stay well inside its window.
    deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + MAX_DEADLINE_S // 2
    body = sign_proof_request(chain.account, chain.chain_id, registry, s.gtin_int, s.lot, s.serial, deadline)
    answer = fetch_proof(service, body)
    if answer.status == 404:
        raise InvalidInput(f"the proof service has no serial list for batch {s.gtin}/{s.lot}; ask the supplier")
    if answer.status != 200:
        raise NodeFailed(f"the proof service refused (HTTP {answer.status}): {answer.error}")
    return (answer.index, list(answer.proof)) if answer.known else (0, [])


@click.group()
def drugs() -> None:
    """Drug provenance: serialised batches, custody, one-scan verification, recalls."""


@drugs.command()
@click.option("--gtin", required=True, help="GTIN-14 (or 8/12/13 digits), check digit validated.")
@click.option("--lot", required=True, help="Lot / batch number, GS1 AI (10).")
@click.option("--expiry", required=True, help="Expiry YYMMDD, GS1 AI (17); day 00 = end of month.")
@click.option(
    "--serials",
    "serials_file",
    required=True,
    type=click.Path(path_type=Path),
    help="Unit serials: one per line, or CSV (first column or a 'serial' column).",
)
@pass_app
def commission(app: AppContext, gtin: str, lot: str, expiry: str, serials_file: Path) -> None:
    """Commission a batch: one Merkle root over its serials goes on chain; the tree stays local."""
    from rich.progress import Progress

    from careledger.provenance.gs1 import _check_gtin, _check_text, check_yymmdd
    from careledger.provenance.store import ProvenanceStore, build_batch, read_serials

    gtin14 = int(_check_gtin(gtin))
    _check_text(lot, "10")
    check_yymmdd(expiry)  # before any node is contacted (the century is checked against the chain's)
    client = _client(app, "manufacturer")
    with Progress(transient=True, disable=app.json_output) as progress:
        task = progress.add_task("reading serials", total=None)
        items = read_serials(serials_file, progress=lambda n: progress.advance(task, n))
        progress.update(task, description=f"hashing {len(items):,} serials")
        batch = build_batch(gtin14, lot, int(expiry), items)
    done = client.commission_serials(batch, ProvenanceStore())
    if done.warning:
        click.echo(f"warning: {done.warning}", err=True)
    data = done.to_json()
    app.emit(
        data,
        lambda: click.echo(
            f"commissioned batch {data['batchId']} ({len(items):,} units), "
            f"root {data['merkleRoot']}, gas {data['gasUsed']:,}"
        ),
    )


@drugs.command()
@click.argument("batch", type=BATCH)
@click.option("--to", "to", type=ADDRESS, required=True, help="Receiver: address or devnet name.")
@click.option("--quantity", type=int, required=True)
@click.option("--parcel", type=int, default=None, help="Start position of your parcel (default: the first big enough).")
@click.option("--document", default=None, help="DSCSA TI/TS commitment (0x + 64 hex).")
@click.option("--document-file", type=click.Path(path_type=Path), default=None, help="Hash this TI/TS file.")
@pass_app
def ship(
    app: AppContext,
    batch: bytes,
    to: str,
    quantity: int,
    parcel: int | None,
    document: str | None,
    document_file: Path | None,
) -> None:
    """Ship the first QUANTITY serial positions of one of your parcels of BATCH (id or GTIN/LOT)."""
    doc = _document(document, document_file)
    client = _client(app, "manufacturer")
    receipt = client.ship(batch, to, quantity, doc, start=parcel)
    sent = client.contract.events.ShipmentSent().process_receipt(receipt)[0]["args"]
    start = int(sent["start"])
    app.emit(
        {
            "batchId": "0x" + batch.hex(),
            "to": to,
            "parcel": start,
            "positions": [start, start + quantity],
            "quantity": quantity,
            "document": "0x" + doc.hex(),
            "gasUsed": receipt["gasUsed"],
        },
        lambda: click.echo(
            f"shipped positions {start}..{start + quantity - 1} ({quantity} units) to {to} (in transit until accepted)"
        ),
    )


@drugs.command()
@click.argument("batch", type=BATCH)
@click.option("--parcel", type=int, default=None, help="Start position of the parcel (default: the first inbound).")
@pass_app
def accept(app: AppContext, batch: bytes, parcel: int | None) -> None:
    """Accept a parcel of BATCH in transit to you."""
    client = _client(app, "distributor")
    receipt = client.accept(batch, parcel)
    me = client._me()
    held = client.units_held(batch, me)
    app.emit(
        {"batchId": "0x" + batch.hex(), "held": held, "gasUsed": receipt["gasUsed"]},
        lambda: click.echo(f"accepted; you now hold {held} serial positions of 0x{batch.hex()}"),
    )


@drugs.command()
@click.argument("batch", type=BATCH)
@click.option("--reason", type=REASON, required=True, help="Reason code (short ASCII, e.g. DAMAGED).")
@click.option("--parcel", type=int, default=None, help="Start position of the parcel (default: the first inbound).")
@pass_app
def reject(app: AppContext, batch: bytes, reason: bytes, parcel: int | None) -> None:
    """Reject a parcel of BATCH in transit to you; the units go back to the sender."""
    receipt = _client(app, "distributor").reject(batch, reason, parcel)
    app.emit(
        {"batchId": "0x" + batch.hex(), "rejected": True, "gasUsed": receipt["gasUsed"]},
        lambda: click.echo("rejected; the units are back with the sender"),
    )


@drugs.command()
@click.argument("batch", type=BATCH)
@click.option("--parcel", type=int, required=True, help="Start position of your parcel.")
@click.option("--at", "at", type=int, required=True, help="First position of the second part.")
@pass_app
def split(app: AppContext, batch: bytes, parcel: int, at: int) -> None:
    """Split your parcel of BATCH at position AT, so that any range of it can be shipped."""
    receipt = _client(app, "distributor").split(batch, parcel, at)
    app.emit(
        {"batchId": "0x" + batch.hex(), "parcels": [parcel, at], "gasUsed": receipt["gasUsed"]},
        lambda: click.echo(f"split parcel {parcel} of 0x{batch.hex()} at {at}"),
    )


@drugs.command()
@click.argument("batch", type=BATCH)
@click.option("--parcel", type=int, required=True, help="Start position of the parcel you shipped.")
@click.option("--reason", type=REASON, required=True, help="Reason code (short ASCII, e.g. WRONG-ORDER).")
@pass_app
def cancel(app: AppContext, batch: bytes, parcel: int, reason: bytes) -> None:
    """Call back a parcel of BATCH you shipped that the receiver has not accepted yet."""
    receipt = _client(app, "distributor").cancel(batch, parcel, reason)
    app.emit(
        {"batchId": "0x" + batch.hex(), "parcel": parcel, "cancelled": True, "gasUsed": receipt["gasUsed"]},
        lambda: click.echo(f"shipment of parcel {parcel} called back; the units are yours again"),
    )


@drugs.command()
@click.argument("batch", type=BATCH)
@pass_app
def parcels(app: AppContext, batch: bytes) -> None:
    """The parcels of BATCH: serial positions, holder, and where each is in transit to."""
    found = _client(app).parcels(batch)

    def human() -> None:
        for p in found:
            click.echo(
                f"  {p.start:>8}..{p.end - 1:<8} {p.size:>8} units  {p.holder}"
                + (f" -> {p.to} (in transit)" if p.to else "")
            )

    app.emit({"batchId": "0x" + batch.hex(), "parcels": [p.to_json() for p in found]}, human)


@drugs.command()
@click.argument("scan", required=False)
@click.option("--image", type=click.Path(path_type=Path), default=None, help="A DataMatrix image to decode.")
@click.option(
    "--serials",
    type=click.Path(path_type=Path),
    default=None,
    help="The batch's serial list (default: the local store).",
)
@click.option(
    "--proof-service",
    default=None,
    help="A partner's proof service URL (http://host:port/proofs): the request is signed with --account.",
)
@pass_app
def verify(
    app: AppContext, scan: str | None, image: Path | None, serials: Path | None, proof_service: str | None
) -> None:
    """Verify a scanned unit: exit 0 verified, 1 not (reason printed), 2 malformed scan."""
    from careledger.errors import NotVerified

    s = _scan(scan, image)  # malformed scans stop here, before any node is contacted
    index, proof = _proof(s, serials, proof_service, app)
    if app.account is None:
        # The counter path: no web3 import, one JSON-RPC batch plus one call (fastverify.py).
        from careledger.provenance.fastverify import verify_fast

        result = verify_fast(app.rpc, s.gtin_int, s.lot, s.expiry_int, s.serial, index, proof)
    else:
        # Through the web3 client; the registry's answer is the same whoever asks.
        from careledger.provenance.client import ProvenanceClient

        chain = app.signer()
        client = ProvenanceClient(chain, app.deployment())
        result = client.verify(s.gtin_int, s.lot, s.expiry_int, s.serial, index, proof)
    data = result.to_json()
    if app.json_output:
        app.emit(data)
    else:
        click.echo(
            f"{result.verdict.dscsa}: {s.gtin} lot {s.lot} serial {s.serial} exp {s.expiry}"
            + (f" (dispensed by {result.dispensed_by})" if result.dispensed_by else "")
        )
    if not result.verified:
        exc = NotVerified(f"not verified: {result.verdict.dscsa}", reported=True)
        raise exc


@drugs.command()
@click.argument("scan", required=False)
@click.option("--image", type=click.Path(path_type=Path), default=None)
@click.option("--serials", type=click.Path(path_type=Path), default=None)
@click.option("--proof-service", default=None, help="A partner's proof service URL (signed with --account).")
@pass_app
def dispense(
    app: AppContext, scan: str | None, image: Path | None, serials: Path | None, proof_service: str | None
) -> None:
    """Dispense a scanned unit (pharmacy holding the parcel that contains it)."""
    from dataclasses import replace

    from careledger.provenance.gs1 import expiry_date
    from careledger.provenance.ids import unit_id

    s = _scan(scan, image)
    index, proof = _proof(s, serials, proof_service, app)
    client = _client(app, "pharmacy")
    receipt = client.dispense(s.gtin_int, s.lot, s.serial, index, proof)
    s = replace(s, expiry_date=expiry_date(s.expiry, client.chain_time()))
    uid = "0x" + unit_id(s.gtin_int, s.serial).hex()
    app.emit(
        {"unitId": uid, **s.to_json(), "gasUsed": receipt["gasUsed"]},
        lambda: click.echo(f"dispensed {s.gtin}/{s.serial} (unit {uid})"),
    )


def _end_batch(app: AppContext, batch: bytes, reason: bytes, action: str, status: str) -> None:
    """Recall or void ``batch`` (final) and report its new status."""
    receipt = getattr(_client(app, "regulator"), action)(batch, reason)
    app.emit(
        {"batchId": "0x" + batch.hex(), "status": status, "gasUsed": receipt["gasUsed"]},
        lambda: click.echo(f"batch 0x{batch.hex()} {status}"),
    )


@drugs.command()
@click.argument("batch", type=BATCH)
@click.option("--reason", type=REASON, required=True)
@pass_app
def recall(app: AppContext, batch: bytes, reason: bytes) -> None:
    """Recall BATCH (the GTIN's owner or a regulator). Final."""
    _end_batch(app, batch, reason, "recall", "recalled")


@drugs.command(name="void")
@click.argument("batch", type=BATCH)
@click.option("--reason", type=REASON, required=True)
@pass_app
def void_batch(app: AppContext, batch: bytes, reason: bytes) -> None:
    """Void BATCH (regulator only): its commissioning is annulled. Final."""
    _end_batch(app, batch, reason, "void", "voided")


@drugs.command()
@click.argument("batch", type=BATCH)
@click.option("--reason", type=REASON, required=True)
@click.option("--lift", is_flag=True, help="Lift the quarantine instead.")
@pass_app
def quarantine(app: AppContext, batch: bytes, reason: bytes, lift: bool) -> None:
    """Quarantine BATCH as suspect product (or --lift it)."""
    client = _client(app, "regulator")
    receipt = client.lift_quarantine(batch, reason) if lift else client.quarantine(batch, reason)
    status = "active" if lift else "quarantined"
    app.emit(
        {"batchId": "0x" + batch.hex(), "status": status, "gasUsed": receipt["gasUsed"]},
        lambda: click.echo(f"batch 0x{batch.hex()} {status}"),
    )


@drugs.command()
@click.argument("scan", required=False)
@click.option("--image", type=click.Path(path_type=Path), default=None)
@click.option("--epcis", type=click.Path(path_type=Path), default=None, help="Write GS1 EPCIS 2.0 JSON-LD here.")
@pass_app
def history(app: AppContext, scan: str | None, image: Path | None, epcis: Path | None) -> None:
    """The custody timeline of a scanned unit, rebuilt from chain events."""
    from careledger.exactjson import dumps
    from careledger.provenance.history import load_history, to_epcis
    from careledger.provenance.store import ProvenanceStore

    s = _scan(scan, image)
    client = _client(app)
    # The serial's position (from the local store) narrows the custody chain to the parcels that
    # held it; without the serial list the chain is the batch's.
    found = ProvenanceStore().proof_only(s.gtin_int, s.lot, s.serial)
    index = found[0] if found and found[1] else None
    h = load_history(client, s.gtin_int, s.lot, s.serial, index=index)
    if epcis is not None:
        epcis.write_text(dumps(to_epcis(h, client.chain.chain_id)))  # exact JSON (docs/json.md)
    data: dict[str, Any] = h.to_json()

    def human() -> None:
        click.echo(f"{s.gtin} lot {s.lot} serial {s.serial}: {' -> '.join(h.chain) or 'unknown batch'}")
        for e in h.events:
            extra = f" {e.quantity} units" if e.quantity and e.kind != "UnitDispensed" else ""
            other = f" <-> {e.counterparty}" if e.counterparty else ""
            click.echo(
                f"  {e.to_json()['time']}  {e.kind:<17} {e.actor}{other}{extra}"
                + (f" reason {e.reason}" if e.reason else "")
            )

    app.emit(data, human)
