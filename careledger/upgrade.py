"""Moving a deployed suite to a new version without losing its state (docs/upgrades.md).

A versioned migration, not a proxy: each moving contract (:data:`MOVING`) gets a successor
deployed paused and naming its predecessor; the predecessor is paused (emergency council); the
claims pool is handed over (so nothing can pay out of the old contract any more); every storage
slot the predecessor ever wrote is found, read at one snapshot block, and imported into the
successor in batches by the directory's admin (the consortium timelock); the import is sealed with
its running digest; :func:`verify` re-derives the digest from the predecessor at the snapshot,
compares every slot, and checks the predecessor emitted nothing after the snapshot; then the
successors are resumed (the timelock, after its delay) and ``deployments/<chainId>.json`` records
the new addresses, their versions and their predecessors.

Finding the slots: every transaction that logged from any suite contract (the suite's contracts
emit an event for every state change: the replay proves it) plus the predecessor's deployment
block is traced with the ``prestateTracer`` in diff mode (``debug_traceTransaction``: anvil,
geth, reth, erigon, nethermind); the union of the storage keys it shows for the predecessor is
every slot ever written, whatever the layout. The successor's layout must only append to the
predecessor's (the successor inherits its contract); a version pair whose layout differs needs a
translator in :data:`TRANSLATORS`, and without one the migration is refused.

Every governed call goes through an :class:`Executor`: :class:`DirectExecutor` sends it from a key
that holds the power (a devnet before governance), :class:`CouncilExecutor` puts it to the
consortium (propose, approve, queue, execute; devnet: the clock is moved over the delay).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from careledger.artifacts import Artifacts
from careledger.chain import Chain
from careledger.deployments import ContractRecord, Deployment, Predecessor, code_hash
from careledger.errors import InvalidInput, NotVerified, RpcError
from careledger.rpc import RpcClient

__all__ = [
    "IMPORT_BATCH",
    "MOVING",
    "SUCCESSOR_VERSIONS",
    "TRANSLATORS",
    "CouncilExecutor",
    "DirectExecutor",
    "Executor",
    "Plan",
    "Slots",
    "appends",
    "batches",
    "digest",
    "export_state",
    "import_state",
    "layout_rule",
    "migrate_suite",
    "recorded_plans",
    "storage_layouts",
    "verify",
    "written_slots",
]

# Record name -> the successor artifact of this build (its constructor takes the predecessor last).
MOVING: dict[str, str] = {
    "ConsentRegistry": "ConsentRegistryV2",
    "ProvenanceRegistry": "ProvenanceRegistryV2",
    "ClaimSettlement": "ClaimSettlementV2",
}
# The version each successor artifact reports (checked on chain once deployed).
SUCCESSOR_VERSIONS: dict[str, int] = {a: 2 for a in MOVING.values()}
# Slots per importState call: 128 fresh slots cost about 2.9 M gas, well inside a block.
IMPORT_BATCH = 128
# The import's own namespace (contracts/common/Migration.sol): never exported.
MIGRATION_SLOT = 0x259E63C8A1EA42AA0377890640594448CD5A0E95277083EF3C3BE1030E0DC500
_TRACER = {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}

Slots = list[tuple[int, int]]  # (slot, value), sorted by slot
Translator = Callable[[Slots], Slots]
# (record name, from version, to version) -> how a layout that changed is rewritten. Empty: every
# successor of this build only appends to its predecessor's layout (the identity).
TRANSLATORS: dict[tuple[str, int, int], Translator] = {}


def layout_rule(name: str, old: int, new: int, *, same_layout: bool) -> Translator:
    """The translation from version ``old`` to ``new`` of ``name``: the identity when the
    successor's layout appends to the predecessor's, else a registered translator; refused
    (InvalidInput) when the layout changed and no translator exists."""
    if new <= old:
        raise InvalidInput(f"{name}: version {new} does not follow version {old}")
    if same_layout:
        return lambda slots: slots
    translator = TRANSLATORS.get((name, old, new))
    if translator is None:
        raise InvalidInput(
            f"{name}: the storage layout of version {new} is not version {old}'s plus appended state, "
            "and no translator is registered for that pair"
        )
    return translator


Layout = dict[str, Any]  # {"storage": [[label, slot, offset, type], ...], "types": {type: definition}}


def _normal(text: str) -> str:
    """A solc type id without its AST numbers (``t_struct(Plan)15275_storage`` -> ``t_struct(Plan)_storage``)."""
    return re.sub(r"\)\d+", ")", text)


def storage_layouts(artifacts: Artifacts, names: Sequence[str]) -> dict[str, Layout]:
    """The compiler's storage layout of each artifact in ``names`` (solc ``storageLayout``, the
    pinned compiler of the build, AST ids removed), cached next to the build output."""
    import json

    from careledger._paths import build_manifest

    manifest = build_manifest()
    cache_path = manifest.with_name("storage-layouts.json")
    stamp = keccak(manifest.read_bytes()).hex() if manifest.is_file() else ""
    cache: dict[str, Any] = {}
    if cache_path.is_file():
        cache = json.loads(cache_path.read_text())
        if cache.get("build") != stamp:
            cache = {}
    layouts: dict[str, Layout] = cache.get("layouts", {})
    missing = [n for n in names if n not in layouts]
    if missing:
        layouts.update(_compile_layouts(artifacts, missing))
        cache_path.write_text(json.dumps({"build": stamp, "layouts": layouts}, sort_keys=True))
    return {n: layouts[n] for n in names}


def _compile_layouts(artifacts: Artifacts, names: Sequence[str]) -> dict[str, Layout]:
    from careledger._extras import needs_extra
    from careledger._paths import project_root
    from careledger.errors import EnvironmentProblem

    with needs_extra("upgrade", "reading the storage layouts of an upgrade"):
        import solcx  # type: ignore[import-untyped]
    root = project_root()
    sources = sorted({artifacts[n].source_id for n in names})
    settings = {
        "remappings": ["@openzeppelin/contracts=contracts/.deps/@openzeppelin/contracts"],
        "evmVersion": "cancun",
        "outputSelection": {src: {"*": ["storageLayout"]} for src in sources},
    }
    request = {"language": "Solidity", "sources": {s: {"urls": [s]} for s in sources}, "settings": settings}
    version = artifacts.compiler_version.split("+")[0]
    try:
        out = solcx.compile_standard(request, solc_version=version, allow_paths=[str(root)], base_path=str(root))
    except Exception as exc:  # noqa: BLE001 - solcx raises its own tree
        raise EnvironmentProblem(f"cannot compute storage layouts with solc {version}: {exc}") from None
    layouts: dict[str, Layout] = {}
    for name in names:
        raw = out["contracts"][artifacts[name].source_id][name]["storageLayout"]
        types = {
            _normal(k): {
                "encoding": v.get("encoding"),
                "numberOfBytes": v.get("numberOfBytes"),
                "members": [[m["label"], m["slot"], m["offset"], _normal(m["type"])] for m in v.get("members", [])],
                "key": _normal(v.get("key", "")),
                "value": _normal(v.get("value", "")),
                "base": _normal(v.get("base", "")),
            }
            for k, v in (raw.get("types") or {}).items()
        }
        storage = [[e["label"], e["slot"], e["offset"], _normal(e["type"])] for e in raw["storage"]]
        layouts[name] = {"storage": storage, "types": types}
    return layouts


def appends(old: Layout, new: Layout) -> bool:
    """Whether ``new`` keeps every variable of ``old`` at its slot and offset with the same type
    (and the same definition of each type it uses), adding only after them."""
    n = len(old["storage"])
    if new["storage"][:n] != old["storage"]:
        return False
    return all(new["types"].get(t) == d for t, d in old["types"].items())


# ---------------------------------------------------------------------- export


def _logged_transactions(rpc: RpcClient, addresses: Sequence[str], first: int, last: int) -> set[str]:
    logs = rpc.call("eth_getLogs", [{"address": list(addresses), "fromBlock": hex(first), "toBlock": hex(last)}])
    return {str(log["transactionHash"]) for log in logs}


def written_slots(rpc: RpcClient, deployment: Deployment, rec: ContractRecord, snapshot: int) -> set[int]:
    """Every storage slot the contract ``rec`` wrote from its deployment up to ``snapshot`` (see
    the module's docstring); any suite contract's log marks a transaction to look at."""
    address = rec.address.lower()
    suite = {rec.address}
    for r in deployment.contracts.values():  # every contract of the suite, every version of it
        suite.update(a for a, _, _ in r.segments())
    txs = _logged_transactions(rpc, sorted(suite), rec.block, snapshot)
    block = rpc.call("eth_getBlockByNumber", [hex(rec.block), False])
    txs.update(str(h) for h in block["transactions"])
    slots: set[int] = set()
    ordered = sorted(txs)
    for tx, trace in zip(
        ordered, rpc.batch([("debug_traceTransaction", [h, _TRACER]) for h in ordered], chunk=50), strict=True
    ):
        if isinstance(trace, RpcError):
            raise RpcError(f"cannot trace {tx} (the node must serve debug_traceTransaction's prestateTracer): {trace}")
        for side in ("pre", "post"):
            account = {k.lower(): v for k, v in (trace.get(side) or {}).items()}.get(address) or {}
            slots.update(int(k, 16) for k in (account.get("storage") or {}))
    slots.discard(MIGRATION_SLOT)
    slots.discard(MIGRATION_SLOT + 1)
    return slots


def export_state(rpc: RpcClient, address: str, slots: set[int], block: int) -> Slots:
    """The non-zero values of ``slots`` at ``block`` (an archive read), sorted by slot."""
    ordered = sorted(slots)
    replies = rpc.batch([("eth_getStorageAt", [address, hex(s), hex(block)]) for s in ordered], chunk=200)
    out: Slots = []
    for slot, value in zip(ordered, replies, strict=True):
        if isinstance(value, RpcError):
            raise RpcError(f"cannot read slot {slot:#x} of {address} at block {block}: {value}")
        if int(value, 16):
            out.append((slot, int(value, 16)))
    return out


def batches(state: Slots, size: int = IMPORT_BATCH) -> list[Slots]:
    return [state[i : i + size] for i in range(0, len(state), size)]


def digest(parts: list[Slots]) -> bytes:
    """The running digest the successor folds its import batches into (IMigratable.importStatus)."""
    acc = b"\0" * 32
    for part in parts:
        slots = keccak(b"".join(s.to_bytes(32, "big") for s, _ in part))
        values = keccak(b"".join(v.to_bytes(32, "big") for _, v in part))
        acc = keccak(abi_encode(["bytes32", "bytes32", "bytes32"], [acc, slots, values]))
    return acc


# ---------------------------------------------------------------------- governed calls


class Executor(Protocol):
    def run(self, calls: list[ContractFunction], what: str) -> None: ...


@dataclass
class DirectExecutor:
    """Sends each call from a key that holds the power itself (a devnet before governance)."""

    chain: Chain

    def run(self, calls: list[ContractFunction], what: str) -> None:
        for fn in calls:
            self.chain.send(fn, f"{what}: {fn.fn_name}")


@dataclass
class CouncilExecutor:
    """Puts the calls to the consortium: the first member proposes, every member approves, the
    decision is queued and, once the delay has passed, executed. ``travel`` moves a devnet's
    clock (None: wait for the chain, which a real network's does by itself)."""

    members: list[Any]  # careledger.governance.client.GovernanceClient, one per member key
    travel: Callable[[int], None]
    delay: int

    def run(self, calls: list[ContractFunction], what: str) -> None:
        from careledger.governance.client import Call, _data

        lead = self.members[0]
        for fn in calls:
            lead.upgrade_targets[to_checksum_address(fn.address)] = fn.fn_name
        proposal = [Call(to_checksum_address(fn.address), _data(fn), f"{what}: {fn.fn_name}") for fn in calls]
        from careledger.governance.client import ProposalState

        council, pid, _ = lead.propose(proposal, note=what)
        self.travel(1)
        for member in self.members:  # until the quorum is reached
            if lead.proposal(pid, council).state is not ProposalState.ACTIVE:
                break
            member.vote(pid)
        done, _ = lead.execute(pid)
        if done == "queued":
            self.travel(self.delay)
            lead.execute(pid)


# ---------------------------------------------------------------------- the migration


@dataclass
class Plan:
    """One contract's move: names, addresses, versions and the snapshot block."""

    name: str
    artifact: str
    old: ContractRecord
    new_address: str = ""
    new_block: int = 0
    snapshot: int = 0
    state: Slots = field(default_factory=list)


def _contract(chain: Chain, address: str, *abis: list[dict[str, Any]]) -> Contract:
    merged: list[dict[str, Any]] = []
    seen: set[str] = set()
    for abi in abis:
        for item in abi:
            key = repr(sorted(item.items()))
            if key not in seen:
                seen.add(key)
                merged.append(item)
    return chain.contract(address, merged)


def import_state(chain: Chain, artifacts: Artifacts, plan: Plan, executor: Executor) -> None:
    """Write ``plan.state`` into the successor, batch by batch, skipping batches already written
    (a re-run after a crash resumes), then seal it at ``plan.snapshot``."""
    succ = _contract(chain, plan.new_address, artifacts["IMigratable"].abi)
    parts = batches(plan.state)
    sealed, count, _ = succ.functions.importStatus().call()
    if sealed:
        raise InvalidInput(f"{plan.name} at {plan.new_address} is already sealed")
    done, written = 0, 0
    while done < len(parts) and written + len(parts[done]) <= count:
        written += len(parts[done])
        done += 1
    if written != count:
        raise NotVerified(f"{plan.name}: {count} slots imported do not end on a batch boundary of this export")
    calls = [
        succ.functions.importState([s.to_bytes(32, "big") for s, _ in p], [v.to_bytes(32, "big") for _, v in p])
        for p in parts[done:]
    ]
    for i in range(0, len(calls), 4):  # four batches per decision
        executor.run(calls[i : i + 4], f"import {plan.name} state")
    executor.run([succ.functions.sealImport(plan.snapshot)], f"seal the {plan.name} import")


def verify(rpc: RpcClient, chain: Chain, artifacts: Artifacts, deployment: Deployment, plan: Plan) -> list[str]:
    """Why the successor is not the predecessor at the snapshot (empty when it is): the sealed
    digest and count re-derived from the predecessor, every slot it wrote read on both, and no
    event of the predecessor after the snapshot (a patient's revoke there would be lost)."""
    problems: list[str] = []
    succ = _contract(chain, plan.new_address, artifacts["IMigratable"].abi)
    sealed, count, sealed_digest = succ.functions.importStatus().call()
    slots = written_slots(rpc, deployment, plan.old, plan.snapshot)
    expected = export_state(rpc, plan.old.address, slots, plan.snapshot)
    if not sealed:
        problems.append(f"{plan.name}: the import is not sealed")
    if count != len(expected) or bytes(sealed_digest) != digest(batches(expected)):
        problems.append(
            f"{plan.name}: the successor sealed {count} slots with digest {bytes(sealed_digest).hex()}, "
            f"the predecessor at block {plan.snapshot} has {len(expected)} with {digest(batches(expected)).hex()}"
        )
    seal_logs = rpc.call(
        "eth_getLogs",
        [
            {
                "address": plan.new_address,
                "fromBlock": hex(plan.new_block),
                "toBlock": "latest",
                "topics": ["0x" + keccak(text="ImportSealed(address,uint256,uint256,bytes32)").hex()],
            }
        ],
    )
    at = int(seal_logs[0]["blockNumber"], 16) if seal_logs else "latest"
    read_at = hex(at) if isinstance(at, int) else at
    replies = rpc.batch([("eth_getStorageAt", [plan.new_address, hex(s), read_at]) for s in sorted(slots)], chunk=200)
    old = dict(expected)
    for slot, value in zip(sorted(slots), replies, strict=True):
        if isinstance(value, RpcError) or int(value, 16) != old.get(slot, 0):
            problems.append(f"{plan.name}: slot {slot:#x} is {value} on the successor, {old.get(slot, 0):#x} before")
    later = rpc.call(
        "eth_getLogs", [{"address": plan.old.address, "fromBlock": hex(plan.snapshot + 1), "toBlock": "latest"}]
    )
    if later:
        problems.append(
            f"{plan.name}: the predecessor logged {len(later)} event(s) after the snapshot block {plan.snapshot}; "
            "its state moved on: deploy a new successor and migrate again"
        )
    return problems


def migrate_suite(
    chain: Chain,
    rpc: RpcClient,
    deployment: Deployment,
    artifacts: Artifacts,
    *,
    emergency: Executor,
    ordinary: Executor,
    names: Sequence[str] = tuple(MOVING),
) -> list[Plan]:
    """The whole procedure of docs/upgrades.md for ``names``: deploy successors (paused), pause
    the predecessors, hand the claims pool over, snapshot, import, seal, verify, resume the
    successors, record them. Raises NotVerified (nothing resumed) when verification fails."""
    if {"ConsentRegistry", "ProvenanceRegistry"} & set(names) and "ClaimSettlement" not in names:
        # ClaimSettlement asks both registries through immutable addresses: it moves with them.
        raise InvalidInput("moving the consent or provenance registry moves ClaimSettlement too (it is wired to them)")
    names = [n for n in MOVING if n in names]  # in deployment order
    plans = [Plan(n, MOVING[n], deployment.contracts[n]) for n in names]
    translators: dict[str, Translator] = {}
    for plan in plans:
        old_artifact = plan.old.artifact or plan.name
        if artifacts[old_artifact].abi_hash != plan.old.abi_hash:
            raise InvalidInput(
                f"{plan.name}: this build's {old_artifact} is not the deployed one; its layout is unknown"
            )
        layouts = storage_layouts(artifacts, [old_artifact, plan.artifact])
        new_version = SUCCESSOR_VERSIONS[plan.artifact]
        translators[plan.name] = layout_rule(
            plan.name, plan.old.version, new_version, same_layout=appends(layouts[old_artifact], layouts[plan.artifact])
        )
    by_name = {p.name: p for p in plans}
    directory = deployment.address("ParticipantDirectory")

    def address_of(name: str) -> str:
        return by_name[name].new_address if name in by_name else deployment.address(name)

    for plan in plans:  # SUITE order: claims' successor is wired to the new consent/provenance
        pred = plan.old.address
        if plan.name == "ClaimSettlement":
            token = deployment.config["paymentToken"]
            args: list[Any] = [directory, address_of("ConsentRegistry"), address_of("ProvenanceRegistry"), token, pred]
        else:
            args = [directory, pred]
        art = artifacts[plan.artifact]
        receipt = chain.deploy(art.abi, art.bytecode, args, f"deploy {plan.artifact}")
        plan.new_address, plan.new_block = str(receipt["contractAddress"]), int(receipt["blockNumber"])
        got = _contract(chain, plan.new_address, artifacts["IVersioned"].abi).functions.version().call()
        if got != SUCCESSOR_VERSIONS[plan.artifact]:
            raise NotVerified(f"{plan.artifact} reports version {got}, not {SUCCESSOR_VERSIONS[plan.artifact]}")

    def pausable(address: str) -> Contract:
        return _contract(chain, address, artifacts["IEmergencyPausable"].abi, artifacts["ProvenanceRegistry"].abi)

    running = [p for p in plans if not pausable(p.old.address).functions.paused().call()]
    if running:
        emergency.run([pausable(p.old.address).functions.pause() for p in running], "pause for the upgrade")
    if "ClaimSettlement" in by_name:
        plan = by_name["ClaimSettlement"]
        old = _contract(chain, plan.old.address, artifacts["IPoolHandOver"].abi)
        ordinary.run([old.functions.handOver(plan.new_address)], "hand the claims pool over")
    snapshot = int(chain.w3.eth.block_number)
    for plan in plans:
        plan.snapshot = snapshot
        read = export_state(rpc, plan.old.address, written_slots(rpc, deployment, plan.old, snapshot), snapshot)
        plan.state = translators[plan.name](read)
        import_state(chain, artifacts, plan, ordinary)
    problems = [p for plan in plans for p in verify(rpc, chain, artifacts, deployment, plan)]
    if problems:
        raise NotVerified("the upgrade does not verify: " + "; ".join(problems))
    ordinary.run([pausable(p.new_address).functions.unpause() for p in plans], "resume upgraded")
    for plan in plans:
        record(chain, artifacts, deployment, plan)
    deployment.save()
    return plans


def recorded_plans(deployment: Deployment) -> list[Plan]:
    """The moves recorded in the deployment (each successor and its latest predecessor)."""
    out: list[Plan] = []
    for name, rec in sorted(deployment.contracts.items()):
        pred = rec.predecessor
        if pred is None:
            continue
        old = ContractRecord(
            pred.address, pred.block, pred.abi_hash, version=pred.version, predecessor=pred.predecessor
        )
        out.append(Plan(name, rec.artifact or name, old, rec.address, rec.block, pred.snapshot_block))
    return out


def record(chain: Chain, artifacts: Artifacts, deployment: Deployment, plan: Plan) -> None:
    """Write the successor into the deployment, its predecessor (and that one's) kept."""
    old = plan.old
    code = bytes(chain.w3.eth.get_code(to_checksum_address(plan.new_address)))
    deployment.contracts[plan.name] = ContractRecord(
        address=to_checksum_address(plan.new_address),
        block=plan.new_block,
        abi_hash=artifacts[plan.artifact].abi_hash,
        code_hash=code_hash(code),
        version=int(_contract(chain, plan.new_address, artifacts["IVersioned"].abi).functions.version().call()),
        artifact=plan.artifact,
        predecessor=Predecessor(old.address, old.version, old.block, plan.snapshot, old.abi_hash, old.predecessor),
    )
