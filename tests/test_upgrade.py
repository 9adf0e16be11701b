"""Issue #16 point 5: upgrades keep the state. The demo's suite (version 1, real state from every
story, under its 2-of-3 consortium) is moved to version 2 (contracts/test/UpgradedVersions.sol)
through the consortium: every slot, every read the replay checks and the event replay agree, and
version 2 keeps working. Then the import's refusals, contract by contract."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
from rich.console import Console

from careledger.accounts import dev_account
from careledger.artifacts import load_artifacts
from careledger.chain import Chain, ErrorDecoder, connect
from careledger.demo.runner import run_demo
from careledger.deployments import load_deployment
from careledger.errors import InvalidInput
from careledger.governance.client import GovernanceClient
from careledger.governance.consortium import ConsortiumConfig
from careledger.index.audit import index_audit
from careledger.indexer import check, replay
from careledger.rpc import RpcClient
from careledger.upgrade import (
    MOVING,
    CouncilExecutor,
    appends,
    batches,
    digest,
    layout_rule,
    migrate_suite,
    storage_layouts,
    verify,
)

pytestmark = pytest.mark.devnet

_VOLATILE = ("paused", "token")  # what the upgrade itself changes: the pause flags, the pool's token holder


def _stable(states: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d: {k: v for k, v in s.items() if k not in _VOLATILE} for d, s in states.items()}


@pytest.fixture(scope="module")
def upgraded():
    found: dict[str, Any] = {}

    def inspect(url: str) -> None:
        w3 = connect(url)
        rpc = RpcClient(url)
        artifacts = load_artifacts()
        before = load_deployment(w3)
        found["v1"] = {n: before.address(n) for n in MOVING}
        v1_only = copy.deepcopy(before)  # the version-1 suite, as recorded before the move
        found["states_before"] = replay(rpc, before, artifacts)
        found["diffs_before"] = check(w3, rpc, before, artifacts)

        def signer(name: str) -> Chain:
            return Chain(w3, ErrorDecoder.from_abis(artifacts.all_abis())).with_account(dev_account(name).account)

        def travel(seconds: int) -> None:
            w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

        members = [GovernanceClient(signer(n), before) for n in ("clinic", "insurer", "regulator")]
        council = CouncilExecutor(members, travel, ConsortiumConfig.devnet().delay)
        deployer = signer("admin")
        plans = migrate_suite(deployer, rpc, before, artifacts, emergency=council, ordinary=council)
        found["plans"] = plans
        after = load_deployment(w3)
        found["after"] = after
        found["states_after"] = replay(rpc, after, artifacts)
        found["diffs_after"] = check(w3, rpc, after, artifacts)
        found["index_after"] = index_audit(url, w3, after)
        # Every read each domain's verify makes, for every entity the log names, on v1 at the
        # snapshot block (web3 reads at the default block) against v1's own replay.
        at_snapshot = connect(url)
        at_snapshot.eth.default_block = plans[0].snapshot
        found["states_v1"] = replay(rpc, v1_only, artifacts)
        found["diffs_v1_at_snapshot"] = check(at_snapshot, rpc, v1_only, artifacts)
        found["verify"] = [p for plan in plans for p in verify(rpc, deployer, artifacts, after, plan)]
        found["balances"] = _balances(w3, artifacts, after, plans)

        # Version 2 keeps working: a new consent, a pool withdrawal paid from the moved tokens.
        from careledger.claims.client import ClaimsClient
        from careledger.codes import Category, Purpose
        from careledger.consent.client import ConsentClient
        from careledger.consent.terms import GrantTerms, mask

        patient = ConsentClient(signer("patient"), after)
        lab = dev_account("lab").address
        patient.grant(
            GrantTerms(
                grantee=lab,
                categories=mask([Category.OBSERVATION]),
                purposes=mask([Purpose.TREAT]),
                valid_until=patient.chain_time() + 86_400,
            )
        )
        found["grant_after"] = patient.can_access(
            dev_account("patient").address, lab, Category.OBSERVATION, Purpose.TREAT
        )[0]
        insurer = ClaimsClient(signer("insurer"), after)
        plan_id = next(iter(found["states_after"]["claims"]["plans"]))
        pool = insurer.pool(plan_id)
        found["pool_before_withdraw"] = pool
        found["withdrew"] = None
        if int(pool.free) > 0:
            insurer.withdraw_free(plan_id, 1, dev_account("insurer").address)
            found["withdrew"] = insurer.pool(plan_id)

    run_demo(Console(file=io.StringIO()), inspect=inspect)
    return found


def _balances(w3, artifacts, after, plans):
    token = w3.eth.contract(address=after.config["paymentToken"], abi=artifacts["DevnetTestUSD"].abi)
    claims = next(p for p in plans if p.name == "ClaimSettlement")
    v1 = token.functions.balanceOf
    return {
        "v1_before_handover": v1(claims.old.address).call(block_identifier=claims.new_block),
        "v1_at_snapshot": v1(claims.old.address).call(block_identifier=claims.snapshot),
        "v2_at_snapshot": v1(claims.new_address).call(block_identifier=claims.snapshot),
    }


def test_every_contract_moved_with_its_state(upgraded):
    assert upgraded["diffs_before"] == {d: [] for d in upgraded["states_before"]}
    after = upgraded["after"]
    for name in MOVING:
        rec = after.contracts[name]
        assert rec.version == 2 and rec.predecessor is not None
        assert rec.predecessor.address == upgraded["v1"][name] and rec.predecessor.version == 1
        assert rec.predecessor.snapshot_block == upgraded["plans"][0].snapshot
    assert all(len(p.state) >= 5 for p in upgraded["plans"]), {p.name: len(p.state) for p in upgraded["plans"]}


def test_every_slot_and_the_digest_agree(upgraded):
    assert upgraded["verify"] == []


def test_event_replay_of_v1_then_v2_agrees_with_v2(upgraded):
    """The replay follows the predecessor chain (v1 up to the snapshot, then v2) and every domain's
    verify reads v2: the same state as the replay of v1 alone, checked against v1 before."""
    assert upgraded["diffs_after"] == {d: [] for d in upgraded["states_after"]}
    assert _stable(upgraded["states_after"]) == _stable(upgraded["states_before"])
    for domain in ("consent", "provenance", "claims"):
        assert not any(upgraded["states_after"][domain].get("paused", {}).values()), domain


def test_persistent_index_follows_the_predecessor_chain(upgraded):
    """careledger index, built after the upgrade, reads v1 up to the snapshot then v2: the same
    state as the replay, and no difference from v2's reads."""
    index = upgraded["index_after"]
    for domain, state in upgraded["states_after"].items():
        for key, value in state.items():
            assert index["states"][domain].get(key) == value, (domain, key)
    assert index["states"] == upgraded["states_after"]
    assert index["diffs"] == {domain: [] for domain in upgraded["states_after"]}


