"""The indexer's direct ABI reader (careledger/index/decode.py) against eth-abi, without a chain.

The reader exists for speed (eth-abi was most of the indexer's decoding time); it must give
exactly ``abi_value`` of what eth-abi decodes for every event of the build, for every type the
suite's events use and the ones they could use (signed integers, strings, bytes, fixed and
nested arrays, tuples with dynamic members), at the edge values (0, the maximum, the minimum of
a signed type, empty and odd-length dynamic values); and where the data is not what eth-abi
accepts, it must hand the log to eth-abi rather than answer differently."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from careledger.abi import type_string as _type_string
from careledger.artifacts import load_artifacts
from careledger.exactjson import abi_value
from careledger.index.decode import _Malformed, data_plan, word_converter

_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")
MODES = ("zero", "max", "min", "random")


def value(p: Mapping[str, Any], typ: str, mode: str, rng: random.Random) -> Any:
    """A value of ABI type ``typ`` (components from ``p``) in eth-abi's Python form."""
    array = _ARRAY.match(typ)
    if array:
        n = int(array.group(2)) if array.group(2) else {"zero": 0, "max": 3, "min": 1}.get(mode, rng.randrange(4))
        return [value(p, array.group(1), mode, rng) for _ in range(n)]
    if typ == "tuple":
        return tuple(value(c, str(c["type"]), mode, rng) for c in p["components"])
    if typ == "address":
        raw = {"zero": b"\0" * 20, "max": b"\xff" * 20}.get(mode) or rng.randbytes(20)
        return "0x" + raw.hex()
    if typ == "bool":
        return {"zero": False, "max": True}.get(mode, rng.random() < 0.5)
    if typ == "string":
        return {"zero": "", "max": "ü€😀" * 11, "min": "x" * 32}.get(mode) or "".join(
            rng.choice("ab é😀") for _ in range(rng.randrange(70))
        )
    if typ == "bytes":
        return {"zero": b"", "max": b"\xff" * 33, "min": b"\x01" * 32}.get(mode) or rng.randbytes(rng.randrange(70))
    m = re.match(r"^bytes(\d+)$", typ)
    if m:
        n = int(m.group(1))
        return {"zero": b"\0" * n, "max": b"\xff" * n}.get(mode) or rng.randbytes(n)
    m = re.match(r"^(u?)int(\d*)$", typ)
    assert m, typ
    bits = int(m.group(2) or 256)
    lo, hi = (0, 2**bits - 1) if m.group(1) else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return {"zero": 0, "max": hi, "min": lo}.get(mode, rng.randint(lo, hi))


def eth_abi_json(params: Sequence[Mapping[str, Any]], data: bytes) -> dict[str, Any]:
    values = abi_decode([_type_string(dict(p)) for p in params], data)
    return {
        str(p["name"]): abi_value(str(p["type"]), v, str(p["name"]), p.get("components", ()))
        for p, v in zip(params, values, strict=True)
    }


def encode(params: Sequence[Mapping[str, Any]], mode: str, rng: random.Random) -> bytes:
    return abi_encode([_type_string(dict(p)) for p in params], [value(p, str(p["type"]), mode, rng) for p in params])


def build_events() -> list[tuple[str, dict[str, Any]]]:
    """Every event of every contract in the build."""
    artifacts = load_artifacts()
    out = []
    for name, artifact in sorted(artifacts.contracts.items()):
        for item in artifact.abi:
            if item.get("type") == "event":
                out.append((f"{name}.{item['name']}", item))
    return out


def test_every_event_of_the_build_reads_as_eth_abi_decodes_it():
    events = build_events()
    assert len(events) > 40
    rng = random.Random(17)
    seen_types: set[str] = set()
    for label, item in events:
        plain = [p for p in item["inputs"] if not p.get("indexed")]
        plan = data_plan(plain)
        assert plan is not None, f"{label}: the direct reader does not read it"
        for mode in MODES * 3:
            data = encode(plain, mode, rng)
            assert plan(data) == eth_abi_json(plain, data), (label, mode)
        for p in item["inputs"]:
            seen_types.add(_type_string(p))
            if p.get("indexed") and word_converter(str(p["type"]), str(p["name"])) is not None:
                conv = word_converter(str(p["type"]), str(p["name"]))
                assert conv is not None
                for mode in MODES:
                    word = encode([p], mode, rng)
                    assert conv(word) == eth_abi_json([p], word)[str(p["name"])], (label, p["name"], mode)
    # the suite's events use dynamic arrays of tuples with a dynamic member (claim lines)
    assert any("[]" in t and t.startswith("(") for t in seen_types)


