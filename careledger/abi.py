"""The one ABI layer: every ABI fact of the suite, read from the compiler output.

Type strings, signatures, selectors, event topics, event tables (topic → decoder), calldata,
log decoding and revert decoding for any contract of the build (:mod:`careledger.artifacts`),
plus the enums and integer/``keccak256`` constants the Solidity sources of the build declare.
Nothing here is written by hand per contract: a selector or topic is always computed from the
ABI item the compiler emitted, so a changed signature changes it everywhere at once.

Two hand encoders stay outside, for speed, each with a test that holds it to this module:
``careledger.provenance.fastverify`` (the one-scan ``verify`` calldata, imported without
eth_abi) and ``careledger.index.decode`` (the index's direct reader of event data).

Enums and constants come from the source text the build embeds (``sources`` of
``.build/__local__.json``, the exact text solc compiled): ``enum Name { A, B }`` gives the
member order, and ``NAME = <expression>`` of a ``constant`` gives its value when the expression
is an integer literal (``1 << 6``, ``(1 << 7) - 1``, ``4 hours``) or ``keccak256("text")``.
Python's own tables (:mod:`careledger.codes`, the clients' ``IntEnum`` s) are asserted against
these by ``tests/test_abi.py``; the web client gets them generated (``frontend/generate.py``).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from careledger.artifacts import Artifacts, load_artifacts
from careledger.errors import ChainRefused, EnvironmentProblem
from careledger.exactjson import abi_value

__all__ = [
    "ContractAbi",
    "ErrorDecoder",
    "EventAbi",
    "FunctionAbi",
    "calldata",
    "constants",
    "contract",
    "eip712_domain",
    "eip712_fields",
    "enums",
    "event_table",
    "hashed_texts",
    "hashed_when_indexed",
    "selector",
    "signature",
    "topic",
    "type_string",
]

Param = Mapping[str, Any]


def type_string(param: Param) -> str:
    """The canonical ABI type of one parameter: tuples spelled out, ``(uint8,bytes32)[]``."""
    typ = str(param["type"])
    if typ.startswith("tuple"):
        inner = ",".join(type_string(c) for c in param.get("components", []))
        return f"({inner}){typ[5:]}"
    return typ


def signature(item: Param) -> str:
    """``name(type,...)`` of a function, event or error ABI item."""
    return f"{item['name']}({','.join(type_string(p) for p in item.get('inputs', []))})"


def _bytes(data: str | bytes) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    text = str(data)
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


@dataclass(frozen=True)
class FunctionAbi:
    """One function: its selector, input and output types, and calldata encoding."""

    name: str
    signature: str
    selector: bytes
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]

    @classmethod
    def of(cls, item: Param) -> FunctionAbi:
        sig = signature(item)
        return cls(
            name=str(item["name"]),
            signature=sig,
            selector=keccak(text=sig)[:4],
            input_types=tuple(type_string(p) for p in item.get("inputs", [])),
            output_types=tuple(type_string(p) for p in item.get("outputs", [])),
        )

    def calldata(self, *args: Any) -> bytes:
        """Selector and ABI-encoded arguments (the bytes web3's ``ContractFunction`` builds)."""
        return self.selector + abi_encode(list(self.input_types), list(args))

    def decode_output(self, data: str | bytes) -> tuple[Any, ...]:
        """The return values of an ``eth_call`` of this function."""
        return tuple(abi_decode(list(self.output_types), _bytes(data)))


def hashed_when_indexed(typ: str) -> bool:
    """An indexed argument of this canonical type (:func:`type_string`) is stored in its topic
    as the keccak of its encoding (strings, bytes, arrays, tuples), not as its value."""
    return typ in ("string", "bytes") or typ.endswith("]") or typ.startswith("(")


@dataclass(frozen=True)
class EventAbi:
    """One event: its topic and a decoder of its logs."""

    name: str
    signature: str
    topic: bytes
    inputs: tuple[Mapping[str, Any], ...]
    indexed: tuple[tuple[str, str], ...]
    plain: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, item: Param) -> EventAbi:
        sig = signature(item)
        indexed: list[tuple[str, str]] = []
        plain: list[tuple[str, str]] = []
        for i, p in enumerate(item.get("inputs", [])):
            (indexed if p.get("indexed") else plain).append((str(p.get("name") or f"arg{i}"), type_string(p)))
        inputs = tuple(item.get("inputs", []))
        return cls(str(item["name"]), sig, keccak(text=sig), inputs, tuple(indexed), tuple(plain))

    @property
    def topic_hex(self) -> str:
        return "0x" + self.topic.hex()

    @property
    def hashed(self) -> tuple[str, ...]:
        """Indexed arguments whose topic is the keccak of their value (dynamic types)."""
        return tuple(n for n, t in self.indexed if hashed_when_indexed(t))

    def decode(self, topics: Sequence[str | bytes], data: str | bytes) -> dict[str, Any]:
        """Arguments by name, as eth_abi gives them (addresses lower-case hex, ``bytesN`` bytes);
        an indexed dynamic value (string, bytes, array, tuple) is its 32-byte hash."""
        words = [_bytes(t) for t in topics[1:]]
        if len(words) != len(self.indexed):
            raise ValueError(f"{self.name} has {len(self.indexed)} indexed arguments, the log {len(words)} topics")
        args: dict[str, Any] = {}
        for (name, typ), word in zip(self.indexed, words, strict=True):
            args[name] = word if hashed_when_indexed(typ) else abi_decode([typ], word)[0]
        if self.plain:
            values = abi_decode([t for _, t in self.plain], _bytes(data))
            args.update({n: v for (n, _), v in zip(self.plain, values, strict=True)})
        return args


