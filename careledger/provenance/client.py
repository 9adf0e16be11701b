"""Typed client of the ProvenanceRegistry contract."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

import requests
from web3.types import TxReceipt

from careledger.abi import contract as contract_abi
from careledger.artifacts import load_artifacts
from careledger.chain import Chain, checksum
from careledger.deployments import Deployment
from careledger.errors import InvalidInput, NodeUnreachable
from careledger.provenance.ids import batch_id, bytes32_to_text, text_to_bytes32
from careledger.provenance.store import BatchFile, ProvenanceStore
from careledger.provenance.verdict import Verdict, VerifyResult

__all__ = [
    "BatchInfo",
    "BatchStatus",
    "Commissioned",
    "DispenseRecord",
    "Parcel",
    "ProvenanceClient",
    "Verdict",
    "VerifyResult",
    "code32",
]

ZERO_ADDRESS = "0x" + "00" * 20
#: Events that change parcels, replayed in log order by :meth:`ProvenanceClient.parcels`.
_PARCEL_EVENTS = (
    "BatchCommissioned",
    "ShipmentSent",
    "ParcelSplit",
    "ShipmentAccepted",
    "ShipmentRejected",
    "ShipmentCancelled",
)


class BatchStatus(IntEnum):
    """``IProvenanceRegistry.BatchStatus``."""

    NONE = 0
    ACTIVE = 1
    QUARANTINED = 2
    RECALLED = 3
    VOIDED = 4


def code32(text: str | bytes, what: str = "reason code") -> bytes:
    """A short code (reason, document hash) as bytes32: 0x-hex of 32 bytes, or ASCII up to 32."""
    if isinstance(text, bytes):
        if len(text) != 32:
            raise InvalidInput(f"{what} must be 32 bytes")
        return text
    if text.startswith("0x") and len(text) == 66:
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            raise InvalidInput(f"{what} {text!r} is not hex") from None
    raw = text.encode()
    if not raw or len(raw) > 32:
        raise InvalidInput(f"{what} {text!r} must be 1-32 ASCII characters or 0x + 64 hex digits")
    return raw.ljust(32, b"\0")


@dataclass(frozen=True)
class BatchInfo:
    batch_id: bytes
    merkle_root: bytes
    gtin: int
    quantity: int
    expiry: int
    expires_at: int
    status: BatchStatus

    def to_json(self) -> dict[str, Any]:
        return {
            "batchId": "0x" + self.batch_id.hex(),
            "merkleRoot": "0x" + self.merkle_root.hex(),
            "gtin": f"{self.gtin:014d}",
            "quantity": self.quantity,
            "expiry": f"{self.expiry:06d}",
            "expiresAt": self.expires_at,
            "status": self.status.name.lower(),
        }


@dataclass(frozen=True)
class Parcel:
    """Serial positions ``[start, end)`` of a batch held by ``holder``; in transit to ``to`` if set."""

    start: int
    end: int
    holder: str
    to: str | None = None

    @property
    def size(self) -> int:
        return self.end - self.start

    def contains(self, index: int) -> bool:
        return self.start <= index < self.end

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "holder": self.holder, "inTransitTo": self.to}


@dataclass(frozen=True)
class DispenseRecord:
    """``IDispenseCheck.Dispense``: what claims reads of a dispensed unit."""

    pharmacy: str
    dispensed_at: int
    gtin: int
    batch_id: bytes
    recalled: bool
    quarantined: bool


@dataclass(frozen=True)
class Commissioned:
    """What :meth:`ProvenanceClient.commission_serials` did: the batch (its tree), the receipt,
    the sequential-serials warning (empty when the serials look random) and where the tree was
    kept (None when no store was given)."""

    batch: BatchFile
    receipt: TxReceipt
    warning: str
    store: Path | None

    def to_json(self) -> dict[str, Any]:
        batch = {k: v for k, v in self.batch.to_json().items() if k not in ("serials", "root")}
        return {
            **batch,
            "merkleRoot": "0x" + self.batch.root.hex(),
            "gasUsed": int(self.receipt["gasUsed"]),
            "tx": self.receipt["transactionHash"].to_0x_hex(),
            "store": None if self.store is None else str(self.store),
            "warnings": [self.warning] if self.warning else [],
        }


class ProvenanceClient:
    NAME = "ProvenanceRegistry"

    def __init__(self, chain: Chain, deployment: Deployment | None = None, address: str | None = None) -> None:
        self.chain = chain
        if address is None:
            if deployment is None:
                raise InvalidInput("ProvenanceClient needs a deployment or an address")
            address = deployment.address(self.NAME)
        artifacts = load_artifacts()
        self.contract = chain.contract(address, artifacts[self.NAME].abi)
        self.address = self.contract.address
        #: Selectors, topics and calldata of the registry, from the build (careledger.abi).
        self.abi = contract_abi(self.NAME, artifacts)

    # ------------------------------------------------------------------ writes

    def commission(self, batch: BatchFile) -> TxReceipt:
        f = self.contract.functions.commission(
            batch.gtin, text_to_bytes32(batch.lot, "lot"), batch.expiry, len(batch.serials), batch.root
        )
        return self.chain.send(f, f"commission batch {batch.gtin:014d}/{batch.lot}")

    def commission_serials(self, batch: BatchFile, store: ProvenanceStore | None = None) -> Commissioned:
        """Commissions ``batch`` the way every face does (CLI, demo, web seed, bench): its expiry
        read as the registry will (the century of YYMMDD in the year of the latest block, GS1 GS
        7.12), a warning when the serials are guessable (:mod:`careledger.provenance.serials`),
        and, with a ``store``, no serial that another stored batch of the GTIN already holds
        (:class:`InvalidInput`, before anything is sent); then the root goes on chain and the
        tree into the store (the chain keeps only the root: verifiers need the tree)."""
        from careledger.provenance.gs1 import expiry_date
        from careledger.provenance.serials import sequential_warning

        expiry_date(f"{batch.expiry:06d}", self.chain_time())
        warning = sequential_warning(batch.serials) or ""
        if store is not None:
            clash = store.duplicates(batch.gtin, batch.serials, exclude=batch.batch_id)
            if clash:
                raise InvalidInput(
                    f"{len(clash)} serial(s) of GTIN {batch.gtin:014d} are already in another batch, e.g. {clash[0]!r}"
                )
        receipt = self.commission(batch)
        if store is not None:
            store.save(batch)
        return Commissioned(batch, receipt, warning, None if store is None else store.folder)

    def chain_time(self) -> int:
        """The latest block's timestamp: the reference time for reading GS1 dates (never the wall clock)."""
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def _me(self) -> str:
        if self.chain.account is None:
            raise InvalidInput("this action needs an account (--account NAME)")
        return str(self.chain.account.address)

    def ship(self, bid: bytes, to: str, quantity: int, document: bytes, start: int | None = None) -> TxReceipt:
        """Ships the first ``quantity`` positions of the parcel ``start`` (default: the first
        parcel of this account, not in transit, that holds at least ``quantity``)."""
        receiver = checksum(to, "receiver")
        if quantity <= 0:
            raise InvalidInput(f"quantity {quantity} must be positive")
        if start is None:
            held = self.held_parcels(bid, self._me())
            fits = [p for p in held if p.size >= quantity]
            # None big enough: name the largest (or parcel 0 when none is held) and let the
            # registry refuse with the exact figures (InsufficientCustody / NotParcelHolder).
            start = fits[0].start if fits else max(held, key=lambda p: p.size).start if held else 0
        return self.chain.send(
            self.contract.functions.ship(bid, start, receiver, quantity, document),
            f"ship {quantity} of batch 0x{bid.hex()} (parcel {start}) to {receiver}",
        )

    def split(self, bid: bytes, start: int, at: int) -> TxReceipt:
        return self.chain.send(
            self.contract.functions.split(bid, start, at), f"split parcel {start} of batch 0x{bid.hex()} at {at}"
        )

    def _inbound(self, bid: bytes, start: int | None) -> int:
        if start is not None:
            return start
        inbound = self.inbound_parcels(bid, self._me())
        # Nothing inbound: name parcel 0 and let the registry refuse (NotParcelReceiver).
        return inbound[0].start if inbound else 0

    def accept(self, bid: bytes, start: int | None = None) -> TxReceipt:
        """Accepts the parcel ``start`` in transit to this account (default: the first one)."""
        start = self._inbound(bid, start)
        return self.chain.send(
            self.contract.functions.accept(bid, start), f"accept parcel {start} of batch 0x{bid.hex()}"
        )

    def reject(self, bid: bytes, reason: bytes, start: int | None = None) -> TxReceipt:
        start = self._inbound(bid, start)
        return self.chain.send(
            self.contract.functions.reject(bid, start, reason), f"reject parcel {start} of batch 0x{bid.hex()}"
        )

    def cancel(self, bid: bytes, start: int, reason: bytes) -> TxReceipt:
        return self.chain.send(
            self.contract.functions.cancel(bid, start, reason), f"cancel shipment of parcel {start} of 0x{bid.hex()}"
        )

    def dispense(
        self,
        gtin: int,
        lot: str,
        serial: str,
        index: int,
        proof: Sequence[bytes],
        parcel: int | None = None,
    ) -> TxReceipt:
        """Dispenses the unit at position ``index`` from the caller's parcel holding it (found
        from the events unless ``parcel`` is given)."""
        if parcel is None:
            bid = batch_id(gtin, lot)
            held = self.held_parcels(bid, self._me())
            mine = [p for p in held if p.contains(index)]
            # No held parcel contains it: name one it holds (or parcel 0) and let the registry
            # say why (SerialNotInParcel with the range, or NotParcelHolder).
            parcel = mine[0].start if mine else held[0].start if held else 0
        f = self.contract.functions.dispense(
            gtin, text_to_bytes32(lot, "lot"), text_to_bytes32(serial), index, parcel, list(proof)
        )
        return self.chain.send(f, f"dispense {gtin:014d}/{serial}")

    def quarantine(self, bid: bytes, reason: bytes) -> TxReceipt:
        return self.chain.send(self.contract.functions.quarantine(bid, reason), f"quarantine batch 0x{bid.hex()}")

    def lift_quarantine(self, bid: bytes, reason: bytes) -> TxReceipt:
        return self.chain.send(
            self.contract.functions.liftQuarantine(bid, reason), f"lift quarantine of batch 0x{bid.hex()}"
        )

    def recall(self, bid: bytes, reason: bytes) -> TxReceipt:
        return self.chain.send(self.contract.functions.recall(bid, reason), f"recall batch 0x{bid.hex()}")

    def void(self, bid: bytes, reason: bytes) -> TxReceipt:
        return self.chain.send(self.contract.functions.voidBatch(bid, reason), f"void batch 0x{bid.hex()}")

    # ------------------------------------------------------------------ reads

    def verify(self, gtin: int, lot: str, expiry: int, serial: str, index: int, proof: Sequence[bytes]) -> VerifyResult:
        """The registry's verdict; the same for every caller (no ``from`` is sent)."""
        f = self._verify_fn(gtin, lot, expiry, serial, index, proof)
        try:
            verdict, dispensed_by = f.call()
        except requests.exceptions.RequestException as exc:
            raise NodeUnreachable(f"node stopped answering during verify: {type(exc).__name__}") from None
        return VerifyResult(
            Verdict(verdict), None if dispensed_by == ZERO_ADDRESS else str(dispensed_by), gtin, lot, expiry, serial
        )

    def _verify_fn(self, gtin: int, lot: str, expiry: int, serial: str, index: int, proof: Sequence[bytes]) -> Any:
        return self.contract.functions.verify(
            gtin, text_to_bytes32(lot, "lot"), expiry, text_to_bytes32(serial), index, list(proof)
        )

    def verify_calldata(self, gtin: int, lot: str, expiry: int, serial: str, index: int, proof: Sequence[bytes]) -> str:
        """The calldata of one verify call, encoded once (for batched JSON-RPC)."""
        data = self.abi.calldata(
            "verify", gtin, text_to_bytes32(lot, "lot"), expiry, text_to_bytes32(serial), index, list(proof)
        )
        return "0x" + data.hex()

    def verify_many(
        self,
        calldatas: Sequence[str],
        chunk: int = 500,
        session: requests.Session | None = None,
        workers: int = 2,
    ) -> list[tuple[Verdict, str | None]]:
        """Many verify calls as JSON-RPC batches of ``chunk`` ``eth_call``s per HTTP POST, with
        ``workers`` POSTs in flight (the node executes calls on several threads). Answers are
        decoded by hand (a uint8 word and an address word): eth_abi per answer costs more than
        the node's work."""
        from concurrent.futures import ThreadPoolExecutor

        url = str(self.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
        head = '{"jsonrpc":"2.0","method":"eth_call","params":[{"to":"' + self.address + '","data":"'
        parts = [calldatas[i : i + chunk] for i in range(0, len(calldatas), chunk)]
        sessions = [session or requests.Session()] + [requests.Session() for _ in range(max(workers, 1) - 1)]

        def post(k: int) -> list[tuple[Verdict, str | None]]:
            body = "[" + ",".join(f'{head}{d}"}},"latest"],"id":{i}}}' for i, d in enumerate(parts[k])) + "]"
            http = sessions[k % len(sessions)]
            try:
                resp = http.post(url, data=body, headers={"content-type": "application/json"}, timeout=60)
                resp.raise_for_status()
            except requests.exceptions.RequestException as exc:
                raise NodeUnreachable(f"batched verify failed: {type(exc).__name__}") from None
            got: list[tuple[Verdict, str | None]] = []
            for ans in sorted(resp.json(), key=lambda r: r["id"]):
                if "result" not in ans:
                    raise NodeUnreachable(f"node refused a batched verify: {ans.get('error')}")
                raw = ans["result"]
                by = "0x" + raw[2 + 64 + 24 : 2 + 128]
                got.append((Verdict(int(raw[2:66], 16)), None if by == ZERO_ADDRESS else checksum(by)))
            return got

        with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
            results = list(pool.map(post, range(len(parts))))
        return [r for part in results for r in part]

    def batch_info(self, bid: bytes) -> BatchInfo:
        root, gtin, quantity, expiry, expires_at, status = self.chain.call(
            self.contract.functions.batchInfo(bid), f"read batch 0x{bid.hex()}"
        )
        return BatchInfo(bid, bytes(root), int(gtin), int(quantity), int(expiry), int(expires_at), BatchStatus(status))

    def parcel_of(self, bid: bytes, start: int) -> Parcel | None:
        """The parcel starting at ``start`` as the registry stores it (None when none starts there)."""
        holder, end, to = self.chain.call(
            self.contract.functions.parcelOf(bid, start), f"read parcel {start} of batch 0x{bid.hex()}"
        )
        if holder == ZERO_ADDRESS:
            return None
        return Parcel(start, int(end), str(holder), None if to == ZERO_ADDRESS else str(to))

    def decode_logs(self, logs: Iterable[Any], names: Iterable[str]) -> list[tuple[Any, str, Any]]:
        """(log, event name, arguments) of the registry's ``names`` events among ``logs``, in
        chain order; topics from the build (careledger.abi), arguments as web3 decodes them."""
        wanted = {self.abi.topic(name): name for name in names}
        out = []
        for log in sorted(logs, key=lambda lg: (lg["blockNumber"], lg["logIndex"])):
            name = wanted.get(bytes(log["topics"][0])) if log["topics"] else None
            if name is not None:
                out.append((log, name, getattr(self.contract.events, name)().process_log(log)["args"]))
        return out

    def parcels(self, bid: bytes) -> list[Parcel]:
        """Every parcel of the batch, rebuilt from the registry's events, by start."""
        w3 = self.chain.w3
        logs = w3.eth.get_logs(
            {"address": self.address, "fromBlock": 0, "toBlock": "latest", "topics": [None, "0x" + bid.hex()]}
        )  # type: ignore[typeddict-item]
        out: dict[int, Parcel] = {}
        for _log, name, a in self.decode_logs(logs, _PARCEL_EVENTS):
            if name == "BatchCommissioned":
                out[0] = Parcel(0, int(a["quantity"]), str(a["manufacturer"]))
            elif name == "ShipmentSent":
                p, start, q = out[int(a["start"])], int(a["start"]), int(a["quantity"])
                if start + q < p.end:
                    out[start + q] = Parcel(start + q, p.end, p.holder)
                out[start] = Parcel(start, start + q, p.holder, str(a["to"]))
            elif name == "ParcelSplit":
                p, at = out[int(a["start"])], int(a["at"])
                out[at] = Parcel(at, p.end, p.holder)
                out[p.start] = Parcel(p.start, at, p.holder)
            elif name == "ShipmentAccepted":
                p = out[int(a["start"])]
                out[p.start] = Parcel(p.start, p.end, str(a["to"]))
            else:  # rejected or cancelled: back with the sender
                p = out[int(a["start"])]
                out[p.start] = Parcel(p.start, p.end, p.holder)
        return [out[k] for k in sorted(out)]

    def held_parcels(self, bid: bytes, account: str) -> list[Parcel]:
        """The parcels ``account`` holds and may ship or dispense from (not in transit)."""
        who = checksum(account)
        return [p for p in self.parcels(bid) if p.holder == who and p.to is None]

    def inbound_parcels(self, bid: bytes, account: str) -> list[Parcel]:
        """The parcels in transit to ``account``."""
        who = checksum(account)
        return [p for p in self.parcels(bid) if p.to == who]

    def units_held(self, bid: bytes, account: str) -> int:
        """Serial positions ``account`` holds (dispensed ones included: the chain does not count them)."""
        return sum(p.size for p in self.held_parcels(bid, account))

    def dispense_of(self, uid: bytes) -> DispenseRecord | None:
        """The dispense record of a unit (None when never dispensed)."""
        pharmacy, at, gtin, bid, recalled, quarantined = self.chain.call(
            self.contract.functions.dispenseOf(uid), "read dispense record"
        )
        if pharmacy == ZERO_ADDRESS:
            return None
        return DispenseRecord(str(pharmacy), int(at), int(gtin), bytes(bid), bool(recalled), bool(quarantined))

    def unit_id_on_chain(self, gtin: int, serial: str) -> bytes:
        return bytes(self.chain.call(self.contract.functions.unitIdOf(gtin, text_to_bytes32(serial)), "unit id"))


def lot_text(lot32: bytes | str) -> str:
    return bytes32_to_text(lot32)
