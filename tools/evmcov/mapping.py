"""Map executed program counters to source lines and branches through solc's source maps.

Definitions (the report repeats them):

* **Line.** A source line where a statement (``x = ...;``, ``emit``, ``revert``, ``return``,
  ``if``/loop header, ...), a function or modifier header, or a state variable starts. Each
  instruction of the bytecode is attributed, through the source map, to the innermost such node
  whose source range contains the instruction's range. A line is *executable* when at least one
  instruction is attributed to a node starting on it (the optimizer leaves some statements without
  code of their own; those lines are not counted), and *covered* when at least one of those
  instructions ran.
* **Branch.** A ``JUMPI`` whose source-map range is exactly an ``if`` statement, a ``?:``, a
  ``&&``/``||`` (short circuit), a ``require``/``assert`` call or a loop: the compiled form of a
  source-level decision. Each such ``JUMPI`` has two outcomes (jump taken, fall through); a branch
  outcome is covered when it was observed. Compiler-inserted ``JUMPI``s (selector dispatch,
  ``callvalue``/ABI checks, checked arithmetic, enum range checks, array bounds, the
  ``extcodesize``/success checks of external calls) map to other ranges and are not counted.

Only contracts under ``contracts/{common,consent,provenance,claims}/`` count: their creation and
runtime bytecode is the universe, and only instructions whose source range lies in those folders
are attributed (OpenZeppelin, compiler-generated helpers and ``contracts/test/`` are left out).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from careledger.errors import EnvironmentProblem
from tools.evmcov.trace import CodeTrace

__all__ = [
    "Bytecode",
    "CoverageResult",
    "Decision",
    "LineItem",
    "SourceFile",
    "bytecodes_from_output",
    "compute",
    "decode_source_map",
    "instruction_offsets",
]

COUNTED_FOLDERS = ("contracts/common/", "contracts/consent/", "contracts/provenance/", "contracts/claims/")

LINE_NODES = frozenset(
    {
        "ExpressionStatement",
        "VariableDeclarationStatement",
        "Return",
        "EmitStatement",
        "RevertStatement",
        "IfStatement",
        "ForStatement",
        "WhileStatement",
        "DoWhileStatement",
        "Break",
        "Continue",
        "TryStatement",
        "InlineAssembly",
        "FunctionDefinition",
        "ModifierDefinition",
    }
)
LOOP_NODES = {"ForStatement": "for", "WhileStatement": "while", "DoWhileStatement": "do-while"}
JUMPI = 0x57


def counted(source_name: str) -> bool:
    """Whether a source file is one whose coverage we report."""
    return source_name.startswith(COUNTED_FOLDERS)


@dataclass(frozen=True)
class SourceFile:
    """One counted source file with an offset-to-line index."""

    name: str
    file_id: int
    text: str
    line_starts: tuple[int, ...]

    @classmethod
    def of(cls, name: str, file_id: int, text: str) -> SourceFile:
        starts = [0]
        raw = text.encode()
        starts.extend(i + 1 for i, b in enumerate(raw) if b == 0x0A)
        return cls(name=name, file_id=file_id, text=text, line_starts=tuple(starts))

    def line_of(self, byte_offset: int) -> int:
        """1-based line of a byte offset (solc source ranges count bytes)."""
        return bisect.bisect_right(self.line_starts, byte_offset)

    def snippet(self, start: int, length: int, limit: int = 80) -> str:
        text = self.text.encode()[start : start + length].decode(errors="replace")
        one_line = " ".join(text.split())
        return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


@dataclass
class LineItem:
    """A statement, function/modifier header or state variable: what line coverage counts."""

    file: str
    start: int
    end: int
    line: int
    node_type: str
    contract: str
    instructions: set[tuple[int, int]] = field(default_factory=set)  # (bytecode index, pc)


@dataclass
class Decision:
    """A source-level decision (``if``, ``?:``, ``&&``, ``||``, ``require``, loop)."""

    file: str
    start: int
    end: int
    line: int
    kind: str
    contract: str
    snippet: str
    jumpis: set[tuple[int, int]] = field(default_factory=set)  # (bytecode index, pc)


@dataclass(frozen=True)
class Bytecode:
    """Creation or runtime bytecode of one counted contract, decoded."""

    contract: str
    source: str
    kind: str  # "creation" | "runtime"
    code: bytes
    pcs: tuple[int, ...]  # pc of each instruction, in order
    locations: tuple[tuple[int, int, int], ...]  # (start, length, file id) per instruction
    immutable_ranges: tuple[tuple[int, int], ...]  # (start, length) filled in at deployment

    def matches(self, executed: bytes) -> bool:
        """Whether ``executed`` (code run by the EVM) is this bytecode."""
        if self.kind == "creation":
            return executed.startswith(self.code)  # constructor arguments follow the code
        if len(executed) != len(self.code):
            return False
        if not self.immutable_ranges:
            return executed == self.code
        masked = bytearray(executed)
        for start, length in self.immutable_ranges:
            masked[start : start + length] = bytes(length)
        return bytes(masked) == self.code


def instruction_offsets(code: bytes) -> list[int]:
    """Program counter of each instruction (PUSH1..PUSH32 carry 1..32 immediate bytes)."""
    pcs: list[int] = []
    pc = 0
    while pc < len(code):
        pcs.append(pc)
        op = code[pc]
        pc += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return pcs


def decode_source_map(source_map: str) -> list[tuple[int, int, int]]:
    """solc's compressed ``s:l:f:j:m`` source map as (start, length, file id) per instruction."""
    out: list[tuple[int, int, int]] = []
    start, length, file_id = 0, 0, -1
    for entry in source_map.split(";"):
        parts = entry.split(":")
        if len(parts) > 0 and parts[0] != "":
            start = int(parts[0])
        if len(parts) > 1 and parts[1] != "":
            length = int(parts[1])
        if len(parts) > 2 and parts[2] != "":
            file_id = int(parts[2])
        out.append((start, length, file_id))
    return out