@dataclass
class ContractAbi:
    """Every ABI fact of one compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    functions: dict[str, FunctionAbi] = field(default_factory=dict)
    events: dict[str, EventAbi] = field(default_factory=dict)

    def __post_init__(self) -> None:
        overloaded: set[str] = set()
        for item in self.abi:
            if item.get("type") == "function":
                fn = FunctionAbi.of(item)
                self.functions[fn.signature] = fn
                if fn.name in self.functions and fn.name not in overloaded:
                    overloaded.add(fn.name)
                    del self.functions[fn.name]
                elif fn.name not in overloaded:
                    self.functions[fn.name] = fn
            elif item.get("type") == "event" and not item.get("anonymous"):
                ev = EventAbi.of(item)
                self.events[ev.name] = ev
                self.events[ev.signature] = ev

    def function(self, name: str) -> FunctionAbi:
        """A function by name, or by signature when the name is overloaded."""
        try:
            return self.functions[name]
        except KeyError:
            raise EnvironmentProblem(
                f"{self.name} has no function {name!r} (overloaded names need their signature); run 'make build'"
            ) from None

    def event(self, name: str) -> EventAbi:
        try:
            return self.events[name]
        except KeyError:
            raise EnvironmentProblem(f"{self.name} has no event {name!r}; run 'make build'") from None

    def selector(self, fn: str) -> bytes:
        return self.function(fn).selector

    def input_types(self, fn: str) -> tuple[str, ...]:
        return self.function(fn).input_types

    def calldata(self, fn: str, *args: Any) -> bytes:
        return self.function(fn).calldata(*args)

    def topic(self, event: str) -> bytes:
        return self.event(event).topic

    @cached_property
    def by_topic(self) -> dict[bytes, EventAbi]:
        """The event table: topic → decoder, for every non-anonymous event."""
        return {ev.topic: ev for ev in self.events.values()}

    def decode_log(self, log: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """(event name, arguments) of a log this contract's ABI knows, else None."""
        topics = log.get("topics") or []
        if not topics:
            return None
        ev = self.by_topic.get(_bytes(topics[0]))
        if ev is None:
            return None
        return ev.name, ev.decode(topics, log.get("data") or b"")


_CACHE: dict[tuple[int, str], ContractAbi] = {}


def contract(name: str, artifacts: Artifacts | None = None) -> ContractAbi:
    """The ABI facts of contract ``name`` of the build (cached per build)."""
    arts = artifacts or load_artifacts()
    key = (id(arts), name)
    found = _CACHE.get(key)
    if found is None or found.abi is not arts[name].abi:
        found = _CACHE[key] = ContractAbi(name, arts[name].abi)
    return found


def selector(contract_name: str, fn: str) -> bytes:
    """The 4-byte selector of ``contract_name.fn`` (name, or signature when overloaded)."""
    return contract(contract_name).selector(fn)


def topic(contract_name: str, event: str) -> bytes:
    """The topic 0 of ``contract_name``'s event ``event``."""
    return contract(contract_name).topic(event)


def event_table(contract_name: str, artifacts: Artifacts | None = None) -> dict[bytes, EventAbi]:
    """Topic → event decoder for every event of ``contract_name``."""
    return contract(contract_name, artifacts).by_topic


def calldata(contract_name: str, fn: str, *args: Any) -> bytes:
    """Selector + ABI-encoded ``args`` of ``contract_name.fn``."""
    return contract(contract_name).calldata(fn, *args)


