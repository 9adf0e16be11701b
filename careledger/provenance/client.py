"""Typed client of the ProvenanceRegistry contract."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import requests
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from web3.types import TxReceipt

from careledger.artifacts import load_artifacts
from careledger.chain import Chain, checksum
from careledger.deployments import Deployment
from careledger.errors import InvalidInput, NodeUnreachable
from careledger.provenance.ids import bytes32_to_text, text_to_bytes32
from careledger.provenance.store import BatchFile
from careledger.provenance.verdict import Verdict, VerifyResult

__all__ = ["BatchInfo", "BatchStatus", "Custody", "ProvenanceClient", "Verdict", "VerifyResult", "code32"]

ZERO_ADDRESS = "0x" + "00" * 20
_VERIFY_TYPES = ["uint256", "bytes32", "uint24", "bytes32", "bytes32[]"]
_VERIFY_SELECTOR = keccak(text=f"verify({','.join(_VERIFY_TYPES)})")[:4]


class BatchStatus(IntEnum):
    """``IProvenanceRegistry.BatchStatus``."""

    NONE = 0
    ACTIVE = 1
    QUARANTINED = 2
    RECALLED = 3


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
    manufacturer: str
    expiry: int
    expires_at: int
    status: BatchStatus

    def to_json(self) -> dict[str, Any]:
        return {
            "batchId": "0x" + self.batch_id.hex(),
            "merkleRoot": "0x" + self.merkle_root.hex(),
            "manufacturer": self.manufacturer,
            "expiry": f"{self.expiry:06d}",
            "expiresAt": self.expires_at,
            "status": self.status.name.lower(),
        }


@dataclass(frozen=True)
class Custody:
    held: int
    incoming: int
    sender: str

    def to_json(self) -> dict[str, Any]:
        return {
            "held": self.held,
            "incoming": self.incoming,
            "from": None if self.sender == ZERO_ADDRESS else self.sender,
        }


class ProvenanceClient:
    NAME = "ProvenanceRegistry"

    def __init__(self, chain: Chain, deployment: Deployment | None = None, address: str | None = None) -> None:
        self.chain = chain
        if address is None:
            if deployment is None:
                raise InvalidInput("ProvenanceClient needs a deployment or an address")
            address = deployment.address(self.NAME)
        self.contract = chain.contract(address, load_artifacts()[self.NAME].abi)
        self.address = self.contract.address

    # ------------------------------------------------------------------ writes

    def commission(self, batch: BatchFile) -> TxReceipt:
        f = self.contract.functions.commission(
            batch.gtin, text_to_bytes32(batch.lot, "lot"), batch.expiry, len(batch.serials), batch.root
        )
        return self.chain.send(f, f"commission batch {batch.gtin:014d}/{batch.lot}")

    def ship(self, bid: bytes, to: str, quantity: int, document: bytes) -> TxReceipt:
        receiver = checksum(to, "receiver")
        if quantity <= 0:
            raise InvalidInput(f"quantity {quantity} must be positive")
        return self.chain.send(
            self.contract.functions.ship(bid, receiver, quantity, document),
            f"ship {quantity} of batch 0x{bid.hex()} to {receiver}",
        )

    def accept(self, bid: bytes) -> TxReceipt:
        return self.chain.send(self.contract.functions.accept(bid), f"accept batch 0x{bid.hex()}")

    def reject(self, bid: bytes, reason: bytes) -> TxReceipt:
        return self.chain.send(self.contract.functions.reject(bid, reason), f"reject batch 0x{bid.hex()}")

    def dispense(self, gtin: int, lot: str, serial: str, proof: Sequence[bytes]) -> TxReceipt:
        f = self.contract.functions.dispense(gtin, text_to_bytes32(lot, "lot"), text_to_bytes32(serial), list(proof))
        return self.chain.send(f, f"dispense {gtin:014d}/{serial}")

    def quarantine(self, bid: bytes, reason: bytes) -> TxReceipt:
        return self.chain.send(self.contract.functions.quarantine(bid, reason), f"quarantine batch 0x{bid.hex()}")

    def lift_quarantine(self, bid: bytes, reason: bytes) -> TxReceipt:
        return self.chain.send(
            self.contract.functions.liftQuarantine(bid, reason), f"lift quarantine of batch 0x{bid.hex()}"
        )

    def recall(self, bid: bytes, reason: bytes) -> TxReceipt:
        return self.chain.send(self.contract.functions.recall(bid, reason), f"recall batch 0x{bid.hex()}")

    # ------------------------------------------------------------------ reads

    def verify(self, gtin: int, lot: str, expiry: int, serial: str, proof: Sequence[bytes]) -> VerifyResult:
        f = self._verify_fn(gtin, lot, expiry, serial, proof)
        sender = self.chain.account.address if self.chain.account else None
        try:
            verdict, holder = f.call({"from": sender} if sender else {})
        except requests.exceptions.RequestException as exc:
            raise NodeUnreachable(f"node stopped answering during verify: {type(exc).__name__}") from None
        return VerifyResult(
            Verdict(verdict), None if holder == ZERO_ADDRESS else str(holder), gtin, lot, expiry, serial
        )

    def _verify_fn(self, gtin: int, lot: str, expiry: int, serial: str, proof: Sequence[bytes]) -> Any:
        return self.contract.functions.verify(
            gtin, text_to_bytes32(lot, "lot"), expiry, text_to_bytes32(serial), list(proof)
        )

    def verify_calldata(self, gtin: int, lot: str, expiry: int, serial: str, proof: Sequence[bytes]) -> str:
        """The calldata of one verify call, encoded once (for batched JSON-RPC)."""
        args = abi_encode(
            _VERIFY_TYPES, [gtin, text_to_bytes32(lot, "lot"), expiry, text_to_bytes32(serial), list(proof)]
        )
        return "0x" + (_VERIFY_SELECTOR + args).hex()

    def verify_many(
        self, calldatas: Sequence[str], chunk: int = 500, session: requests.Session | None = None
    ) -> list[tuple[Verdict, str | None]]:
        """Many verify calls as JSON-RPC batches of ``chunk`` ``eth_call``s per HTTP POST."""
        url = str(self.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
        http = session or requests.Session()
        out: list[tuple[Verdict, str | None]] = []
        for start in range(0, len(calldatas), chunk):
            part = calldatas[start : start + chunk]
            payload = [
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "eth_call",
                    "params": [{"to": self.address, "data": data}, "latest"],
                }
                for i, data in enumerate(part)
            ]
            try:
                resp = http.post(url, json=payload, timeout=60)
                resp.raise_for_status()
            except requests.exceptions.RequestException as exc:
                raise NodeUnreachable(f"batched verify failed: {type(exc).__name__}") from None
            answers = sorted(resp.json(), key=lambda r: r["id"])
            for ans in answers:
                if "result" not in ans:
                    raise NodeUnreachable(f"node refused a batched verify: {ans.get('error')}")
                verdict, holder = abi_decode(["uint8", "address"], bytes.fromhex(ans["result"][2:]))
                out.append((Verdict(verdict), None if holder == ZERO_ADDRESS else str(holder)))
        return out

    def batch_info(self, bid: bytes) -> BatchInfo:
        root, manufacturer, expiry, expires_at, status = self.chain.call(
            self.contract.functions.batchInfo(bid), f"read batch 0x{bid.hex()}"
        )
        return BatchInfo(bid, bytes(root), str(manufacturer), int(expiry), int(expires_at), BatchStatus(status))

    def custody_of(self, bid: bytes, account: str) -> Custody:
        held, incoming, sender = self.chain.call(
            self.contract.functions.custodyOf(bid, checksum(account)), f"read custody of batch 0x{bid.hex()}"
        )
        return Custody(int(held), int(incoming), str(sender))

    def dispense_of(self, uid: bytes) -> tuple[str | None, bytes | None, bool]:
        # IDispenseCheck.Dispense: (pharmacy, dispensedAt, gtin, batchId, recalled, quarantined)
        pharmacy, _at, _gtin, bid, recalled, _quarantined = self.chain.call(
            self.contract.functions.dispenseOf(uid), "read dispense record"
        )
        if pharmacy == ZERO_ADDRESS:
            return None, None, False
        return str(pharmacy), bytes(bid), bool(recalled)

    def unit_id_on_chain(self, gtin: int, serial: str) -> bytes:
        return bytes(self.chain.call(self.contract.functions.unitIdOf(gtin, text_to_bytes32(serial)), "unit id"))


def lot_text(lot32: bytes | str) -> str:
    return bytes32_to_text(lot32)