def test_every_read_on_v1_at_the_snapshot_agrees_with_the_same_reads_on_v2(upgraded):
    """The domains' verify reads every view for every consent, delegate, break-glass, study,
    batch, parcel, unit, plan, rule, enrolment, cover, claim, pool and token holder the log names:
    on v1 at the snapshot they agree with v1's replay, on v2 with v1-then-v2's replay, and the
    two replays are the same state (the pause flags and the token's holder aside)."""
    assert upgraded["diffs_v1_at_snapshot"] == {d: [] for d in upgraded["states_v1"]}
    assert _stable(upgraded["states_v1"]) == _stable(upgraded["states_after"])
    assert upgraded["states_v1"]["claims"]["token"] == upgraded["states_after"]["claims"]["token"]


def test_pool_tokens_moved_with_the_accounting(upgraded):
    """Every token v1 held is on v2 at the snapshot, v1 holds none; the pools' accounting moved
    with the state (the replay and every poolOf agree, test above)."""
    b = upgraded["balances"]
    assert b["v1_before_handover"] > 0
    assert b["v1_at_snapshot"] == 0
    assert b["v2_at_snapshot"] == b["v1_before_handover"]


def test_v2_keeps_working(upgraded):
    assert upgraded["grant_after"]
    if upgraded["withdrew"] is not None:
        assert int(upgraded["withdrew"].withdrawn) == int(upgraded["pool_before_withdraw"].withdrawn) + 1