# ------------------------------------------------------------------ EIP-712 types


def eip712_fields(spec: str) -> list[dict[str, str]]:
    """EIP-712 struct fields from Solidity's ``encodeType`` spelling (the text a contract's
    ``*_TYPEHASH`` hashes): ``"address patient,uint256 nonce"`` or ``"Name(address patient,...)"``."""
    inner = spec[spec.index("(") + 1 : spec.rindex(")")] if "(" in spec else spec
    out = []
    for item in inner.split(","):
        typ, name = item.strip().split(" ")
        out.append({"name": name, "type": typ})
    return out


def eip712_domain(*, verifying_contract: bool = True) -> list[dict[str, str]]:
    """The ``EIP712Domain`` fields of OpenZeppelin's ``EIP712`` (name, version, chainId,
    verifyingContract), or without ``verifyingContract`` for a domain no contract verifies."""
    fields = eip712_fields("string name,string version,uint256 chainId,address verifyingContract")
    return fields if verifying_contract else fields[:3]


# ------------------------------------------------------------------ reverts


@dataclass
class ErrorDecoder:
    """Maps 4-byte selectors of every custom error in the build to names and argument names."""

    _errors: dict[bytes, tuple[str, list[str], list[str]]] = field(default_factory=dict)

    @classmethod
    def from_abis(cls, abis: Iterable[list[dict[str, Any]]]) -> ErrorDecoder:
        dec = cls()
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [type_string(p) for p in item.get("inputs", [])]
                names = [p.get("name") or f"arg{i}" for i, p in enumerate(item.get("inputs", []))]
                dec._errors[keccak(text=signature(item))[:4]] = (item["name"], types, names)
        # Solidity's two built-in errors (require with a message, assert/overflow panics).
        for builtin, arg in (("Error", ("string", "message")), ("Panic", ("uint256", "code"))):
            dec._errors[keccak(text=f"{builtin}({arg[0]})")[:4]] = (builtin, [arg[0]], [arg[1]])
        return dec

    @classmethod
    def from_build(cls, artifacts: Artifacts | None = None) -> ErrorDecoder:
        """Every custom error of every contract of the build."""
        return cls.from_abis((artifacts or load_artifacts()).all_abis())

    def decode(self, data: str | bytes | None) -> tuple[str | None, dict[str, Any]]:
        """(error name, arguments in their exact JSON form), or (None, {}) when unknown."""
        if data is None:
            return None, {}
        raw = _bytes(data)
        if len(raw) < 4 or raw[:4] not in self._errors:
            return None, {}
        name, types, names = self._errors[raw[:4]]
        try:
            values = abi_decode(types, raw[4:])
        except Exception:  # noqa: BLE001 - undecodable payload: report the name only
            return name, {}
        # In their exact JSON form (careledger.exactjson): ids 0x-hex, wide integers decimal strings.
        return name, {n: abi_value(t, v, n) for n, t, v in zip(names, types, values, strict=True)}

    def refusal(self, data: str | bytes | None, what: str, tx_hash: str | None = None) -> ChainRefused:
        name, args = self.decode(data)
        if name is None:
            return ChainRefused(f"{what} was refused by the chain (no reason given)", tx_hash=tx_hash)
        shown = ", ".join(f"{k}={v}" for k, v in args.items())
        return ChainRefused(f"{what} refused: {name}({shown})", error_name=name, error_args=args, tx_hash=tx_hash)


# ------------------------------------------------------------------ enums and constants of the sources

_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_SCOPE = re.compile(r"\b(?:abstract\s+contract|contract|library|interface)\s+(\w+)[^{;]*\{")
_ENUM = re.compile(r"\benum\s+(\w+)\s*\{([^}]*)\}")
_CONSTANT = re.compile(
    r"\b(?:u?int\d*|bytes\d+|address|bool)\s+(?:(?:public|internal|private)\s+)?constant\s+(\w+)\s*=\s*([^;]+);"
)
_KECCAK = re.compile(r"^keccak256\(\s*(.*?)\s*\)$", re.S)
_PACKED = re.compile(r"^abi\.encodePacked\(\s*(.*?)\s*\)$", re.S)
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.Pow: operator.pow,
}


def _strip(text: str) -> str:
    # Comments out, string literals kept (a constant may be keccak256("...")).
    return _COMMENTS.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _scopes(text: str) -> list[tuple[int, str]]:
    """(start offset, name) of each top-level contract/library/interface body."""
    return [(m.end(), m.group(1)) for m in _SCOPE.finditer(text)]


