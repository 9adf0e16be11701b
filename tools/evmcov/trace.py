"""Record the program counters py-evm executes (the embedded chain of ``ape test``).

py-evm runs every message frame (transaction, call, ``eth_call``, gas estimate, constructor) by
iterating over a :class:`eth.vm.code_stream.CodeStream`; :func:`install` swaps that iterator for
one that notes each program counter it hands out, and, after a ``JUMPI``, whether the jump was
taken. Results are kept per bytecode (the code bytes themselves), so they can be matched to the
compiler output afterwards whatever address the code ran at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CodeTrace", "Recorder", "load_traces"]

JUMPI = 0x57
STOP = 0x00


@dataclass
class CodeTrace:
    """What ran of one bytecode: program counters, and ``JUMPI`` outcomes as (pc, taken)."""

    pcs: set[int] = field(default_factory=set)
    jumpi: set[tuple[int, bool]] = field(default_factory=set)

    def merge(self, other: CodeTrace) -> None:
        self.pcs |= other.pcs
        self.jumpi |= other.jumpi


class Recorder:
    """Collects :class:`CodeTrace` per bytecode while installed into py-evm."""

    def __init__(self) -> None:
        self.traces: dict[bytes, CodeTrace] = {}
        self._original: Any = None

    def install(self) -> None:
        from eth.vm.code_stream import CodeStream

        if self._original is not None:
            return
        self._original = CodeStream.__iter__
        traces = self.traces

        def traced_iter(stream: Any) -> Iterator[int]:
            raw: bytes = stream._raw_code_bytes
            trace = traces.get(raw)
            if trace is None:
                trace = traces[raw] = CodeTrace()
            pcs = trace.pcs
            jumpi = trace.jumpi
            length = len(raw)
            pc: int = stream.program_counter
            while pc < length:
                opcode = raw[pc]
                pcs.add(pc)
                stream.program_counter = pc + 1
                yield opcode
                new_pc: int = stream.program_counter  # PUSHn and jumps move it
                if opcode == JUMPI:
                    jumpi.add((pc, new_pc != pc + 1))
                pc = new_pc
            yield STOP

        CodeStream.__iter__ = traced_iter  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from eth.vm.code_stream import CodeStream

        if self._original is not None:
            CodeStream.__iter__ = self._original  # type: ignore[method-assign]
            self._original = None

    def dump(self, path: Path) -> None:
        """Write the traces as JSON (merged into what ``path`` already holds)."""
        merged = load_traces(path) if path.is_file() else {}
        for code, trace in self.traces.items():
            merged.setdefault(code, CodeTrace()).merge(trace)
        rows = [
            {
                "code": code.hex(),
                "pcs": sorted(trace.pcs),
                "jumpi": sorted([pc, taken] for pc, taken in trace.jumpi),
            }
            for code, trace in merged.items()
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows))


def load_traces(path: Path) -> dict[bytes, CodeTrace]:
    """Read what :meth:`Recorder.dump` wrote."""
    out: dict[bytes, CodeTrace] = {}
    for row in json.loads(path.read_text()):
        trace = CodeTrace(
            pcs=set(row["pcs"]),
            jumpi={(int(pc), bool(taken)) for pc, taken in row["jumpi"]},
        )
        out.setdefault(bytes.fromhex(row["code"]), CodeTrace()).merge(trace)
    return out