def test_layouts_from_the_compiler_decide_the_translation():
    """Each successor's layout (solc storageLayout) appends to its predecessor's; a pair whose
    layout differs (here: two different contracts) is not, and gets no identity translation."""
    artifacts = load_artifacts()
    names = [*MOVING, *MOVING.values()]
    layouts = storage_layouts(artifacts, names)
    for old, new in MOVING.items():
        assert appends(layouts[old], layouts[new]), old
        assert layouts[old]["storage"], old
    assert not appends(layouts["ConsentRegistry"], layouts["ProvenanceRegistryV2"])
    assert not appends(layouts["ClaimSettlement"], layouts["ConsentRegistryV2"])
    with pytest.raises(InvalidInput, match="no translator"):
        layout_rule(
            "ConsentRegistry", 1, 2, same_layout=appends(layouts["ClaimSettlement"], layouts["ConsentRegistryV2"])
        )


def test_a_layout_change_without_translator_is_refused():
    assert layout_rule("ConsentRegistry", 1, 2, same_layout=True)([(1, 2)]) == [(1, 2)]
    with pytest.raises(InvalidInput, match="no translator"):
        layout_rule("ConsentRegistry", 1, 2, same_layout=False)
    with pytest.raises(InvalidInput, match="does not follow"):
        layout_rule("ConsentRegistry", 2, 2, same_layout=True)


def test_digest_folds_batches_in_order():
    state = [(i, i + 1) for i in range(5)]
    assert digest(batches(state, 2)) != digest(batches(state, 3))
    assert digest([]) == b"\0" * 32


def test_truncated_import_and_later_events_are_caught_by_verify(tmp_path, monkeypatch):
    """On a fresh devnet whose deployer still holds the powers (DirectExecutor): a successor
    sealed with one slot short fails verify (count, digest and the slot itself), and so does one
    whose predecessor logged a patient's revoke after the snapshot."""
    from careledger.codes import Category, Purpose
    from careledger.consent.client import ConsentClient
    from careledger.consent.terms import GrantTerms, mask
    from careledger.deploy import deploy_suite, suite_chain
    from careledger.devnet import Devnet, free_port
    from careledger.upgrade import DirectExecutor, Plan, export_state, import_state, written_slots

    monkeypatch.setenv("CARELEDGER_DEPLOYMENTS_DIR", str(tmp_path / "deployments"))
    net = Devnet(folder=tmp_path / "devnet", port=free_port(), persist=False)
    net.up()
    try:
        w3 = connect(net.rpc_url)
        rpc = RpcClient(net.rpc_url)
        artifacts = load_artifacts()
        admin = suite_chain(w3, dev_account("admin").account.key.hex(), devnet=True)
        deploy_suite(admin)
        deployment = load_deployment(w3)
        patient = ConsentClient(admin.with_account(dev_account("patient").account), deployment)
        ids = {}
        for org in ("lab", "er", "clinic"):
            terms = GrantTerms(
                grantee=dev_account(org).address,
                categories=mask([Category.OBSERVATION]),
                purposes=mask([Purpose.TREAT]),
                valid_until=patient.chain_time() + 86_400,
            )
            ids[org], _ = patient.grant(terms, require_vetted=False)
        direct = DirectExecutor(admin)
        old = deployment.contracts["ConsentRegistry"]
        directory = deployment.address("ParticipantDirectory")

        def successor() -> Plan:
            art = artifacts["ConsentRegistryV2"]
            receipt = admin.deploy(art.abi, art.bytecode, [directory, old.address], "deploy v2")
            return Plan(
                "ConsentRegistry",
                "ConsentRegistryV2",
                old,
                str(receipt["contractAddress"]),
                int(receipt["blockNumber"]),
            )

        v1 = admin.contract(old.address, artifacts["ConsentRegistry"].abi)
        direct.run([v1.functions.pause()], "pause")
        snapshot = int(w3.eth.block_number)
        full = export_state(rpc, old.address, written_slots(rpc, deployment, old, snapshot), snapshot)
        assert len(full) >= 3

        short = successor()
        short.snapshot, short.state = snapshot, full[:-1]
        import_state(admin, artifacts, short, direct)
        problems = verify(rpc, admin, artifacts, deployment, short)
        assert any(f"sealed {len(full) - 1} slots" in p for p in problems), problems
        assert any(f"slot {full[-1][0]:#x}" in p for p in problems), problems

        whole = successor()
        whole.snapshot, whole.state = snapshot, full
        import_state(admin, artifacts, whole, direct)
        assert verify(rpc, admin, artifacts, deployment, whole) == []
        patient.revoke(dev_account("lab").address, ids["lab"])  # a patient's revoke works while paused
        problems = verify(rpc, admin, artifacts, deployment, whole)
        assert len(problems) == 1 and "after the snapshot" in problems[0], problems
    finally:
        net.down()