def bytecodes_from_output(output: Mapping[str, Any]) -> list[Bytecode]:
    """Creation and runtime bytecode of every counted contract that has code."""
    result: list[Bytecode] = []
    for source, contracts in sorted(output.get("contracts", {}).items()):
        if not counted(source):
            continue
        for name, data in sorted(contracts.items()):
            evm = data["evm"]
            for kind, key in (("creation", "bytecode"), ("runtime", "deployedBytecode")):
                obj: str = evm[key]["object"]
                if not obj:
                    continue
                if "__$" in obj:
                    raise EnvironmentProblem(f"{name}: linked libraries are not supported")
                code = bytes.fromhex(obj)
                pcs = instruction_offsets(code)
                locations = decode_source_map(evm[key].get("sourceMap", ""))
                if len(locations) > len(pcs):
                    raise EnvironmentProblem(f"{name} {kind}: source map longer than the code")
                immutables: list[tuple[int, int]] = []
                for refs in evm[key].get("immutableReferences", {}).values():
                    immutables.extend((int(r["start"]), int(r["length"])) for r in refs)
                result.append(
                    Bytecode(
                        contract=name,
                        source=source,
                        kind=kind,
                        code=code,
                        pcs=tuple(pcs[: len(locations)]),
                        locations=tuple(locations),
                        immutable_ranges=tuple(sorted(immutables)),
                    )
                )
    return result


