"""What the suite asks of a chain's EVM, and a probe that checks a chain has it.

The contracts are compiled for the Cancun EVM (``evm_version: cancun`` in ``ape-config.yaml``):
the claims contract keeps its per-transaction bookkeeping in transient storage (TSTORE/TLOAD,
EIP-1153), and the compiler emits PUSH0 (Shanghai, EIP-3855) everywhere and MCOPY (Cancun,
EIP-5656) for memory copies. A chain whose EVM predates one of them would accept the deployment
and then fail at the first call that reaches the missing instruction, so ``careledger deploy``
refuses such a chain first (:class:`~careledger.errors.ChainUnsupported`, exit 7).

The check is a probe, never a chain id: an ``eth_call`` with no ``to`` runs :data:`PROBE_CODE` as
init code; it executes each instruction and returns 42. :func:`newer_opcodes` finds which of the
post-London instructions the build really uses (``tests/test_chain_requirements.py`` checks the
probe covers all of them and that docs/networks.md says so).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import requests
from web3 import Web3

from careledger.errors import CareLedgerError, ChainUnsupported, NodeUnreachable

__all__ = [
    "NEWER_OPCODES",
    "PROBED",
    "PROBE_CODE",
    "REQUIRED_EVM",
    "newer_opcodes",
    "opcodes",
    "probe_chain",
    "strip_metadata",
]

REQUIRED_EVM = "cancun"

# Instructions younger than the London EVM, with the upgrade that brought each.
NEWER_OPCODES: dict[int, tuple[str, str]] = {
    0x5F: ("PUSH0", "shanghai"),
    0x5C: ("TLOAD", "cancun"),
    0x5D: ("TSTORE", "cancun"),
    0x5E: ("MCOPY", "cancun"),
    0x49: ("BLOBHASH", "cancun"),
    0x4A: ("BLOBBASEFEE", "cancun"),
}

# PUSH1 42, PUSH0, TSTORE (slot 0 = 42), PUSH0, TLOAD, PUSH0, MSTORE (mem[0] = 42),
# PUSH1 32, PUSH0, PUSH1 32, MCOPY (mem[32] = mem[0]), PUSH1 32, PUSH1 32, RETURN (mem[32..64]).
PROBE_CODE = "0x602a5f5d5f5c5f5260205f60205e60206020f3"
PROBED: tuple[str, ...] = ("PUSH0", "TSTORE", "TLOAD", "MCOPY")
_PROBE_ANSWER = (42).to_bytes(32, "big")
# PUSH0, PUSH0, RETURN: runs on Shanghai; tells "no PUSH0 either" (Paris or older) apart.
_PUSH0_ONLY = "0x5f5ff3"


def opcodes(code: bytes) -> list[int]:
    """The instructions of ``code`` in order, PUSH data skipped (a linear disassembly)."""
    out: list[int] = []
    i = 0
    while i < len(code):
        op = code[i]
        out.append(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return out


# solc's CBOR metadata: {"ipfs": 34-byte multihash, "solc": 3-byte version} and its length (0x0033).
# A contract that deploys another (ClaimSettlement's `new ClaimAdmin`) carries the other's creation
# code, metadata included, in the middle of its own: read as instructions, its hash bytes would
# look like any opcode.
_EMBEDDED_METADATA = re.compile(rb"\xa2\x64ipfs\x58\x22.{34}\x64solc\x43.{3}\x00\x33", re.DOTALL)


def strip_metadata(code: bytes) -> bytes:
    """``code`` without the CBOR metadata solc appends (its length is the last two bytes), and
    without the metadata of any contract's creation code embedded in it."""
    if len(code) >= 2:
        length = int.from_bytes(code[-2:], "big")
        if 0 < length + 2 <= len(code) and code[-(length + 2)] & 0xE0 == 0xA0:
            code = code[: -(length + 2)]
    return _EMBEDDED_METADATA.sub(b"", code)


def newer_opcodes(bytecodes: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """Post-London instructions used by ``(name, hex bytecode)`` pairs: mnemonic -> contract names.
    Creation code is read without its trailing metadata, so constructor and runtime are both seen."""
    used: dict[str, set[str]] = {}
    for name, hexcode in bytecodes:
        code = bytes.fromhex(hexcode.removeprefix("0x"))
        # Solidity creation code: constructor, then the runtime with its metadata at the end.
        for op in opcodes(strip_metadata(code)):
            if op in NEWER_OPCODES:
                used.setdefault(NEWER_OPCODES[op][0], set()).add(name)
    return used


def _run(w3: Web3, code: str) -> tuple[bytes | None, str]:
    """Run ``code`` as init code in an eth_call: (returned bytes, "") or (None, the node's error)."""
    call: Any = {"data": code, "gas": 100_000}  # no sender: nothing is charged, any node runs it
    try:
        return bytes(w3.eth.call(call, "latest")), ""
    except CareLedgerError:
        raise
    except requests.RequestException as exc:
        raise NodeUnreachable(f"the node stopped answering during the EVM probe ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - whatever the EVM refused, in the node's words
        return None, _words(exc)


def _words(exc: Exception) -> str:
    response = getattr(exc, "rpc_response", None)
    if isinstance(response, dict) and isinstance(response.get("error"), dict):
        return str(response["error"].get("message"))
    return str(getattr(exc, "message", None) or exc) or type(exc).__name__


def probe_chain(w3: Web3) -> None:
    """:class:`ChainUnsupported` unless the chain runs every instruction the suite needs."""
    out, err = _run(w3, PROBE_CODE)
    if out == _PROBE_ANSWER:
        return
    chain_id = w3.eth.chain_id
    older, _ = _run(w3, _PUSH0_ONLY)
    if older is None:
        level = "it lacks PUSH0 (Shanghai), so its EVM is Paris or older"
    else:
        level = "it runs PUSH0 (Shanghai) but not transient storage or MCOPY (Cancun)"
    said = f"the node said: {err}" if err else f"the probe returned 0x{(out or b'').hex()}"
    raise ChainUnsupported(
        f"chain {chain_id} cannot run the CareLedger suite: {level}; the contracts need the "
        f"{REQUIRED_EVM.capitalize()} EVM ({', '.join(PROBED)}; see docs/networks.md) ({said}). "
        "Nothing was deployed."
    )