def _owner(scopes: list[tuple[int, str]], at: int) -> str | None:
    owner = None
    for start, name in scopes:
        if start <= at:
            owner = name
    return owner


def _hashed_text(expr: str) -> str | None:
    """The text of ``keccak256("text")``, also spelled as adjacent literals (``"a" "b"``) or
    ``abi.encodePacked("a", "b")`` of literals only; None for any other expression."""
    m = _KECCAK.match(expr)
    if m is None:
        return None
    inner, separators = m.group(1), ""
    packed = _PACKED.match(inner)
    if packed is not None:
        inner, separators = packed.group(1), ","
    parts = _STRING.findall(inner)
    if not parts or _STRING.sub("", inner).strip(separators + " \t\n"):
        return None
    return "".join(parts)


def _int_expr(expr: str) -> int | None:
    """The value of an integer constant expression (literals, + - * ** << >> | &, time units)."""
    for unit, seconds in _UNITS.items():
        expr = re.sub(rf"(\d[\d_]*)\s+{unit}\b", rf"(\1 * {seconds})", expr)

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        raise ValueError(expr)

    try:
        return ev(ast.parse(expr.strip(), mode="eval").body)
    except (SyntaxError, ValueError):
        return None


def enums(artifacts: Artifacts | None = None) -> dict[str, tuple[str, ...]]:
    """Every enum of the build's sources (see :func:`_enums`), parsed once per build."""
    arts = artifacts or load_artifacts()
    found: dict[str, tuple[str, ...]] = _once(("enums", id(arts)), arts, _enums)
    return found


def constants(artifacts: Artifacts | None = None) -> dict[str, dict[str, int | bytes]]:
    """The integer and ``keccak256("text")`` constants of the build's sources, by contract or
    library name (see :func:`_constants`), parsed once per build."""
    arts = artifacts or load_artifacts()
    found: dict[str, dict[str, int | bytes]] = _once(("constants", id(arts)), arts, _constants)
    return found


_PARSED: dict[tuple[str, int], tuple[Artifacts, Any]] = {}


def _once(key: tuple[str, int], arts: Artifacts, parse: Callable[[Artifacts], Any]) -> Any:
    hit = _PARSED.get(key)
    if hit is None or hit[0] is not arts:
        hit = _PARSED[key] = (arts, parse(arts))
    return hit[1]


def _enums(artifacts: Artifacts) -> dict[str, tuple[str, ...]]:
    """Every enum of the build's sources, by ``Scope.Name`` (or ``Name`` at file level), with
    its members in declaration order (their ABI values are 0, 1, ...)."""
    out: dict[str, tuple[str, ...]] = {}
    for text in artifacts.sources.values():
        clean = _strip(text)
        scopes = _scopes(clean)
        for m in _ENUM.finditer(clean):
            members = tuple(x.strip() for x in m.group(2).split(",") if x.strip())
            owner = _owner(scopes, m.start())
            out[f"{owner}.{m.group(1)}" if owner else m.group(1)] = members
    return out


def hashed_texts(artifacts: Artifacts | None = None) -> dict[str, dict[str, str]]:
    """The text of each ``keccak256("text")`` constant of the build's sources, by contract or
    library name: the ``encodeType`` of an EIP-712 ``*_TYPEHASH``, a role's name."""
    arts = artifacts or load_artifacts()
    found: dict[str, dict[str, str]] = _once(("texts", id(arts)), arts, _hashed_texts)
    return found


def _hashed_texts(artifacts: Artifacts) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for text in artifacts.sources.values():
        clean = _strip(text)
        scopes = _scopes(clean)
        for m in _CONSTANT.finditer(clean):
            owner = _owner(scopes, m.start())
            hashed = _hashed_text(m.group(2).strip())
            if owner is not None and hashed is not None:
                out.setdefault(owner, {})[m.group(1)] = hashed
    return out


def _constants(artifacts: Artifacts) -> dict[str, dict[str, int | bytes]]:
    """The constants of the build's sources whose value is an integer expression or
    ``keccak256("text")``, by contract or library name."""
    out: dict[str, dict[str, int | bytes]] = {}
    for text in artifacts.sources.values():
        clean = _strip(text)
        scopes = _scopes(clean)
        for m in _CONSTANT.finditer(clean):
            owner = _owner(scopes, m.start())
            if owner is None:
                continue
            expr = m.group(2).strip()
            value: int | bytes | None
            hashed = _hashed_text(expr)
            value = keccak(text=hashed) if hashed is not None else _int_expr(" ".join(expr.split()).replace("_", ""))
            if value is not None:
                out.setdefault(owner, {})[m.group(1)] = value
    return out