def _walk(node: Any, contract: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every AST node with the name of the contract (or library) it is in ("" at file level)."""
    if isinstance(node, dict):
        if node.get("nodeType") == "ContractDefinition":
            contract = str(node.get("name", ""))
        if "nodeType" in node and "src" in node:
            yield node, contract
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _walk(value, contract)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, contract)


def _decision_kind(node: Mapping[str, Any]) -> str | None:
    node_type = node["nodeType"]
    if node_type == "IfStatement":
        return "if"
    if node_type == "Conditional":
        return "?:"
    if node_type in LOOP_NODES:
        return LOOP_NODES[node_type]
    if node_type == "BinaryOperation" and node.get("operator") in ("&&", "||"):
        return str(node["operator"])
    if node_type == "FunctionCall":
        callee = node.get("expression", {})
        if callee.get("nodeType") == "Identifier" and callee.get("name") in ("require", "assert"):
            return str(callee["name"])
    return None


def _src(node: Mapping[str, Any]) -> tuple[int, int, int]:
    start, length, file_id = (int(x) for x in str(node["src"]).split(":"))
    return start, length, file_id


@dataclass
class CoverageResult:
    """Everything the report needs."""

    files: dict[str, SourceFile]
    items: list[LineItem]
    decisions: list[Decision]
    bytecodes: list[Bytecode]
    executed: dict[int, CodeTrace]  # bytecode index -> what ran of it
    unmatched_codes: int  # executed code that is none of the counted contracts (mocks, OZ, ...)


def compute(
    solc_input: Mapping[str, Any],
    solc_output: Mapping[str, Any],
    traces: Mapping[bytes, CodeTrace],
) -> CoverageResult:
    """Attribute the instructions of every counted bytecode to lines and branches, then mark what
    the traces show ran."""
    files: dict[str, SourceFile] = {}
    by_id: dict[int, SourceFile] = {}
    for name, meta in solc_output.get("sources", {}).items():
        if counted(name):
            content = solc_input["sources"][name].get("content")
            if content is None:
                raise EnvironmentProblem(f"solc input carries no content for {name}")
            sf = SourceFile.of(name, int(meta["id"]), str(content))
            files[name] = sf
            by_id[sf.file_id] = sf

    items_by_file: dict[int, list[LineItem]] = {fid: [] for fid in by_id}
    decisions_at: dict[tuple[int, int, int], Decision] = {}
    for name, meta in solc_output["sources"].items():
        if name not in files:
            continue
        sf = files[name]
        for node, contract in _walk(meta["ast"], ""):
            start, length, fid = _src(node)
            if fid != sf.file_id:
                continue
            node_type = str(node["nodeType"])
            # State variables count (initializer in the constructor, public getter); constants
            # do not: their value is pushed wherever they are used and solc maps that push to
            # the declaration, which would make a constant "run" when some user of it runs.
            is_state_var = (
                node_type == "VariableDeclaration"
                and node.get("stateVariable")
                and node.get("mutability") != "constant"
            )
            if node_type in LINE_NODES or is_state_var:
                if node_type in ("FunctionDefinition", "ModifierDefinition") and not node.get("body"):
                    continue  # interface or abstract declaration: no code
                items_by_file[fid].append(
                    LineItem(
                        file=name,
                        start=start,
                        end=start + length,
                        line=sf.line_of(start),
                        node_type=node_type,
                        contract=contract or "(file level)",
                    )
                )
            kind = _decision_kind(node)
            if kind is not None:
                decisions_at[(start, length, fid)] = Decision(
                    file=name,
                    start=start,
                    end=start + length,
                    line=sf.line_of(start),
                    kind=kind,
                    contract=contract or "(file level)",
                    snippet=sf.snippet(start, length),
                )

    bytecodes = bytecodes_from_output(solc_output)
    innermost_cache: dict[tuple[int, int, int], LineItem | None] = {}

    def innermost(loc: tuple[int, int, int]) -> LineItem | None:
        if loc not in innermost_cache:
            start, length, fid = loc
            best: LineItem | None = None
            for item in items_by_file.get(fid, ()):
                inside = item.start <= start and start + length <= item.end
                if inside and (best is None or item.end - item.start < best.end - best.start):
                    best = item
            innermost_cache[loc] = best
        return innermost_cache[loc]

    for index, bc in enumerate(bytecodes):
        for pc, loc in zip(bc.pcs, bc.locations, strict=True):
            if loc[2] not in by_id:
                continue
            item = innermost(loc)
            if item is not None:
                item.instructions.add((index, pc))
            if bc.code[pc] == JUMPI and loc in decisions_at:
                decisions_at[loc].jumpis.add((index, pc))

    executed: dict[int, CodeTrace] = {}
    unmatched = 0
    for code, trace in traces.items():
        hits = [i for i, bc in enumerate(bytecodes) if bc.matches(code)]
        if not hits:
            unmatched += 1
        for i in hits:
            executed.setdefault(i, CodeTrace()).merge(trace)

    all_items = [item for fid in sorted(items_by_file) for item in items_by_file[fid]]
    return CoverageResult(
        files=files,
        items=all_items,
        decisions=sorted(decisions_at.values(), key=lambda d: (d.file, d.start, d.end)),
        bytecodes=bytecodes,
        executed=executed,
        unmatched_codes=unmatched,
    )


def ran(result: CoverageResult, instructions: Iterable[tuple[int, int]]) -> bool:
    """Whether any of ``instructions`` (bytecode index, pc) was executed."""
    for index, pc in instructions:
        trace = result.executed.get(index)
        if trace is not None and pc in trace.pcs:
            return True
    return False


def outcome_seen(result: CoverageResult, index: int, pc: int, taken: bool) -> bool:
    """Whether the ``JUMPI`` at ``pc`` of bytecode ``index`` was seen taken / falling through."""
    trace = result.executed.get(index)
    return trace is not None and (pc, taken) in trace.jumpi
