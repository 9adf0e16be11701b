"""Compile the project exactly as Ape does, with the outputs coverage needs.

ape-solidity builds the solc standard-JSON input (sources, remappings, optimizer, EVM version) and
runs solc in an isolated copy of the project; :func:`compile_like_ape` lets it do exactly that
and only widens the output selection (runtime source map, immutable references, AST). Output
selection does not change code generation, so the bytecode is the one the tests deploy; the
mapping step checks it byte for byte anyway.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careledger.errors import EnvironmentProblem

__all__ = ["SolcRun", "compile_like_ape"]

EXTRA_OUTPUTS = [
    "evm.bytecode.object",
    "evm.bytecode.sourceMap",
    "evm.deployedBytecode.object",
    "evm.deployedBytecode.sourceMap",
    "evm.deployedBytecode.immutableReferences",
]


@dataclass(frozen=True)
class SolcRun:
    """One solc standard-JSON run: what went in and what came out."""

    input: dict[str, Any]
    output: dict[str, Any]


def compile_like_ape(root: Path) -> SolcRun:
    """Compile every project source under ``root/contracts`` through ape-solidity."""
    import ape_solidity.compiler as ape_solc  # the workshop's tools import Ape lazily: it is slow to load
    from ape import Project

    captured: list[SolcRun] = []
    original = ape_solc.compile_standard  # type: ignore[attr-defined]

    def capture(input_json: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        widened = copy.deepcopy(input_json)
        for selection in widened["settings"]["outputSelection"].values():
            wanted = list(selection.get("*", []))
            selection["*"] = wanted + [o for o in EXTRA_OUTPUTS if o not in wanted]
            selection[""] = ["ast"]
        output: dict[str, Any] = original(widened, **kwargs)
        captured.append(SolcRun(input=widened, output=output))
        return output

    project = Project(root)
    sources = sorted(p.resolve() for p in (root / "contracts").rglob("*.sol") if ".deps" not in p.parts)
    ape_solc.compile_standard = capture  # type: ignore[attr-defined,assignment]
    try:
        compiler = project.compiler_manager.registered_compilers[".sol"]
        list(compiler.compile(sources, project=project))
    finally:
        ape_solc.compile_standard = original  # type: ignore[attr-defined]
    if len(captured) != 1:
        raise EnvironmentProblem(f"expected one solc run for the project, got {len(captured)} (several versions?)")
    return captured[0]
