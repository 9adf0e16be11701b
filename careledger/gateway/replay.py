"""Rebuilds the record anchors from their events alone (see :mod:`careledger.indexer`): every
anchored commitment with its provider and block time, then compares them with ``anchorOf``."""

from __future__ import annotations

from typing import Any

from careledger.indexer import DecodedEvent, Reads

CONTRACTS = ("RecordAnchor",)


def _b(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def reduce(state: dict[str, Any], event: DecodedEvent) -> None:
    anchors: dict[bytes, tuple[str, int]] = state.setdefault("anchors", {})
    if event.name == "RecordAnchored":
        anchors[_b(event.args["commitment"])] = (event.args["provider"], int(event.timestamp or 0))


def verify(state: dict[str, Any], reads: Reads) -> list[str]:
    fn = reads.contract("RecordAnchor").functions
    diffs = []
    anchors: dict[bytes, tuple[str, int]] = state.get("anchors", {})
    for commitment, want in anchors.items():
        provider, at = fn.anchorOf(commitment).call()
        if (provider, int(at)) != want:
            diffs.append(f"RecordAnchor 0x{commitment.hex()}: log says {want}, chain says {(provider, at)}")
    return diffs
