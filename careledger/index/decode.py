"""Logs to stored rows, by the ABIs of the compiler output (nothing hand-written per event).

:class:`LogDecoder` knows every event of the suite's deployed contracts (``careledger/artifacts``):
for a log it finds the event by address and topic 0, decodes the indexed arguments from the topics
and the others from the data (a direct reader of ABI words, compiled per event from the ABI, for
every type but fixed-point and function ones: static values, ``bytes``, ``string``, fixed and
dynamic arrays, tuples, nested; eth-abi for the rest and for any data the reader does not vouch
for: the same values :func:`careledger.indexer._decode` gives), and writes them as exact JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address

from careledger.abi import EventAbi
from careledger.abi import type_string as _type_string
from careledger.artifacts import Artifacts
from careledger.chain import checksum
from careledger.deploy import SUITE_DOMAINS, domain_module
from careledger.deployments import Deployment
from careledger.errors import InvalidInput
from careledger.exactjson import abi_value
from careledger.index.codec import python_args
from careledger.index.schema import LOG_INDEX_BITS
from careledger.indexer import DecodedEvent

__all__ = ["EventSpec", "LogDecoder", "suite_contracts"]


@lru_cache(maxsize=65536)
def _checksum(raw: bytes) -> str:
    return to_checksum_address(raw)


def suite_contracts(deployment: Deployment) -> list[tuple[str, str]]:
    """``(domain, deployment name)`` of every contract a landed domain's replay reduces."""
    out: list[tuple[str, str]] = []
    for domain in SUITE_DOMAINS:
        module = domain_module(domain, "replay")
        if module is None:
            continue
        optional = set(getattr(module, "OPTIONAL_CONTRACTS", ()))
        for name in module.CONTRACTS:
            if name in deployment.contracts or name not in optional:
                out.append((domain, name))
    return out


def extra_keys() -> dict[str, str]:
    """``{event name: argument}`` the report modules want searchable in ``k4``."""
    from careledger.index.reports import REPORT_MODULES

    keys: dict[str, str] = {}
    for module in REPORT_MODULES:
        keys.update(getattr(module, "EXTRA_KEYS", {}))
    return keys


@dataclass
class EventSpec:
    contract: str
    name: str
    params: list[dict[str, Any]]
    indexed: list[tuple[str, str]] = field(default_factory=list)
    plain: list[tuple[str, str]] = field(default_factory=list)
    plain_params: list[dict[str, Any]] = field(default_factory=list)
    fast: bool = True
    extra: str | None = None
    topic_conv: list[Converter | None] = field(default_factory=list)
    plan: Callable[[bytes], dict[str, Any]] | None = None

    def slot(self, arg: str) -> str:
        """The key column (``k1``..``k4``) an argument of this event is searchable in."""
        for i, (n, _) in enumerate(self.indexed):
            if n == arg:
                return f"k{i + 1}"
        if self.extra == arg:
            return "k4"
        raise KeyError(f"{self.contract}.{self.name}.{arg} is not a key (not indexed, not an extra key)")

    def key_value(self, arg: str, value: Any) -> str:
        """``value`` in the exact JSON text form a key column holds for ``arg``."""
        p = next(p for p in self.params if p["name"] == arg)
        typ = str(p["type"])
        try:
            if typ == "address":
                value = checksum(str(value), arg)
            elif typ.startswith("bytes") and isinstance(value, str):
                raw = bytes.fromhex(value[2:] if value.startswith("0x") else value)
                if len(raw) != int(typ[5:] or len(raw)):
                    raise ValueError(f"{len(raw)} bytes")
                value = raw
            elif typ.startswith(("uint", "int")) and isinstance(value, str):
                value = int(value, 16) if value.startswith("0x") else int(value)
            return _key_text(abi_value(typ, value, arg))
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"{arg} {value!r} is not a {typ} ({exc})") from None


def _key_text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


# json.dumps with any option builds a new encoder per call; the row encoder is built once.
_ROW_JSON = json.JSONEncoder(separators=(",", ":")).encode


Converter = Callable[[bytes], Any]
Reader = Callable[[bytes, int], Any]

_ZERO = bytes(32)


class _Malformed(ValueError):
    """Data the direct reader does not vouch for (bad padding, out of bounds, bad UTF-8): the
    log is handed to eth-abi, which decodes it or raises as it always did."""


