"""Event arguments and derived state as exact JSON text, and back.

Stored event arguments are the exact JSON of :mod:`careledger.exactjson` (``abi_value``: addresses
checksummed, bytes as ``0x`` hex, integers wider than 48 bits as decimal strings or, for a
``uint256`` identifier, ``0x`` + 64 hex digits), so an API reader gets them as they are stored.
:func:`python_args` turns them back into the values the ABI decoder gives
(:func:`careledger.indexer._decode`): that is what the domains' ``replay.reduce`` receive.

Derived state (the reducers' dictionaries: tuple and bytes keys, tuples, bytes, integers of any
size) is kept as tagged JSON (:func:`dump_state` / :func:`load_state`), never as pickle: a store
file read back can hold data, never code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from careledger.abi import hashed_when_indexed, type_string
from careledger.errors import EnvironmentProblem
from careledger.exactjson import MAX_SAFE_INTEGER, abi_value

__all__ = ["dump_state", "exact_args", "load_state", "python_args", "python_value"]

Param = Mapping[str, Any]


def _type(p: Param) -> str:
    return str(p["type"])


def exact_args(params: Sequence[Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """Decoded event arguments (by name) in exact JSON form, by their ABI parameters."""
    out: dict[str, Any] = {}
    for i, p in enumerate(params):
        name = str(p.get("name") or f"arg{i}")
        v = values[name]
        if p.get("indexed") and isinstance(v, str) and not _type(p).startswith(("address", "uint", "int", "bool")):
            out[name] = v  # an indexed dynamic value: its hash, already 0x hex
            continue
        out[name] = abi_value(_type(p), v, name, p.get("components", ()))
    return out


def python_value(abi_type: str, value: Any, components: Sequence[Param] = ()) -> Any:
    """One exact-JSON value back in the form eth-abi decodes it (tuples for tuples and arrays)."""
    if abi_type.endswith("]"):
        inner = abi_type[: abi_type.rindex("[")]
        return tuple(python_value(inner, v, components) for v in value)
    if abi_type == "tuple":
        if isinstance(value, Mapping):
            return tuple(python_value(_type(c), value[str(c["name"])], c.get("components", ())) for c in components)
        return tuple(python_value(_type(c), v, c.get("components", ())) for c, v in zip(components, value, strict=True))
    if abi_type in ("address", "string"):
        return value
    if abi_type == "bool":
        return bool(value)
    if abi_type.startswith("bytes"):
        return bytes.fromhex(value[2:])
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    return int(value)


def python_args(params: Sequence[Param], args: Mapping[str, Any]) -> dict[str, Any]:
    """Stored (exact JSON) event arguments back in the decoder's form, by their ABI parameters."""
    out: dict[str, Any] = {}
    for i, p in enumerate(params):
        name = str(p.get("name") or f"arg{i}")
        typ = _type(p)
        v = args[name]
        if p.get("indexed") and hashed_when_indexed(type_string(p)):
            out[name] = v  # the decoder keeps an indexed dynamic value as its 0x hash
        else:
            out[name] = python_value(typ, v, p.get("components", ()))
    return out


# ---------------------------------------------------------------------------- derived state


def _enc(v: Any) -> Any:
    if v is None or isinstance(v, bool | str | float):
        return v
    if isinstance(v, int):
        return v if abs(v) <= MAX_SAFE_INTEGER else {"$i": str(v)}
    if isinstance(v, bytes | bytearray):
        return {"$b": bytes(v).hex()}
    if isinstance(v, tuple):
        return {"$t": [_enc(x) for x in v]}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, set | frozenset):
        # Sorted by their encoding, so the same set is always stored as the same text.
        return {"$s": sorted((_enc(x) for x in v), key=lambda e: json.dumps(e, sort_keys=True))}
    if isinstance(v, Mapping):
        if all(isinstance(k, str) for k in v):
            return {"$d": {k: _enc(x) for k, x in v.items()}}
        return {"$m": [[_enc(k), _enc(x)] for k, x in v.items()]}
    raise TypeError(f"derived state holds a {type(v).__name__}, which the store cannot keep")


def _dec(v: Any) -> Any:
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if not isinstance(v, dict):
        return v
    ((tag, body),) = v.items()
    if tag == "$i":
        return int(body)
    if tag == "$b":
        return bytes.fromhex(body)
    if tag == "$t":
        return tuple(_dec(x) for x in body)
    if tag == "$d":
        return {k: _dec(x) for k, x in body.items()}
    if tag == "$m":
        return {_dec(k): _dec(x) for k, x in body}
    if tag == "$s":
        return {_dec(x) for x in body}
    raise EnvironmentProblem(f"the index's stored derived state has an unknown tag {tag!r}: rebuild the index")


def dump_state(state: Mapping[str, Any]) -> str:
    """A reducer's state as tagged JSON text (exact for every integer, bytes and tuple key)."""
    return json.dumps(_enc(state), separators=(",", ":"))


def load_state(text: str) -> dict[str, Any]:
    state = _dec(json.loads(text))
    if not isinstance(state, dict):
        raise EnvironmentProblem("the index's stored derived state is not an object: rebuild the index")
    return state
