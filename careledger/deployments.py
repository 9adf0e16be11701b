"""The deployments registry: ``deployments/<chainId>.json``.

The SDK and the web client take contract addresses from this file only. It records, per contract,
the address, the deployment block, a hash of the ABI and the keccak256 of the runtime code found
at the address right after deployment. Before the file is trusted, the code at every address is
compared with that hash: a file written for another chain with the same id (another anvil, a
reset devnet) is refused, while the same chain restarted from its saved state is accepted. (The
genesis hash is recorded for information only: anvil re-creates its genesis block when it
reloads saved state, so it does not identify a chain across restarts.)
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak
from web3 import Web3

from careledger._paths import deployments_dir
from careledger.errors import SuiteNotDeployed
from careledger.exactjson import dumps

__all__ = ["ContractRecord", "Deployment", "Predecessor", "genesis_hash", "load_deployment"]


def genesis_hash(w3: Web3) -> str:
    return w3.eth.get_block(0)["hash"].to_0x_hex()


@dataclass
class Predecessor:
    """The contract a successor version took its state over from (docs/upgrades.md): its address,
    version, deployment block, the snapshot block the import copied, and its own predecessor."""

    address: str
    version: int
    block: int
    snapshot_block: int
    abi_hash: str
    predecessor: Predecessor | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "address": self.address,
            "version": self.version,
            "block": self.block,
            "snapshotBlock": self.snapshot_block,
            "abiHash": self.abi_hash,
        }
        if self.predecessor is not None:
            out["predecessor"] = self.predecessor.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Predecessor:
        inner = data.get("predecessor")
        return cls(
            address=str(data["address"]),
            version=int(data.get("version", 1)),
            block=int(data["block"]),
            snapshot_block=int(data["snapshotBlock"]),
            abi_hash=str(data.get("abiHash", "")),
            predecessor=cls.from_json(inner) if inner else None,
        )


@dataclass
class ContractRecord:
    address: str
    block: int
    abi_hash: str
    code_hash: str | None = None
    # The code version (files written before versions were recorded: 1), the build artifact
    # deployed when it is not the record's name (a successor's "ConsentRegistryV2"), and, for a
    # successor, the contract it took its state over from.
    version: int = 1
    artifact: str | None = None
    predecessor: Predecessor | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"address": self.address, "block": self.block, "abiHash": self.abi_hash}
        if self.code_hash:
            out["codeHash"] = self.code_hash
        out["version"] = self.version
        if self.artifact:
            out["artifact"] = self.artifact
        if self.predecessor is not None:
            out["predecessor"] = self.predecessor.to_json()
        return out

    def segments(self, latest: int | None = None) -> list[tuple[str, int, int | None]]:
        """Where this contract's history is: (address, first block, last block or None for
        "latest"), oldest version first; each predecessor up to its snapshot block."""
        out: list[tuple[str, int, int | None]] = [(self.address, self.block, latest)]
        pred = self.predecessor
        while pred is not None:
            out.append((pred.address, pred.block, pred.snapshot_block))
            pred = pred.predecessor
        return out[::-1]


@dataclass
class Deployment:
    chain_id: int
    genesis: str
    compiler: str
    contracts: dict[str, ContractRecord] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def path_for(chain_id: int) -> Path:
        return deployments_dir() / f"{chain_id}.json"

    @property
    def path(self) -> Path:
        return self.path_for(self.chain_id)

    def address(self, name: str) -> str:
        try:
            return self.contracts[name].address
        except KeyError:
            raise SuiteNotDeployed(
                f"{name} is not in {self.path}; run 'careledger deploy' against this chain"
            ) from None

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "genesisHash": self.genesis,
            "compiler": self.compiler,
            "contracts": {n: r.to_json() for n, r in sorted(self.contracts.items())},
            "config": self.config,
        }

    def save(self) -> Path:
        """Write atomically (temp file + rename): a crash never leaves half a file."""
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            fh.write(dumps(self.to_json()))  # exact JSON (docs/json.md)
            fh.write("\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        return cls(
            chain_id=int(data["chainId"]),
            genesis=str(data["genesisHash"]),
            compiler=str(data.get("compiler", "unknown")),
            contracts={
                n: ContractRecord(
                    address=r["address"],
                    block=int(r["block"]),
                    abi_hash=r["abiHash"],
                    code_hash=r.get("codeHash"),
                    version=int(r.get("version", 1)),
                    artifact=r.get("artifact"),
                    predecessor=Predecessor.from_json(r["predecessor"]) if r.get("predecessor") else None,
                )
                for n, r in data.get("contracts", {}).items()
            },
            config=dict(data.get("config", {})),
        )


def code_hash(code: bytes) -> str:
    return "0x" + keccak(code).hex()


def code_problem(name: str, rec: ContractRecord, code: bytes, chain_id: int) -> str | None:
    """Why the code found at ``rec.address`` is not the recorded contract (None when it is)."""
    if not code:
        return f"{name} has no code at {rec.address} on chain {chain_id}: the file was written for another chain"
    if rec.code_hash and code_hash(code) != rec.code_hash:
        return f"{name} at {rec.address} on chain {chain_id} is not the contract this file recorded (another chain)"
    return None


def load_deployment(w3: Web3, *, check_code: bool = True) -> Deployment:
    """The deployment of the chain ``w3`` is connected to, checked against that chain.

    Raises :class:`SuiteNotDeployed` when there is no file, or the code at a recorded address is
    missing or not the recorded contract (the file belongs to another chain with this id).
    """
    chain_id = w3.eth.chain_id
    path = Deployment.path_for(chain_id)
    if not path.is_file():
        raise SuiteNotDeployed(
            f"no CareLedger deployment for chain {chain_id} ({path} missing); run 'careledger deploy'"
        )
    try:
        dep = Deployment.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise SuiteNotDeployed(f"{path} is not a valid deployments file: {exc}") from None
    if dep.chain_id != chain_id:
        raise SuiteNotDeployed(f"{path} is for chain {dep.chain_id}, but the node is chain {chain_id}")
    if check_code:
        for name, rec in dep.contracts.items():
            code = bytes(w3.eth.get_code(Web3.to_checksum_address(rec.address)))
            problem = code_problem(name, rec, code, chain_id)
            if problem:
                raise SuiteNotDeployed(f"{problem} ({path}); run 'careledger deploy' to deploy the suite here")
    return dep