def _p(name: str, typ: str, components: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"name": name, "type": typ, **({"components": components} if components else {})}


LINE = [_p("code", "bytes32"), _p("note", "string"), _p("ids", "bytes32[]"), _p("neg", "int64")]
EVERY_KIND = [
    _p("small", "uint8"),
    _p("wide", "uint128"),
    _p("amount", "uint256"),
    _p("recordId", "uint256"),  # an identifier: 0x + 64 hex
    _p("delta", "int8"),
    _p("offset", "int48"),
    _p("debt", "int256"),
    _p("flag", "bool"),
    _p("who", "address"),
    _p("tag", "bytes1"),
    _p("digest", "bytes32"),
    _p("label", "string"),
    _p("blob", "bytes"),
    _p("triple", "uint16[3]"),
    _p("grid", "int24[2][]"),
    _p("names", "string[]"),
    _p("pairIds", "uint256[2]"),
    _p("point", "tuple", [_p("x", "int32"), _p("y", "uint256"), _p("inner", "tuple", [_p("ok", "bool")])]),
    _p("line", "tuple", LINE),
    _p("lines", "tuple[]", LINE),
    _p("two", "tuple[2]", LINE),
    _p("blobs", "bytes[2]"),
]


@pytest.mark.parametrize("mode", MODES)
def test_every_kind_of_type_at_its_edges(mode: str):
    plan = data_plan(EVERY_KIND)
    assert plan is not None
    rng = random.Random(mode)
    for _ in range(20 if mode == "random" else 1):
        data = encode(EVERY_KIND, mode, rng)
        got = plan(data)
        assert got == eth_abi_json(EVERY_KIND, data)
    if mode == "max":
        assert got["amount"] == str(2**256 - 1) and got["recordId"] == "0x" + "ff" * 32
        assert got["small"] == 255 and got["debt"] == str(2**255 - 1)
    if mode == "min":
        assert got["delta"] == -128 and got["offset"] == -(2**47) and got["debt"] == str(-(2**255))
        assert got["line"]["neg"] == str(-(2**63))


def test_types_it_does_not_read_are_left_to_eth_abi():
    assert data_plan([_p("price", "fixed128x18")]) is None
    assert data_plan([_p("s", "tuple", [_p("f", "ufixed128x18")])]) is None


def words(*values: int) -> bytes:
    return b"".join(v.to_bytes(32, "big") for v in values)


@pytest.mark.parametrize(
    ("params", "data"),
    [
        ([_p("who", "address")], words(2**160)),  # high bytes set
        ([_p("small", "uint8")], words(256)),
        ([_p("delta", "int8")], words(128)),  # not a sign extension
        ([_p("flag", "bool")], words(2)),
        ([_p("tag", "bytes1")], b"\x01\x02" + bytes(30)),
        ([_p("label", "string")], words(32, 2) + b"\xff\xfe" + bytes(30)),  # not UTF-8
        ([_p("blob", "bytes")], words(32, 40) + bytes(32)),  # longer than the data
        ([_p("blob", "bytes")], words(32, 1) + b"\x01\x02" + bytes(30)),  # padding not zero
        ([_p("ids", "uint256[]")], words(32, 5)),  # a length beyond the data
        ([_p("ids", "uint256[]")], words(64)),  # an offset beyond the data
        ([_p("a", "uint256"), _p("b", "uint256")], words(1)),  # shorter than the head
    ],
    ids=lambda v: "" if isinstance(v, bytes) else "-".join(f"{p['type']}" for p in v),
)
def test_data_it_does_not_vouch_for_goes_to_eth_abi(params: list[dict[str, Any]], data: bytes):
    """Malformed data raises _Malformed in the direct reader, and LogDecoder.row then stores
    whatever eth-abi makes of it (eth-abi refuses most of these; a short head or an array
    running past the data it reads as zero words), so the index never stores a value eth-abi
    would not give."""
    plan = data_plan(params)
    assert plan is not None
    with pytest.raises(_Malformed):
        plan(data)
