"""Demo story: the devnet put under its 2-of-3 consortium (clinic, insurer, regulator), then one
ordinary decision through the council and the timelock, one emergency decision, an emergency pause
resumed by an ordinary decision, and the old deployer key refused. Plays last: from here on no
single key holds a power on this chain."""

from __future__ import annotations

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from careledger.codes import Role
from careledger.demo.framework import DemoEnv, Story
from careledger.deployments import load_deployment
from careledger.directory.client import DirectoryClient, credential_commitment
from careledger.errors import InvalidInput
from careledger.exactjson import uint_id
from careledger.governance.client import GovernanceClient
from careledger.governance.consortium import COUNCIL, ConsortiumConfig, establish


def _travel(env: DemoEnv, seconds: int) -> None:
    """Devnet only: let the chain's clock move on (a real chain's does by itself)."""
    env.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    env.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def story(env: DemoEnv) -> Story:
    st = Story("Consortium governance: no single key rules the directory")
    config = ConsortiumConfig.devnet()
    if COUNCIL not in env.deployment.contracts:
        report = establish(env.signer("admin"), config, artifacts=env.artifacts)
        st.check(
            "deployer",
            "hand the directory to a 2-of-3 council + 60 s timelock, and an emergency council",
            f"deployed {', '.join(report.deployed)}; every role of the deployer renounced",
            bool(report.deployed),
        )
    deployment = load_deployment(env.w3)
    _travel(env, 1)  # votes count from the second after admission
    clinic, insurer, regulator = (
        GovernanceClient(env.signer(n), deployment) for n in ("clinic", "insurer", "regulator")
    )
    # A new pharmacy's key: derived from the chain's height, so a second demo on the same devnet
    # registers another one (never a cast member, and never a patient's address).
    height = env.w3.eth.block_number
    newcomer = to_checksum_address(keccak(text=f"careledger demo pharmacy at block {height}")[-20:])
    directory = DirectoryClient(env.signer("admin"), deployment)
    st.refused(
        "deployer",
        "register a pharmacy with the old admin key",
        "AccessControlUnauthorizedAccount",
        lambda: directory.register(newcomer, Role.PHARMACY, credential_commitment("GLN-DEMO", b"salt")),
    )

    call = clinic.register(newcomer, Role.PHARMACY, credential_commitment("GLN-0614141000005", b"demo-salt"))
    _, pid, receipt = clinic.propose([call], note="new pharmacy, licence checked by the clinic's compliance office")
    st.done("clinic", f"propose: {call.summary} ({uint_id(pid)[:12]}…)", receipt)
    _travel(env, 1)
    st.done("clinic", "approve", clinic.vote(pid))
    try:
        clinic.execute(pid)
        st.check("clinic", "execute with 1 of 2 votes", "NOT refused", False)
    except InvalidInput as exc:
        reason = exc.message.rsplit(": ", 1)[-1]  # "1 of 2 votes for"
        st.check("clinic", "execute with 1 of 2 votes", f"refused: {reason}", "1 of 2 votes" in exc.message)
    st.done("insurer", "approve (quorum reached)", insurer.vote(pid))
    done, receipt = insurer.execute(pid)
    st.done("insurer", "queue in the timelock", receipt, outcome=done)
    try:
        insurer.execute(pid)
        st.check("insurer", "execute during the delay", "NOT refused", False)
    except InvalidInput as exc:
        st.check("insurer", "execute during the delay", "refused: in its delay", "in its delay" in exc.message)
    _travel(env, config.delay)
    done, receipt = regulator.execute(pid)
    st.done("regulator", "execute after 60 s (anyone may)", receipt, outcome=done)
    info = directory.get(newcomer)
    st.check(
        "consortium", "the new pharmacy is registered", "pharmacy", info.registered and Role.PHARMACY in info.roles
    )

    _, eid, receipt = regulator.propose([regulator.suspend(newcomer, "LICENCE-LAPSED")])
    st.done("regulator", "propose (emergency): suspend the new pharmacy", receipt)
    _travel(env, 1)
    st.done("regulator", "approve", regulator.vote(eid))
    st.done("clinic", "approve (emergency quorum)", clinic.vote(eid))
    done, receipt = regulator.execute(eid)
    st.done("regulator", "execute at once (no delay)", receipt, outcome=done)
    st.check("consortium", "the pharmacy is suspended", "suspended", directory.get(newcomer).suspended)

    # The emergency pause: stopped at once by the emergency quorum, resumed only by the ordinary
    # path after its delay (docs/governance.md lists what stops and what keeps working).
    _, xid, receipt = regulator.propose([regulator.pause("provenance")], note="suspected forged batches")
    st.done("regulator", "propose (emergency): pause the provenance registry", receipt)
    _travel(env, 1)
    st.done("regulator", "approve", regulator.vote(xid))
    st.done("insurer", "approve (emergency quorum)", insurer.vote(xid))
    done, receipt = regulator.execute(xid)
    st.done("regulator", "execute at once", receipt, outcome=done)
    st.check(
        "consortium",
        "custody moves stop; verify, recall and quarantine still work",
        "paused",
        regulator.paused()["provenance"],
    )
    _, rid, receipt = clinic.propose([clinic.unpause("provenance")], note="investigation closed")
    st.done("clinic", "propose (ordinary): resume the provenance registry", receipt)
    _travel(env, 1)
    st.done("clinic", "approve", clinic.vote(rid))
    st.done("insurer", "approve (quorum reached)", insurer.vote(rid))
    done, receipt = clinic.execute(rid)
    st.done("clinic", "queue in the timelock", receipt, outcome=done)
    _travel(env, config.delay)
    done, receipt = clinic.execute(rid)
    st.done("clinic", "execute after 60 s", receipt, outcome=done)
    st.check("consortium", "the provenance registry runs again", "running", not regulator.paused()["provenance"])
    st.notes.append(
        "`careledger gov status` lists every role holder: the timelock and the two councils, no externally owned key"
    )
    return st
