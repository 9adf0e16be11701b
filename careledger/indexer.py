"""Event replay: rebuild the state of every suite contract from its logs alone.

The audit trail HIPAA 164.312(b) asks for is the event log; this module proves it is complete.
Each domain that has landed contributes ``careledger/<domain>/replay.py`` with:

- ``CONTRACTS``: the deployment names whose logs it reduces (optionally ``OPTIONAL_CONTRACTS``,
  those of them a deployment may lack, e.g. the devnet-only payment token);
- ``def reduce(state: dict, event: DecodedEvent) -> None``: apply one event to its state;
- ``def verify(state: dict, reads: Reads) -> list[str]``: compare the rebuilt state with on-chain
  reads and return the differences (empty when they agree).

:func:`replay` fetches every log of every suite contract from its deployment block, decodes it
with the build's ABIs, reduces them in chain order (each event carries its block's timestamp, for
state the contracts stamp with ``block.timestamp``), and :func:`check` runs every domain's verify.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from eth_utils.address import to_checksum_address
from web3 import Web3

from careledger.abi import EventAbi
from careledger.abi import contract as contract_abi
from careledger.artifacts import Artifacts
from careledger.chain import Chain, ErrorDecoder
from careledger.deploy import SUITE_DOMAINS, domain_module
from careledger.deployments import Deployment
from careledger.rpc import RpcClient, RpcError

__all__ = ["DecodedEvent", "Reads", "check", "replay"]


@dataclass(frozen=True)
class DecodedEvent:
    contract: str
    name: str
    args: dict[str, Any]
    block: int
    log_index: int
    tx_hash: str
    timestamp: int | None = None
    address: str = ""  # the emitting contract (checksummed)


# OpenZeppelin Pausable's events (the emergency pause): replayed here for every domain, into
# state[PAUSED] = {contract name: paused}, and checked against paused().
_PAUSE_EVENTS = ("Paused", "Unpaused")
PAUSED = "paused"


@dataclass
class Reads:
    """What a domain's ``verify`` needs to read the chain: a chain and the suite's contracts."""

    chain: Chain
    deployment: Deployment
    artifacts: Artifacts

    def contract(self, name: str, artifact: str | None = None) -> Any:
        return self.chain.contract(self.deployment.address(name), self.artifacts[artifact or name].abi)


def _decode(ev: EventAbi, log: dict[str, Any]) -> dict[str, Any]:
    args = ev.decode(log["topics"], log["data"])
    for name in ev.hashed:
        args[name] = "0x" + bytes(args[name]).hex()  # indexed dynamic values are hashed
    return {
        k: to_checksum_address(v) if isinstance(v, str) and Web3.is_address(v) and len(v) == 42 else v
        for k, v in args.items()
    }


Reducer = Callable[[dict[str, Any], DecodedEvent], None]


def replay(rpc: RpcClient, deployment: Deployment, artifacts: Artifacts) -> dict[str, dict[str, Any]]:
    """Rebuild each landed domain's state from logs alone: ``{domain: state}``."""
    states: dict[str, dict[str, Any]] = {}
    for domain in SUITE_DOMAINS:
        module = domain_module(domain, "replay")
        if module is None:
            continue
        optional = set(getattr(module, "OPTIONAL_CONTRACTS", ()))
        names = [n for n in module.CONTRACTS if n in deployment.contracts or n not in optional]
        events: list[DecodedEvent] = []
        for name in names:
            rec = deployment.contracts[name]
            table = contract_abi(name, artifacts).by_topic
            # A successor version's history: each predecessor's logs up to the snapshot its
            # state was copied at, then the successor's (docs/upgrades.md).
            logs = []
            for address, first, last in rec.segments():
                window = {
                    "address": address,
                    "fromBlock": hex(first),
                    "toBlock": "latest" if last is None else hex(last),
                }
                logs.extend(rpc.call("eth_getLogs", [window]))
            for log in logs:
                topic0 = bytes.fromhex(log["topics"][0][2:]) if log["topics"] else b""
                ev = table.get(topic0)
                if ev is None:
                    continue
                events.append(
                    DecodedEvent(
                        name,
                        ev.name,
                        _decode(ev, log),
                        int(log["blockNumber"], 16),
                        int(log["logIndex"], 16),
                        log["transactionHash"],
                        address=to_checksum_address(log["address"]),
                    )
                )
        events.sort(key=lambda e: (e.block, e.log_index))
        times = _timestamps(rpc, sorted({e.block for e in events}))
        events = [replace(e, timestamp=times[e.block]) for e in events]
        state: dict[str, Any] = {}
        for event in events:
            reduce_event(module, state, event)
        states[domain] = state
    return states


def _timestamps(rpc: RpcClient, blocks: list[int]) -> dict[int, int]:
    replies = rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in blocks], chunk=200)
    out: dict[int, int] = {}
    for n, block in zip(blocks, replies, strict=True):
        if not isinstance(block, dict):
            raise RpcError(f"block {n} (needed for its timestamp): {block}")
        out[n] = int(block["timestamp"], 16)
    return out


def check(w3: Web3, rpc: RpcClient, deployment: Deployment, artifacts: Artifacts) -> dict[str, list[str]]:
    """Replay, then let each domain compare its rebuilt state with on-chain reads."""
    reads = Reads(Chain(w3, ErrorDecoder.from_abis(artifacts.all_abis())), deployment, artifacts)
    diffs: dict[str, list[str]] = {}
    for domain, state in replay(rpc, deployment, artifacts).items():
        module = domain_module(domain, "replay")
        assert module is not None
        diffs[domain] = verify_state(module, state, reads)
    return diffs


def reduce_event(module: Any, state: dict[str, Any], event: DecodedEvent) -> None:
    """Fold one event into a domain's replayed state: the emergency pause (OpenZeppelin
    Pausable's events, the same in every domain) here, everything else by the domain's reducer."""
    if event.name in _PAUSE_EVENTS:
        state.setdefault(PAUSED, {})[event.contract] = event.name == "Paused"
    else:
        module.reduce(state, event)


def verify_state(module: Any, state: dict[str, Any], reads: Reads) -> list[str]:
    """A domain's ``verify`` of its replayed state, plus the pause flag of each of its contracts."""
    out: list[str] = list(module.verify(state, reads))
    for name, paused in state.get(PAUSED, {}).items():
        on_chain = bool(reads.contract(name).functions.paused().call())
        if on_chain != paused:
            out.append(f"{name}: paused {on_chain} on chain, {paused} from its events")
    return out
