"""Per-contract figures, the machine-readable result and the Markdown report."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tools.evmcov.mapping import (
    JUMPI,
    CoverageResult,
    Decision,
    LineItem,
    outcome_seen,
    ran,
)

__all__ = ["BranchOutcome", "ContractCoverage", "Ratio", "summarize", "to_json", "to_markdown"]

PUSH1, PUSH32, JUMP = 0x60, 0x7F, 0x56


@dataclass
class Ratio:
    covered: int = 0
    total: int = 0

    @property
    def percent(self) -> float:
        return 100.0 if self.total == 0 else round(100.0 * self.covered / self.total, 2)

    def add(self, other: Ratio) -> None:
        self.covered += other.covered
        self.total += other.total

    def as_dict(self) -> dict[str, Any]:
        return {"covered": self.covered, "total": self.total, "percent": self.percent}


@dataclass(frozen=True)
class BranchOutcome:
    """One unobserved outcome of a branch ``JUMPI``."""

    file: str
    line: int
    kind: str
    snippet: str
    bytecode: str  # "<Contract> runtime|creation"
    pc: int
    outcome: str  # "jump" | "fall-through"
    leads_to: str  # where the unobserved outcome goes, as "line N: <code>"


@dataclass
class ContractCoverage:
    file: str
    contract: str
    lines: Ratio = field(default_factory=Ratio)
    branches: Ratio = field(default_factory=Ratio)
    decisions: int = 0  # source-level decisions with a JUMPI (two branch outcomes each)
    uncovered_lines: list[tuple[int, str]] = field(default_factory=list)
    uncovered_branches: list[BranchOutcome] = field(default_factory=list)
    decisions_without_jumpi: list[tuple[int, str, str]] = field(default_factory=list)


def _leads_to(result: CoverageResult, decision: Decision, index: int, pc: int, taken: bool) -> str:
    """Follow the unobserved path a little: the first statement it reaches."""
    bc = result.bytecodes[index]
    position = {p: i for i, p in enumerate(bc.pcs)}
    i = position[pc]
    if taken:
        prev = bc.pcs[i - 1] if i > 0 else None
        if prev is None or not PUSH1 <= bc.code[prev] <= PUSH32:
            return "(computed jump target)"
        width = bc.code[prev] - PUSH1 + 1
        target = int.from_bytes(bc.code[prev + 1 : prev + 1 + width], "big")
        if target not in position:
            return "(jump target outside the mapped code)"
        i = position[target]
    else:
        i += 1
    items = [it for it in result.items if it.file in result.files]
    by_file: dict[int, list[LineItem]] = defaultdict(list)
    for it in items:
        by_file[result.files[it.file].file_id].append(it)
    for _ in range(200):
        if i >= len(bc.pcs):
            break
        start, length, fid = bc.locations[i]
        sf = next((f for f in result.files.values() if f.file_id == fid), None)
        if sf is not None:
            inner = [it for it in by_file[fid] if it.start <= start and start + length <= it.end]
            if inner:
                it = min(inner, key=lambda x: x.end - x.start)
                contains_decision = it.file == decision.file and it.start <= decision.start and decision.end <= it.end
                if not contains_decision and it.node_type not in (
                    "FunctionDefinition",
                    "ModifierDefinition",
                ):
                    return f"line {it.line}: {sf.snippet(it.start, it.end - it.start, 60)}"
        op = bc.code[bc.pcs[i]]
        if op == JUMP and i > 0 and PUSH1 <= bc.code[bc.pcs[i - 1]] <= PUSH32:
            prev = bc.pcs[i - 1]
            width = bc.code[prev] - PUSH1 + 1
            target = int.from_bytes(bc.code[prev + 1 : prev + 1 + width], "big")
            if target not in position:
                break
            i = position[target]
            continue
        if op in (JUMP, JUMPI, 0x00, 0xF3, 0xFD, 0xFE, 0xFF):
            break
        i += 1
    return "(no statement of its own: continues after the condition)"


def summarize(result: CoverageResult) -> list[ContractCoverage]:
    """Lines and branches per contract (file order, then contract order)."""
    rows: dict[tuple[str, str], ContractCoverage] = {}

    def row(file: str, contract: str) -> ContractCoverage:
        key = (file, contract)
        if key not in rows:
            rows[key] = ContractCoverage(file=file, contract=contract)
        return rows[key]

    lines: dict[tuple[str, int], list[LineItem]] = defaultdict(list)
    for item in result.items:
        if item.instructions:
            lines[(item.file, item.line)].append(item)
    for (file, line), items in sorted(lines.items()):
        r = row(file, items[0].contract)
        r.lines.total += 1
        if any(ran(result, it.instructions) for it in items):
            r.lines.covered += 1
        else:
            first = min(items, key=lambda it: it.start)
            text = result.files[file].snippet(first.start, first.end - first.start)
            r.uncovered_lines.append((line, text))

    for decision in result.decisions:
        r = row(decision.file, decision.contract)
        if not decision.jumpis:
            r.decisions_without_jumpi.append((decision.line, decision.kind, decision.snippet))
            continue
        r.decisions += 1
        for index, pc in sorted(decision.jumpis):
            for taken in (True, False):
                r.branches.total += 1
                if outcome_seen(result, index, pc, taken):
                    r.branches.covered += 1
                    continue
                bc = result.bytecodes[index]
                r.uncovered_branches.append(
                    BranchOutcome(
                        file=decision.file,
                        line=decision.line,
                        kind=decision.kind,
                        snippet=decision.snippet,
                        bytecode=f"{bc.contract} {bc.kind}",
                        pc=pc,
                        outcome="jump" if taken else "fall-through",
                        leads_to=_leads_to(result, decision, index, pc, taken),
                    )
                )
    return [r for _, r in sorted(rows.items()) if r.lines.total or r.branches.total or r.decisions_without_jumpi]


def totals(rows: list[ContractCoverage]) -> tuple[Ratio, Ratio]:
    lines, branches = Ratio(), Ratio()
    for r in rows:
        lines.add(r.lines)
        branches.add(r.branches)
    return lines, branches


def to_json(
    rows: list[ContractCoverage],
    result: CoverageResult,
    meta: dict[str, Any],
    notes: dict[str, str],
) -> dict[str, Any]:
    lines, branches = totals(rows)
    return {
        **meta,
        "totals": {"lines": lines.as_dict(), "branches": branches.as_dict()},
        "executed_codes_not_counted": result.unmatched_codes,
        "contracts": [
            {
                "file": r.file,
                "contract": r.contract,
                "lines": r.lines.as_dict(),
                "branches": r.branches.as_dict(),
                "decisions": r.decisions,
                "uncovered_lines": [
                    {"line": n, "code": text, "note": notes.get(f"{r.file}:{n}")} for n, text in r.uncovered_lines
                ],
                "uncovered_branches": [
                    {
                        "line": b.line,
                        "kind": b.kind,
                        "code": b.snippet,
                        "bytecode": b.bytecode,
                        "pc": b.pc,
                        "missing_outcome": b.outcome,
                        "leads_to": b.leads_to,
                        "note": notes.get(f"{b.file}:{b.line}"),
                    }
                    for b in r.uncovered_branches
                ],
                "decisions_without_jumpi": [
                    {"line": n, "kind": k, "code": text} for n, k, text in r.decisions_without_jumpi
                ],
            }
            for r in rows
        ],
    }


def _pct(r: Ratio) -> str:
    return f"{r.percent:.2f}% ({r.covered}/{r.total})" if r.total else "n/a (0)"


def to_markdown(
    rows: list[ContractCoverage],
    result: CoverageResult,
    meta: dict[str, Any],
    notes: dict[str, str],
) -> str:
    lines, branches = totals(rows)
    out: list[str] = [
        "# Contract coverage",
        "",
        "Generated by `make coverage` (`python -m tools.evmcov`); do not edit by hand. The",
        "machine-readable result is [coverage.json](coverage.json).",
        "",
        f"- Measured at commit `{meta['commit']}`"
        + (" (with uncommitted changes)" if meta["dirty"] else "")
        + f", {meta['generated_at']}.",
        f"- Tests run: `{meta['test_command']}` ({meta['test_outcome']}, "
        f"{meta['test_seconds']:.0f} s with tracing; `make coverage` {meta['total_seconds']:.0f} s "
        "in all).",
        f"- **Total: lines {_pct(lines)}, branches {_pct(branches)}.** Targets: lines >= 95%, branches >= 90%.",
        "",
        "| File | Contract | Lines | Branch outcomes | Decisions |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        out.append(f"| {r.file} | {r.contract} | {_pct(r.lines)} | {_pct(r.branches)} | {r.decisions} |")
    decisions = sum(r.decisions for r in rows)
    out.append(f"| **total** | | **{_pct(lines)}** | **{_pct(branches)}** | {decisions} |")
    out += [
        "",
        "## How it is measured",
        "",
        "Ape's `--coverage` needs the compiler plugin to map program counters to source;",
        "ape-solidity 0.8 does not, so `ape test --coverage` finds no data. `tools.evmcov`",
        "measures on the EVM itself:",
        "",
        "1. The test suite runs as usual on Ape's embedded py-evm chain, with a pytest plugin",
        "   (`tools.evmcov.plugin`) that hooks py-evm's instruction loop and records, per",
        "   bytecode, every program counter executed and the outcome of every `JUMPI`. It sees",
        "   transactions (also reverted ones), `eth_call`s, gas estimations, constructors and nested",
        "   calls. Contracts the tests run on a separate anvil devnet are not seen (their lines",
        "   count only if the py-evm tests reach them too).",
        "2. The project is recompiled through ape-solidity with the same solc standard-JSON input",
        "   (only the output selection widened to runtime source maps, immutable references and",
        "   the AST); executed code is matched byte for byte (immutables masked, constructor",
        "   arguments stripped) to the creation or runtime bytecode of each contract.",
        "3. Each instruction is attributed through the source map to the innermost statement,",
        "   function/modifier header or state variable containing its source range.",
        "",
        "**Lines.** A line is executable when at least one instruction is attributed to a",
        "statement (or header) starting on it; covered when one of those instructions ran.",
        "Statements the optimizer left without code of their own are not counted. A one-line",
        "`if (c) revert E();` is a covered line once `c` was evaluated; whether the revert ran",
        "shows in that `if`'s branch outcomes.",
        "",
        "**Branches.** Every `JUMPI` whose source range is exactly an `if`, `?:`, `&&`/`||`,",
        "`require`/`assert` or loop condition: two outcomes each (jump, fall-through), covered",
        "when observed. A decision compiled into several `JUMPI`s (optimizer duplication)",
        "counts each (here every decision has exactly one). Compiler-inserted checks (dispatch,",
        "callvalue, ABI decoding, checked arithmetic, enum range, array bounds, external-call",
        "success) are not branches here.",
        "",
        "**Counted code.** Contracts under `contracts/common`, `contracts/consent`,",
        "`contracts/provenance` and `contracts/claims` (libraries they inline included);",
        "`contracts/test/` (mocks), OpenZeppelin and compiler-generated helpers are excluded.",
        f"{result.unmatched_codes} executed bytecodes were not counted (mocks, test tokens, ...).",
        "",
        "`tests/test_coverage_tool.py` checks the tool itself (a deployment and one reverted call",
        "map to exactly the lines and branch outcome that ran); it is skipped inside the traced",
        "run, where its own recorder would displace the session's.",
        "",
        "A line or branch outcome that cannot be reached can be explained in",
        '`docs/coverage-notes.toml` (`"contracts/x.sol:LINE" = "why"`); the note is printed',
        "next to it below. It still counts as not covered.",
        "",
    ]
    gaps = [r for r in rows if r.uncovered_lines or r.uncovered_branches]
    out += ["## Not covered", ""]
    if not gaps:
        out += ["Every counted line and branch outcome ran.", ""]
    for r in gaps:
        out += [f"### {r.contract} ({r.file})", ""]
        for n, text in r.uncovered_lines:
            note = notes.get(f"{r.file}:{n}")
            out.append(f"- line {n}: `{text}`" + (f" - {note}" if note else ""))
        for b in r.uncovered_branches:
            note = notes.get(f"{b.file}:{b.line}")
            out.append(
                f"- branch line {b.line} `{b.kind}` `{b.snippet}`: {b.outcome} never observed "
                f"({b.bytecode} pc {b.pc}; leads to {b.leads_to})" + (f" - {note}" if note else "")
            )
        out.append("")
    without = [(r, d) for r in rows for d in r.decisions_without_jumpi]
    if without:
        out += [
            "## Decisions compiled without a JUMPI",
            "",
            "The optimizer turned these into straight-line code (or removed them); they have no",
            "branch outcome to observe and are not counted as branches.",
            "",
        ]
        for r, (n, kind, text) in without:
            out.append(f"- {r.file}:{n} `{kind}` `{text}`")
        out.append("")
    return "\n".join(out)