def word_converter(typ: str, name: str) -> Converter | None:
    """A function from one 32-byte ABI word to the exact JSON value
    (:func:`careledger.exactjson.abi_value`'s) of a static elementary type; None for others.

    It is at least as strict as eth-abi: padding that eth-abi refuses (an address or a
    ``uint64`` with high bytes set, a ``bool`` other than 0 or 1, a ``bytes4`` with trailing
    bytes) raises :class:`_Malformed`, so the caller falls back to eth-abi and gets its answer."""
    if typ == "address":

        def address(w: bytes) -> str:
            if w[:12] != _ZERO[:12]:
                raise _Malformed("address word with non-zero padding")
            return _checksum(w[12:])

        return address
    if typ == "bool":

        def boolean(w: bytes) -> bool:
            v = int.from_bytes(w, "big")
            if v > 1:
                raise _Malformed("bool word that is not 0 or 1")
            return v == 1

        return boolean
    m = re.match(r"^bytes(\d+)$", typ)
    if m:
        n = int(m.group(1))
        if not 1 <= n <= 32:
            return None
        pad = _ZERO[n:]

        def fixed_bytes(w: bytes) -> str:
            if w[n:] != pad:
                raise _Malformed(f"bytes{n} word with non-zero padding")
            return "0x" + w[:n].hex()

        return fixed_bytes
    m = re.match(r"^(u?)int(\d*)$", typ)
    if not m:
        return None
    signed, bits = m.group(1) == "", int(m.group(2) or 256)
    if not (8 <= bits <= 256 and bits % 8 == 0):
        return None
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)

    def integer(w: bytes) -> int:
        v = int.from_bytes(w, "big", signed=signed)
        if not lo <= v < hi:
            raise _Malformed(f"{typ} word with non-zero padding")
        return v

    if bits <= 48:
        return integer
    if not signed and bits == 256 and (name == "id" or name.endswith("Id")):
        return lambda w: "0x" + w.hex()  # a uint256 identifier: 0x + 64 hex digits (no padding)
    if bits == 256:
        return lambda w: str(int.from_bytes(w, "big", signed=signed))
    return lambda w: str(integer(w))


def _uint_at(d: bytes, at: int) -> int:
    """A length or an offset word; bounded by the data (so is whatever it points at)."""
    if at + 32 > len(d):
        raise _Malformed("data ends inside a word")
    v = int.from_bytes(d[at : at + 32], "big")
    if v > len(d):
        raise _Malformed("an offset or length beyond the data")
    return v


@dataclass(frozen=True)
class _Kind:
    """One ABI type compiled to a reader: ``size`` bytes in its parent's head (32, an offset
    word, when ``dynamic``), ``read(data, at)`` its exact JSON value from the position of its
    static part (for a dynamic type, where the offset points). A reader may assume the bytes
    ``[at, at + size)`` of a static type exist (its parent checked them)."""

    dynamic: bool
    size: int
    read: Reader


def _word_kind(conv: Converter) -> _Kind:
    return _Kind(False, 32, lambda d, at: conv(d[at : at + 32]))


