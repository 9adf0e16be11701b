"""Governance benchmark: gas of one ordinary decision through the consortium (the devnet's 2-of-3
council): propose, each member's vote, queue into the timelock, execute after the delay; and of
one emergency decision (propose, votes, execute at once)."""

from __future__ import annotations

from bench.harness import BenchEnv, BenchResult
from careledger.codes import Role
from careledger.deployments import load_deployment
from careledger.directory.client import credential_commitment
from careledger.governance.client import GovernanceClient
from careledger.governance.consortium import ConsortiumConfig, establish


def _travel(env: BenchEnv, seconds: int) -> None:
    env.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    env.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def run(env: BenchEnv) -> BenchResult:
    config = ConsortiumConfig.devnet()
    establish(env.signer("admin"), config, artifacts=env.artifacts)
    deployment = load_deployment(env.w3)
    _travel(env, 1)
    clinic, insurer, regulator = (
        GovernanceClient(env.signer(n), deployment) for n in ("clinic", "insurer", "regulator")
    )
    newcomer = env.signer("patient2").account
    assert newcomer is not None
    call = clinic.register(newcomer.address, Role.PHARMACY, credential_commitment("GLN-BENCH", b"salt"))
    _, pid, proposed = clinic.propose([call])
    _travel(env, 1)
    first = clinic.vote(pid)
    second = insurer.vote(pid)
    _, queued = clinic.execute(pid)
    _travel(env, config.delay)
    _, executed = clinic.execute(pid)
    _, eid, e_proposed = regulator.propose([regulator.suspend(newcomer.address, "BENCH")])
    _travel(env, 1)
    regulator.vote(eid)
    clinic.vote(eid)
    _, e_executed = regulator.execute(eid)
    return BenchResult(
        gas={
            "gov.propose": int(proposed["gasUsed"]),
            "gov.vote": int(first["gasUsed"]),
            "gov.vote_reaching_quorum": int(second["gasUsed"]),
            "gov.queue": int(queued["gasUsed"]),
            "gov.execute": int(executed["gasUsed"]),
            "gov.emergency_propose": int(e_proposed["gasUsed"]),
            "gov.emergency_execute": int(e_executed["gasUsed"]),
        },
        notes=[
            "one ordinary decision (register a pharmacy) through the devnet's 2-of-3 council: propose, two votes, "
            "queue into the timelock, execute after its delay; gov.execute includes the directory's register",
            "one emergency decision (suspend): propose, two votes, execute at once (no timelock)",
            "propose stores the proposal's calls on chain (GovernorStorage) so members list proposals without logs",
        ],
    )
