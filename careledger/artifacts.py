"""Compiled contracts, read from Ape's build output (``.build/__local__.json``).

Nothing is hand-copied: ABIs and bytecode come from the compiler, and every ABI gets a stable
hash so a deployments file can tell whether the contract at an address is the one we built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from careledger._paths import build_manifest
from careledger.errors import EnvironmentProblem

__all__ = ["Artifact", "Artifacts", "abi_hash", "load_artifacts"]


def abi_hash(abi: list[dict[str, Any]]) -> str:
    """keccak256 of the canonical JSON of an ABI (sorted keys, no spaces), hex with 0x."""
    canonical = json.dumps(abi, sort_keys=True, separators=(",", ":"))
    return "0x" + keccak(text=canonical).hex()


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    runtime_bytecode: str
    source_id: str

    @property
    def abi_hash(self) -> str:
        return abi_hash(self.abi)


@dataclass(frozen=True)
class Artifacts:
    contracts: dict[str, Artifact]
    compiler_version: str
    #: Source text solc compiled, by path (``contracts/...``): where enums and constants are read.
    sources: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Artifact:
        try:
            return self.contracts[name]
        except KeyError:
            raise EnvironmentProblem(f"contract {name!r} is not in the build output; run 'make build'") from None

    def all_abis(self) -> list[list[dict[str, Any]]]:
        return [a.abi for a in self.contracts.values()]


@lru_cache(maxsize=4)
def _load(path: Path, mtime: float) -> Artifacts:
    data = json.loads(path.read_text())
    contracts: dict[str, Artifact] = {}
    for name, ct in data.get("contractTypes", {}).items():
        contracts[name] = Artifact(
            name=name,
            abi=ct.get("abi", []),
            bytecode=(ct.get("deploymentBytecode") or {}).get("bytecode", "0x"),
            runtime_bytecode=(ct.get("runtimeBytecode") or {}).get("bytecode", "0x"),
            source_id=ct.get("sourceId", ""),
        )
    compilers = data.get("compilers") or [{}]
    version = str(compilers[0].get("version", "unknown"))
    sources = {str(k): str(v.get("content") or "") for k, v in (data.get("sources") or {}).items()}
    return Artifacts(contracts=contracts, compiler_version=version, sources=sources)


def load_artifacts(path: Path | None = None) -> Artifacts:
    """Load the build output, or fail with a clear message when it is missing."""
    path = path or build_manifest()
    if not path.is_file():
        raise EnvironmentProblem(f"no build output at {path}; run 'make build' first")
    try:
        return _load(path, path.stat().st_mtime)
    except (OSError, ValueError) as exc:
        raise EnvironmentProblem(f"cannot read build output {path}: {exc}") from exc