def _dynamic_bytes(text: bool) -> _Kind:
    def read(d: bytes, at: int) -> Any:
        n = _uint_at(d, at)
        start, end = at + 32, at + 32 + n
        padded = start + -(-n // 32) * 32
        if padded > len(d) or d[end:padded] != _ZERO[: padded - end]:
            raise _Malformed("dynamic bytes out of bounds or with non-zero padding")
        raw = d[start:end]
        if text:
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _Malformed("a string that is not UTF-8") from exc
        return "0x" + raw.hex()

    return _Kind(True, 32, read)


def _sequence(d: bytes, base: int, n: int, elem: _Kind) -> list[Any]:
    """``n`` elements of ``elem`` laid out as a tuple's head from ``base``."""
    if base + n * elem.size > len(d):
        raise _Malformed("an array beyond the data")
    read = elem.read
    if elem.dynamic:
        return [read(d, base + _uint_at(d, base + 32 * i)) for i in range(n)]
    size = elem.size
    return [read(d, base + size * i) for i in range(n)]


def _array_kind(elem: _Kind, length: int | None) -> _Kind:
    if length is None:

        def dynamic_array(d: bytes, at: int) -> list[Any]:
            return _sequence(d, at + 32, _uint_at(d, at), elem)

        return _Kind(True, 32, dynamic_array)
    if elem.dynamic:
        return _Kind(True, 32, lambda d, at: _sequence(d, at, length, elem))
    size, read = elem.size, elem.read
    return _Kind(False, size * length, lambda d, at: [read(d, at + size * i) for i in range(length)])


def _tuple_kind(fields: list[tuple[str, _Kind]]) -> _Kind:
    dynamic = any(k.dynamic for _, k in fields)
    head = sum(k.size for _, k in fields)
    layout = []
    offset = 0
    for name, kind in fields:
        layout.append((name, offset, kind.dynamic, kind.read))
        offset += kind.size

    def read(d: bytes, at: int) -> dict[str, Any]:
        if dynamic and at + head > len(d):
            raise _Malformed("a tuple beyond the data")
        out: dict[str, Any] = {}
        for name, off, dyn, rd in layout:
            out[name] = rd(d, at + _uint_at(d, at + off)) if dyn else rd(d, at + off)
        return out

    return _Kind(dynamic, 32 if dynamic else head, read)


_ARRAY_TYPE = re.compile(r"^(.*)\[(\d*)\]$")


def compile_kind(p: Mapping[str, Any], typ: str | None = None, name: str | None = None) -> _Kind | None:
    """The reader of ABI parameter ``p`` (type ``typ``, named ``name`` for the identifier rule),
    giving exactly :func:`careledger.exactjson.abi_value` of what eth-abi decodes; None for a
    type it does not read (fixed-point, function), which eth-abi then decodes."""
    typ = str(p["type"]) if typ is None else typ
    name = str(p.get("name") or "") if name is None else name
    array = _ARRAY_TYPE.match(typ)
    if array:
        elem = compile_kind(p, array.group(1), name)  # elements keep the parameter's name
        if elem is None:
            return None
        return _array_kind(elem, int(array.group(2)) if array.group(2) else None)
    if typ == "tuple":
        fields: list[tuple[str, _Kind]] = []
        for i, c in enumerate(p.get("components", ())):
            cname = str(c.get("name") or f"arg{i}")
            kind = compile_kind(c, str(c["type"]), cname)
            if kind is None:
                return None
            fields.append((cname, kind))
        return _tuple_kind(fields)
    if typ in ("bytes", "string"):
        return _dynamic_bytes(typ == "string")
    conv = word_converter(typ, name)
    return None if conv is None else _word_kind(conv)


def data_plan(params: Sequence[Mapping[str, Any]]) -> Callable[[bytes], dict[str, Any]] | None:
    """A decoder of the non-indexed arguments (the event data, a tuple of ``params``) without
    eth-abi, for every type but fixed-point and function ones (None then: eth-abi decodes).
    It returns each argument's exact JSON value by name, or raises :class:`_Malformed` where
    eth-abi might disagree (the caller then asks eth-abi)."""
    fields: list[tuple[str, _Kind]] = []
    for p in params:
        kind = compile_kind(p)
        if kind is None:
            return None
        fields.append((str(p["name"]), kind))
    tup = _tuple_kind(fields)
    head = sum(k.size for _, k in fields)

    def decode(data: bytes) -> dict[str, Any]:
        if head > len(data):
            raise _Malformed("data shorter than the arguments' head")
        return tup.read(data, 0)  # type: ignore[no-any-return]

    return decode


class LogDecoder:
    def __init__(self, deployment: Deployment, artifacts: Artifacts) -> None:
        self.deployment = deployment
        self.contracts = suite_contracts(deployment)
        extras = extra_keys()
        self.by_address: dict[str, dict[bytes, EventSpec]] = {}
        self.by_name: dict[tuple[str, str], EventSpec] = {}
        self.address_of: dict[str, str] = {}
        self.domain_of: dict[str, str] = {}
        self.windows: dict[str, tuple[int, int | None]] = {}  # lower-case address -> (first, last block)
        for domain, name in self.contracts:
            rec = deployment.contracts[name]
            table: dict[bytes, EventSpec] = {}
            for item in artifacts[name].abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                types = [_type_string(p) for p in item["inputs"]]
                spec = EventSpec(name, item["name"], list(item["inputs"]))
                for p, typ in zip(item["inputs"], types, strict=True):
                    if p.get("indexed"):
                        spec.indexed.append((p["name"], typ))
                    else:
                        spec.plain.append((p["name"], typ))
                        spec.plain_params.append(p)
                spec.topic_conv = [word_converter(typ, n) for n, typ in spec.indexed]
                spec.plan = data_plan(spec.plain_params)
                spec.fast = spec.plan is not None
                extra = extras.get(item["name"])
                if extra and extra in {n for n, _ in spec.plain}:
                    spec.extra = extra
                table[EventAbi.of(item).topic] = spec
                self.by_name[(name, item["name"])] = spec
            # A successor version's history (docs/upgrades.md): each predecessor's logs count up
            # to the snapshot block its state was copied at, then the successor's.
            for address, first, last in rec.segments():
                self.by_address[address.lower()] = table
                self.windows[address.lower()] = (first, last)
            self.address_of[name] = to_checksum_address(rec.address)
            self.domain_of[name] = domain

    @property
    def addresses(self) -> list[str]:
        return [to_checksum_address(a) for a in self.windows]

    @property
    def start_block(self) -> int:
        return min(first for first, _ in self.windows.values())

    def spec(self, contract: str, event: str) -> EventSpec:
        try:
            return self.by_name[(contract, event)]
        except KeyError:
            raise KeyError(f"{contract} has no event {event} in this build") from None

    def row(self, log: Mapping[str, Any], ts: int) -> dict[str, Any] | None:
        """The stored row of one log (None for a log of an event the build does not know)."""
        table = self.by_address.get(str(log["address"]).lower())
        topics: Sequence[str] = log["topics"]
        if table is None or not topics:
            return None
        last = self.windows[str(log["address"]).lower()][1]
        if last is not None and int(str(log["blockNumber"]), 16) > last:
            return None  # a predecessor's log after its snapshot: not part of the moved state
        spec = table.get(bytes.fromhex(topics[0][2:]))
        if spec is None:
            return None
        args: dict[str, Any] = {}
        keys: list[str | None] = [None, None, None, None]
        for i, ((name, typ), conv, topic) in enumerate(zip(spec.indexed, spec.topic_conv, topics[1:], strict=True)):
            raw = bytes.fromhex(topic[2:])
            if conv is None:
                v = "0x" + raw.hex()  # an indexed dynamic value: its hash
            else:
                try:
                    v = conv(raw)
                except _Malformed:  # eth-abi decides (and raises as it always did)
                    v = abi_value(typ, abi_decode([typ], raw)[0], name)
            args[name] = v
            keys[i] = v if isinstance(v, str) else json.dumps(v)
        data = bytes.fromhex(str(log["data"])[2:])
        plain: dict[str, Any] | None = None
        if spec.plan is not None:
            try:
                plain = spec.plan(data)
            except _Malformed:
                plain = None  # eth-abi decides (and raises as it always did)
        if plain is None:
            values = abi_decode([typ for _, typ in spec.plain], data)
            plain = {
                name: abi_value(str(p["type"]), v, name, p.get("components", ()))
                for p, (name, _typ), v in zip(spec.plain_params, spec.plain, values, strict=True)
            }
        args.update(plain)
        if spec.extra is not None:
            keys[3] = _key_text(args[spec.extra])
        block = int(log["blockNumber"], 16)
        log_index = int(log["logIndex"], 16)
        ordered = {p["name"]: args[p["name"]] for p in spec.params}
        return {
            "id": (block << LOG_INDEX_BITS) | log_index,
            "block": block,
            "log_index": log_index,
            "tx_hash": str(log["transactionHash"]),
            "contract": spec.contract,
            "name": spec.name,
            "ts": ts,
            "k1": keys[0],
            "k2": keys[1],
            "k3": keys[2],
            "k4": keys[3],
            "args": _ROW_JSON(ordered),
            "parsed": ordered,  # for the report projections in the same transaction (not stored)
        }

    def decoded(
        self, contract: str, name: str, args: Mapping[str, Any], block: int, log_index: int, tx: str, ts: int
    ) -> DecodedEvent:
        """A stored event as the replay modules' reducers receive it."""
        spec = self.spec(contract, name)
        return DecodedEvent(
            contract, name, python_args(spec.params, args), block, log_index, tx, ts, self._address_at(contract, block)
        )

    def _address_at(self, contract: str, block: int) -> str:
        """The address ``contract`` had at ``block``: a predecessor up to its snapshot block, then
        the next version (rows do not store the address; the reducers that key state by it, e.g.
        claims' allowance spent by ``fund``, need the one that emitted)."""
        for address, _first, last in self.deployment.contracts[contract].segments():
            if last is None or block <= last:
                return to_checksum_address(address)
        return self.address_of[contract]
