"""The deployments registry: ``deployments/<chainId>.json``.

The SDK and the web client take contract addresses from this file only. It records, per contract,
the address, the deployment block and a hash of the ABI, plus the chain's genesis hash so a file
written for one chain is never used against another chain with the same id (two anvils, say).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3

from careledger._paths import deployments_dir
from careledger.errors import SuiteNotDeployed

__all__ = ["ContractRecord", "Deployment", "genesis_hash", "load_deployment"]


def genesis_hash(w3: Web3) -> str:
    return w3.eth.get_block(0)["hash"].to_0x_hex()


@dataclass
class ContractRecord:
    address: str
    block: int
    abi_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "block": self.block, "abiHash": self.abi_hash}


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
            json.dump(self.to_json(), fh, indent=2)
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
                n: ContractRecord(address=r["address"], block=int(r["block"]), abi_hash=r["abiHash"])
                for n, r in data.get("contracts", {}).items()
            },
            config=dict(data.get("config", {})),
        )


def load_deployment(w3: Web3, *, check_code: bool = True) -> Deployment:
    """The deployment of the chain ``w3`` is connected to, checked against that chain.

    Raises :class:`SuiteNotDeployed` when there is no file, the file belongs to another chain
    (genesis differs), or a recorded address holds no code.
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
    actual = genesis_hash(w3)
    if dep.genesis != actual:
        raise SuiteNotDeployed(
            f"{path} was written for another chain with id {chain_id} (genesis {dep.genesis[:12]}..., "
            f"node has {actual[:12]}...); run 'careledger deploy' to deploy the suite here"
        )
    if check_code:
        for name, rec in dep.contracts.items():
            if len(w3.eth.get_code(Web3.to_checksum_address(rec.address))) == 0:
                raise SuiteNotDeployed(
                    f"{name} has no code at {rec.address} on chain {chain_id}; "
                    "the chain was reset — run 'careledger deploy'"
                )
    return dep
