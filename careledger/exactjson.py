"""Exact JSON: the one encoder for every JSON document CareLedger gives a program to read.

JavaScript's ``JSON.parse`` and ``jq`` read every JSON number as an IEEE-754 double, so an
integer above 2^53 - 1 comes back rounded. The convention (``docs/json.md``):

- identifiers, hashes, digests and raw bytes are ``0x`` hex strings; a ``uint256`` identifier
  (a consent id) is ``0x`` + 64 hex digits; addresses are EIP-55 checksummed strings;
- token amounts and every other integer whose Solidity type is wider than 48 bits are decimal
  strings (``"748000000"``);
- integers that are small by their type (``uint8`` .. ``uint48``: timestamps, quantities, codes,
  enum values, plan ids) and small by nature (block numbers, log indices, gas used, chain ids,
  counts, exit codes) stay JSON numbers.

A field's JSON type follows its type, never the magnitude of its value. The same cut (48 bits)
is viem's: it decodes ``uint48`` and narrower as ``number`` and wider as ``bigint``.

:func:`dumps` is the encoder: it turns ``bytes`` into hex and *refuses* (:class:`UnsafeNumber`)
an integer beyond +/-(2^53 - 1) that reached it as a number, so a field that missed the
convention fails loudly instead of being rounded by the reader. :func:`abi_value` converts a
value decoded from the chain by its ABI type (custom-error arguments, event arguments, EIP-712
messages). This module imports nothing from the project.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from careledger.errors import InvalidInput, UnsafeNumber

__all__ = [
    "MAX_SAFE_INTEGER",
    "UnsafeNumber",
    "abi_value",
    "abi_values",
    "dumps",
    "exact",
    "quantity",
    "uint_id",
    "unsafe_integers",
]

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer a JSON reader that uses doubles (JavaScript, jq) reads exactly."""

_NUMBER_BITS = 48
"""Integer ABI types up to this width are JSON numbers; wider ones are strings."""

_INT_TYPE = re.compile(r"^(u?)int(\d*)$")
_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")


def uint_id(value: int | bytes) -> str:
    """A ``uint256``/``bytes32`` identifier as ``0x`` + 64 hex digits."""
    if isinstance(value, bytes | bytearray):
        if len(value) != 32:
            raise InvalidInput(f"an identifier is 32 bytes, not {len(value)}")
        return "0x" + bytes(value).hex()
    if not 0 <= int(value) < 2**256:
        raise InvalidInput(f"identifier {value} is not a uint256")
    return f"0x{int(value):064x}"


def quantity(value: int) -> str:
    """A token amount (or any wide integer quantity) as a decimal string."""
    return str(int(value))


def _is_id_name(name: str) -> bool:
    return name == "id" or name.endswith("Id")


def _split_tuple(inner: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    if inner:
        parts.append(inner[start:])
    return parts


def abi_value(abi_type: str, value: Any, name: str = "", components: Sequence[Mapping[str, Any]] = ()) -> Any:
    """``value`` (as web3/eth-abi decoded it) in the JSON form its ABI type calls for.

    ``name`` is the parameter's name: a ``uint256`` named ``id`` or ``...Id`` is an identifier
    (``0x`` + 64 hex), any other integer wider than 48 bits a decimal string. ``components`` (the
    ABI JSON's, with names) turn a tuple into an object; without them a tuple is a list."""
    array = _ARRAY.match(abi_type)
    if array:
        return [abi_value(array.group(1), v, name, components) for v in value]
    if abi_type.startswith("("):
        types = _split_tuple(abi_type[1:-1])
        return [abi_value(t, v) for t, v in zip(types, value, strict=True)]
    if abi_type == "tuple":
        return abi_values(components, value)
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type == "bool":
        return bool(value)
    if abi_type == "string":
        return str(value)
    if abi_type.startswith("bytes"):
        return "0x" + bytes(value).hex()
    m = _INT_TYPE.match(abi_type)
    if m:
        bits = int(m.group(2) or 256)
        if bits <= _NUMBER_BITS:
            return int(value)
        if m.group(1) == "u" and bits == 256 and _is_id_name(name):
            return uint_id(int(value))
        return quantity(int(value))
    raise InvalidInput(f"no JSON form for ABI type {abi_type!r}")


def abi_values(params: Sequence[Mapping[str, Any]], values: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    """Decoded values of ABI parameters (``[{"name", "type", ...}]``) as a JSON object, by name."""
    out: dict[str, Any] = {}
    for i, p in enumerate(params):
        name = str(p.get("name") or f"arg{i}")
        v = values[name] if isinstance(values, Mapping) else values[i]
        out[name] = abi_value(str(p["type"]), v, name, p.get("components", ()))
    return out


def exact(data: Any, path: str = "$") -> Any:
    """``data`` made of JSON types only: bytes -> ``0x`` hex, enums -> their names, tuples ->
    lists, paths and decimals -> strings; an unsafe integer raises :class:`UnsafeNumber`."""
    if data is None or isinstance(data, bool | str | float):
        return data
    if isinstance(data, Enum) and not isinstance(data, int):
        return data.name
    if isinstance(data, int):
        if abs(data) > MAX_SAFE_INTEGER:
            raise UnsafeNumber(
                f"{path} = {data} is beyond 2^53 - 1: it must be a string (see docs/json.md), not a JSON number"
            )
        return int(data)
    if isinstance(data, bytes | bytearray | memoryview):
        return "0x" + bytes(data).hex()
    if isinstance(data, Mapping):
        return {str(k): exact(v, f"{path}.{k}") for k, v in data.items()}
    if isinstance(data, list | tuple | set | frozenset):
        return [exact(v, f"{path}[{i}]") for i, v in enumerate(data)]
    if isinstance(data, Path | Decimal):
        return str(data)
    to_json = getattr(data, "to_json", None)
    if callable(to_json):
        return exact(to_json(), path)
    return str(data)


def dumps(data: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """``data`` as exact JSON text (see the module docstring); the one encoder of the project."""
    return json.dumps(exact(data), indent=indent, sort_keys=sort_keys)


def unsafe_integers(text: str) -> list[str]:
    """The integer literals of JSON ``text`` a double-based reader would not read exactly.

    Parses with a ``parse_int`` hook that sees each literal's digits, so nothing is rounded before
    the check (``1e30`` style floats are not integers and are not reported)."""
    found: list[str] = []

    def hook(digits: str) -> int:
        value = int(digits)
        if abs(value) > MAX_SAFE_INTEGER:
            found.append(digits)
        return value

    json.loads(text, parse_int=hook)
    return found
