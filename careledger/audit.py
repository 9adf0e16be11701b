"""Proof that no health data reached the chain.

:func:`scan_chain` reads everything a chain holds (every transaction's calldata, every event's
topics and data, every contract's storage via ``anvil_dumpState``) and looks for each sensitive
string in the encodings it could take there: UTF-8 bytes (as in ABI-encoded strings and packed
bytes), upper-case UTF-8, UTF-16, and the unsalted keccak256 of the string (an unsalted hash of a
name or a date of birth is reversible by dictionary, so a commitment must be salted).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass

from eth_utils.crypto import keccak

from careledger.rpc import RpcClient, RpcError

__all__ = ["PhiHit", "ScanReport", "needles", "scan_chain"]


@dataclass(frozen=True)
class PhiHit:
    label: str
    encoding: str
    where: str


@dataclass
class ScanReport:
    blocks: int
    transactions: int
    logs: int
    storage_slots: int
    bytes_scanned: int
    hits: list[PhiHit]


def needles(label: str, value: str) -> list[tuple[str, str, bytes]]:
    """(label, encoding, bytes) to look for, for one sensitive value."""
    raw = value.encode()
    return [
        (label, "utf8", raw),
        (label, "utf8-upper", value.upper().encode()),
        (label, "utf16le", value.encode("utf-16-le")),
        (label, "keccak-unsalted", keccak(raw)),
    ]


def _hexbytes(value: str | None) -> bytes:
    if not value or value == "0x":
        return b""
    text = value[2:] if value.startswith("0x") else value
    if len(text) % 2:
        text = "0" + text
    return bytes.fromhex(text)


def _storage_blobs(rpc: RpcClient) -> tuple[int, list[tuple[str, bytes]]]:
    try:
        dump = rpc.call("anvil_dumpState")
    except RpcError:
        return 0, []
    state = json.loads(gzip.decompress(_hexbytes(dump)))
    blobs: list[tuple[str, bytes]] = []
    slots = 0
    for address, account in (state.get("accounts") or {}).items():
        for slot, value in (account.get("storage") or {}).items():
            slots += 1
            blobs.append((f"storage {address}[{slot}]", _hexbytes(value)))
    return slots, blobs


def scan_chain(rpc: RpcClient, sensitive: dict[str, str]) -> ScanReport:
    """Scan the whole chain behind ``rpc`` for the ``sensitive`` values (label -> value)."""
    patterns = [n for label, value in sensitive.items() for n in needles(label, value)]
    head = int(rpc.call("eth_blockNumber"), 16)
    blobs: list[tuple[str, bytes]] = []
    txs = logs = 0
    blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in range(head + 1)], chunk=200)
    hashes: list[str] = []
    for block in blocks:
        for tx in block.get("transactions", []):
            txs += 1
            hashes.append(tx["hash"])
            blobs.append((f"calldata {tx['hash']}", _hexbytes(tx.get("input"))))
    for receipt in rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes], chunk=200):
        for log in receipt.get("logs", []):
            logs += 1
            where = f"event {log['address']} tx {log['transactionHash']}"
            blobs.append((where, b"".join(_hexbytes(t) for t in log.get("topics", [])) + _hexbytes(log.get("data"))))
    slots, storage = _storage_blobs(rpc)
    blobs.extend(storage)
    hits = _find(patterns, blobs)
    return ScanReport(head + 1, txs, logs, slots, sum(len(b) for _, b in blobs), hits)


def _find(patterns: Iterable[tuple[str, str, bytes]], blobs: list[tuple[str, bytes]]) -> list[PhiHit]:
    hits: list[PhiHit] = []
    pats = list(patterns)
    for where, blob in blobs:
        for label, encoding, needle in pats:
            if needle and needle in blob:
                hits.append(PhiHit(label, encoding, where))
    return hits
