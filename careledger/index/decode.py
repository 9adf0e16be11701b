"""Logs to stored rows, by the ABIs of the compiler output (nothing hand-written per event).

:class:`LogDecoder` knows every event of the suite's deployed contracts (``careledger/artifacts``):
for a log it finds the event by address and topic 0, decodes the indexed arguments from the topics
and the others from the data (a direct word reader for static types, eth-abi for dynamic ones:
the same values :func:`careledger.indexer._decode` gives), and writes them as exact JSON.
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
from eth_utils.crypto import keccak

from careledger.artifacts import Artifacts
from careledger.chain import _type_string, checksum
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
    plan: list[tuple[str, Reader]] | None = None

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


Converter = Callable[[bytes], Any]


def word_converter(typ: str, name: str) -> Converter | None:
    """A function from one 32-byte ABI word to the exact JSON value
    (:func:`careledger.exactjson.abi_value`'s) of a static elementary type; None for others."""
    if typ == "address":
        return lambda w: _checksum(w[12:])
    if typ == "bool":
        return lambda w: w[-1] != 0
    m = re.match(r"^bytes(\d+)$", typ)
    if m:
        n = int(m.group(1))
        return lambda w: "0x" + w[:n].hex()
    m = re.match(r"^(u?)int(\d*)$", typ)
    if not m:
        return None
    signed, bits = m.group(1) == "", int(m.group(2) or 256)
    if bits <= 48:
        return lambda w: int.from_bytes(w, "big", signed=signed)
    if not signed and bits == 256 and (name == "id" or name.endswith("Id")):
        return lambda w: "0x" + w.hex()  # a uint256 identifier: 0x + 64 hex digits
    return lambda w: str(int.from_bytes(w, "big", signed=signed))


def _is_static_tuple(p: Mapping[str, Any]) -> bool:
    return str(p["type"]) == "tuple" and all(
        word_converter(str(c["type"]), str(c["name"])) is not None for c in p.get("components", ())
    )


def _tuple_converter(p: Mapping[str, Any]) -> tuple[int, Callable[[bytes, int], Any]]:
    """(words, reader) of a tuple of static elementary components: the reader turns the words
    at an offset into the exact JSON object (components by name)."""
    comps = [(str(c["name"]), word_converter(str(c["type"]), str(c["name"]))) for c in p["components"]]

    def read(data: bytes, at: int) -> dict[str, Any]:
        return {n: conv(data[at + 32 * i : at + 32 * i + 32]) for i, (n, conv) in enumerate(comps)}  # type: ignore[misc]

    return len(comps), read


Reader = Callable[[bytes, int], Any]


def _word_at(head: int, conv: Converter) -> Reader:
    return lambda d, _at: conv(d[head : head + 32])


def _tuple_at(head: int, read: Reader) -> Reader:
    return lambda d, _at: read(d, head)


def _element(conv: Converter) -> Reader:
    return lambda d, at: conv(d[at : at + 32])


def _array_at(head: int, size: int, reader: Reader) -> Reader:
    def array(d: bytes, _at: int) -> list[Any]:
        start = int.from_bytes(d[head : head + 32], "big")
        n = int.from_bytes(d[start : start + 32], "big")
        base = start + 32
        return [reader(d, base + 32 * size * i) for i in range(n)]

    return array


def data_plan(params: Sequence[Mapping[str, Any]]) -> list[tuple[str, Reader]] | None:
    """A decoder for the non-indexed arguments without eth-abi, when every one is a static
    elementary value, a tuple of them, or a dynamic array of either (what the suite's events
    use); None otherwise (eth-abi decodes those). Each reader takes the data and returns the
    argument's exact JSON value."""
    plan: list[tuple[str, Reader]] = []
    head = 0
    for p in params:
        name, typ = str(p["name"]), str(p["type"])
        conv = word_converter(typ, name)
        if conv is not None:
            plan.append((name, _word_at(head, conv)))
            head += 32
        elif _is_static_tuple(p):
            words, read = _tuple_converter(p)
            plan.append((name, _tuple_at(head, read)))
            head += 32 * words
        elif typ.endswith("[]") and typ.count("[") == 1:
            inner = {**p, "type": typ[:-2]}
            elem = word_converter(typ[:-2], name)
            size: int
            reader: Reader
            if elem is not None:
                size, reader = 1, _element(elem)
            elif _is_static_tuple(inner):
                size, reader = _tuple_converter(inner)
            else:
                return None
            plan.append((name, _array_at(head, size, reader)))
            head += 32
        else:
            return None
    return plan


class LogDecoder:
    def __init__(self, deployment: Deployment, artifacts: Artifacts) -> None:
        self.deployment = deployment
        self.contracts = suite_contracts(deployment)
        extras = extra_keys()
        self.by_address: dict[str, dict[bytes, EventSpec]] = {}
        self.by_name: dict[tuple[str, str], EventSpec] = {}
        self.address_of: dict[str, str] = {}
        self.domain_of: dict[str, str] = {}
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
                table[keccak(text=f"{item['name']}({','.join(types)})")] = spec
                self.by_name[(name, item["name"])] = spec
            self.by_address[rec.address.lower()] = table
            self.address_of[name] = to_checksum_address(rec.address)
            self.domain_of[name] = domain

    @property
    def addresses(self) -> list[str]:
        return [self.address_of[n] for _, n in self.contracts]

    @property
    def start_block(self) -> int:
        return min(self.deployment.contracts[n].block for _, n in self.contracts)

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
        spec = table.get(bytes.fromhex(topics[0][2:]))
        if spec is None:
            return None
        args: dict[str, Any] = {}
        keys: list[str | None] = [None, None, None, None]
        for i, ((name, _typ), conv, topic) in enumerate(zip(spec.indexed, spec.topic_conv, topics[1:], strict=True)):
            raw = bytes.fromhex(topic[2:])
            v = conv(raw) if conv is not None else "0x" + raw.hex()  # indexed dynamic value: its hash
            args[name] = v
            keys[i] = v if isinstance(v, str) else json.dumps(v)
        data = bytes.fromhex(str(log["data"])[2:])
        if spec.plan is not None:
            for name, read in spec.plan:
                args[name] = read(data, 0)
        else:
            values = abi_decode([typ for _, typ in spec.plain], data)
            for p, (name, _typ), v in zip(spec.plain_params, spec.plain, values, strict=True):
                args[name] = abi_value(str(p["type"]), v, name, p.get("components", ()))
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
            "args": json.dumps(ordered, separators=(",", ":")),
            "parsed": ordered,  # for the report projections in the same transaction (not stored)
        }

    def decoded(
        self, contract: str, name: str, args: Mapping[str, Any], block: int, log_index: int, tx: str, ts: int
    ) -> DecodedEvent:
        """A stored event as the replay modules' reducers receive it."""
        spec = self.spec(contract, name)
        return DecodedEvent(
            contract, name, python_args(spec.params, args), block, log_index, tx, ts, self.address_of[contract]
        )
