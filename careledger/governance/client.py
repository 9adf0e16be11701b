"""Proposing, voting on, queueing, executing and listing consortium decisions.

Every decision is a Governor proposal on chain: its calls, its description and every vote are
public to all members, so nothing has to be passed around off chain. Ordinary decisions go to the
:data:`~careledger.governance.consortium.COUNCIL` and, once passed, wait in the timelock; emergency
ones (suspend a participant, pause a contract, cancel an ordinary decision during its delay) go
to the :data:`~careledger.governance.consortium.EMERGENCY` council and run at once. Resuming a
paused contract is an ordinary decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.types import TxReceipt

from careledger.artifacts import load_artifacts
from careledger.chain import Chain, checksum
from careledger.codes import Role
from careledger.deployments import Deployment
from careledger.directory.client import parse_prefix
from careledger.errors import InvalidInput, SuiteNotDeployed
from careledger.exactjson import uint_id
from careledger.governance import PAUSABLE
from careledger.governance.consortium import COUNCIL, DIRECTORY, EMERGENCY, MEMBERSHIP, TIMELOCK

__all__ = ["Call", "Council", "GovernanceClient", "ProposalInfo", "ProposalState", "paused_contracts"]


class ProposalState(IntEnum):
    """OpenZeppelin's IGovernor.ProposalState."""

    PENDING = 0
    ACTIVE = 1
    CANCELED = 2
    DEFEATED = 3
    SUCCEEDED = 4
    QUEUED = 5
    EXPIRED = 6
    EXECUTED = 7


class Council(IntEnum):
    ORDINARY = 0
    EMERGENCY = 1

    @property
    def contract_name(self) -> str:
        return COUNCIL if self is Council.ORDINARY else EMERGENCY


@dataclass(frozen=True)
class Call:
    """One call a proposal makes, with a one-line description of what it does."""

    target: str
    data: bytes
    summary: str


@dataclass(frozen=True)
class ProposalInfo:
    council: Council
    proposal_id: int
    state: ProposalState
    proposer: str
    calls: tuple[tuple[str, str], ...]  # (target, calldata hex)
    description: str
    votes_for: int
    votes_against: int
    quorum: int
    eta: int  # when a queued ordinary decision may run (0: not queued)

    def to_json(self) -> dict[str, Any]:
        return {
            "council": self.council.name.lower(),
            "proposalId": uint_id(self.proposal_id),
            "state": self.state.name.lower(),
            "proposer": self.proposer,
            "calls": [{"target": t, "data": d} for t, d in self.calls],
            "description": self.description,
            "for": self.votes_for,
            "against": self.votes_against,
            "quorum": self.quorum,
            "eta": self.eta,
        }


class GovernanceClient:
    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        missing = [n for n in (MEMBERSHIP, TIMELOCK, COUNCIL, EMERGENCY) if n not in deployment.contracts]
        if missing:
            raise SuiteNotDeployed(
                "this suite has no consortium governance (missing "
                + ", ".join(missing)
                + "): deploy with 'careledger deploy --consortium FILE'"
            )
        artifacts = load_artifacts()
        self.chain = chain

        def contract(name: str) -> Contract:
            return chain.contract(deployment.address(name), artifacts[name].abi)

        self.directory = contract(DIRECTORY)
        self.membership = contract(MEMBERSHIP)
        self.timelock = contract(TIMELOCK)
        self.councils = {Council.ORDINARY: contract(COUNCIL), Council.EMERGENCY: contract(EMERGENCY)}
        self.pausable = {k: contract(n) for k, n in PAUSABLE.items() if n in deployment.contracts}
        self._since = {c: deployment.contracts[c.contract_name].block for c in Council}
        # Calls of an upgrade (careledger.upgrade) that a proposal may make besides the above:
        # target address -> function name, registered by the upgrade SDK, never from input.
        self.upgrade_targets: dict[str, str] = {}

    # ------------------------------------------------------------------ what a proposal can do

    def register(self, account: str, roles: Role, credential_commitment: bytes) -> Call:
        addr = checksum(account)
        fn = self.directory.functions.register(addr, int(roles), credential_commitment)
        return Call(self.directory.address, _data(fn), f"register {addr} as {_roles(roles)}")

    def set_roles(self, account: str, roles: Role) -> Call:
        addr = checksum(account)
        return Call(
            self.directory.address,
            _data(self.directory.functions.setRoles(addr, int(roles))),
            f"set the roles of {addr} to {_roles(roles)}",
        )

    def reinstate(self, account: str) -> Call:
        addr = checksum(account)
        return Call(self.directory.address, _data(self.directory.functions.reinstate(addr)), f"reinstate {addr}")

    def suspend(self, account: str, reason: str) -> Call:
        addr = checksum(account)
        code = reason.encode()
        if not code or len(code) > 32:
            raise InvalidInput(f"reason code {reason!r} must be 1-32 bytes (a short code, never free text)")
        fn = self.directory.functions.suspend(addr, code.ljust(32, b"\0"))
        return Call(self.directory.address, _data(fn), f"suspend {addr} ({reason})")

    def rotate_key(self, old_key: str, new_key: str) -> Call:
        """Propose moving an organisation to a new key (the new key then accepts it)."""
        old, new = checksum(old_key), checksum(new_key)
        fn = self.directory.functions.proposeRotation(old, new)
        return Call(self.directory.address, _data(fn), f"rotate the key of {old} to {new} (once {new} accepts)")

    def attest_prefix(self, owner: str, prefix: str, evidence: bytes) -> Call:
        addr = checksum(owner)
        number, length = parse_prefix(prefix)
        fn = self.directory.functions.attestPrefix(addr, number, length, evidence)
        return Call(self.directory.address, _data(fn), f"attest GS1 company prefix {prefix} to {addr}")

    def revoke_prefix(self, prefix: str, reason: bytes) -> Call:
        number, length = parse_prefix(prefix)
        fn = self.directory.functions.revokePrefix(number, length, reason)
        return Call(self.directory.address, _data(fn), f"revoke GS1 company prefix {prefix}")

    def admit(self, member: str) -> Call:
        addr = checksum(member)
        fn = self.membership.functions.admit(addr)
        return Call(self.membership.address, _data(fn), f"admit {addr} to the consortium")

    def expel(self, member: str) -> Call:
        addr = checksum(member)
        fn = self.membership.functions.expel(addr)
        return Call(self.membership.address, _data(fn), f"expel {addr} from the consortium")

    def _pausable(self, name: str) -> Contract:
        if name not in self.pausable:
            known = ", ".join(sorted(self.pausable)) or "none deployed"
            raise InvalidInput(f"no pausable contract {name!r} in this suite (one of: {known})")
        return self.pausable[name]

    def pause(self, name: str) -> Call:
        """Stop the pausable functions of one domain contract (emergency council)."""
        contract = self._pausable(name)
        return Call(contract.address, _data(contract.functions.pause()), f"pause {PAUSABLE[name]}")

    def unpause(self, name: str) -> Call:
        """Resume a paused domain contract (ordinary council, after the timelock's delay)."""
        contract = self._pausable(name)
        return Call(contract.address, _data(contract.functions.unpause()), f"resume {PAUSABLE[name]}")

    def paused(self) -> dict[str, bool]:
        """Whether each deployed domain contract is paused now."""
        return {k: bool(self._read(c.functions.paused())) for k, c in self.pausable.items()}

    def cancel_queued(self, proposal_id: int) -> Call:
        """The emergency council's call that cancels a queued ordinary decision in its delay."""
        if self.find(proposal_id) is not Council.ORDINARY:
            raise InvalidInput(f"proposal {uint_id(proposal_id)} is an emergency decision: it is never queued")
        info = self.proposal(proposal_id, Council.ORDINARY)
        if info.state is not ProposalState.QUEUED:
            raise InvalidInput(f"ordinary proposal {uint_id(proposal_id)} is {info.state.name.lower()}, not queued")
        targets, values, calldatas, description_hash = self._read(
            self.councils[Council.ORDINARY].functions.proposalDetails(proposal_id)
        )
        council_address = bytes.fromhex(self.councils[Council.ORDINARY].address[2:])
        salt = bytes(a ^ b for a, b in zip(council_address.ljust(32, b"\0"), bytes(description_hash), strict=True))
        operation = self._read(self.timelock.functions.hashOperationBatch(targets, values, calldatas, b"\0" * 32, salt))
        fn = self.timelock.functions.cancel(operation)
        return Call(self.timelock.address, _data(fn), f"cancel ordinary proposal {uint_id(proposal_id)}")

    # ------------------------------------------------------------------ the life of a proposal

    def council_for(self, calls: list[Call]) -> Council:
        """Suspensions, pauses and cancellations are emergencies; everything else (resuming a
        paused contract included) is ordinary."""
        emergency = {"suspend", "pause", "cancel"}
        kinds = {_function_name(c, self) in emergency for c in calls}
        if len(kinds) != 1:
            raise InvalidInput("one proposal cannot mix emergency actions (suspend, pause, cancel) with ordinary ones")
        return Council.EMERGENCY if kinds.pop() else Council.ORDINARY

    def propose(self, calls: list[Call], *, note: str = "") -> tuple[Council, int, TxReceipt]:
        """Put ``calls`` to the right council. The description lists what each call does, plus a
        note and the proposing block's number (so the same decision can be taken again later)."""
        if not calls:
            raise InvalidInput("a proposal needs at least one action")
        council = self.council_for(calls)
        contract = self.councils[council]
        block = self.chain.w3.eth.block_number
        lines = [c.summary for c in calls] + ([note] if note else []) + [f"(proposed after block {block})"]
        description = "\n".join(lines)
        targets = [c.target for c in calls]
        datas = [c.data for c in calls]
        values = [0] * len(calls)
        proposal_id = int(self._read(contract.functions.hashProposal(targets, values, datas, keccak(text=description))))
        receipt = self.chain.send(
            contract.functions.propose(targets, values, datas, description), f"propose: {calls[0].summary}"
        )
        return council, proposal_id, receipt

    def _read(self, fn: Any) -> Any:
        """A view call; a revert becomes ChainRefused and a node failure its own error."""
        return self.chain.call(fn, f"read {fn.fn_name}")

    def find(self, proposal_id: int) -> Council:
        for council, contract in self.councils.items():
            if int(self._read(contract.functions.proposalSnapshot(proposal_id))) != 0:
                return council
        raise InvalidInput(f"no proposal {uint_id(proposal_id)} in either council")

    def vote(self, proposal_id: int, *, support: bool = True, reason: str = "") -> TxReceipt:
        council = self.find(proposal_id)
        fn = self.councils[council].functions.castVoteWithReason(proposal_id, 1 if support else 0, reason)
        return self.chain.send(fn, f"vote {'for' if support else 'against'} proposal {uint_id(proposal_id)}")

    def execute(self, proposal_id: int) -> tuple[str, TxReceipt]:
        """Queue a passed ordinary decision, or run a passed emergency one or a queued ordinary one
        whose delay is over. Returns what was done ("queued" or "executed")."""
        council = self.find(proposal_id)
        contract = self.councils[council]
        info = self.proposal(proposal_id, council)
        if info.state is ProposalState.SUCCEEDED and council is Council.ORDINARY:
            return "queued", self.chain.send(contract.functions.queue(proposal_id), "queue the decision")
        if info.state is ProposalState.QUEUED:
            now = int(self.chain.w3.eth.get_block("latest")["timestamp"])
            if now < info.eta:
                raise InvalidInput(
                    f"proposal {uint_id(proposal_id)} is in its delay until {info.eta} ({info.eta - now} s from now)"
                )
        elif info.state is not ProposalState.SUCCEEDED:
            raise InvalidInput(
                f"proposal {uint_id(proposal_id)} is {info.state.name.lower()}: "
                f"{info.votes_for} of {info.quorum} votes for"
            )
        return "executed", self.chain.send(contract.functions.execute(proposal_id), "execute the decision")

    # ------------------------------------------------------------------ reads

    def proposal(
        self, proposal_id: int, council: Council | None = None, descriptions: dict[int, str] | None = None
    ) -> ProposalInfo:
        """One proposal. ``descriptions`` (from :meth:`_descriptions`) saves a log scan when
        several proposals of the same council are read."""
        council = self.find(proposal_id) if council is None else council
        contract = self.councils[council]
        targets, _values, calldatas, _ = self._read(contract.functions.proposalDetails(proposal_id))
        against, votes_for, _abstain = self._read(contract.functions.proposalVotes(proposal_id))
        snapshot = int(self._read(contract.functions.proposalSnapshot(proposal_id)))
        description = (descriptions if descriptions is not None else self._descriptions(council)).get(proposal_id, "")
        return ProposalInfo(
            council=council,
            proposal_id=proposal_id,
            state=ProposalState(int(self._read(contract.functions.state(proposal_id)))),
            proposer=str(self._read(contract.functions.proposalProposer(proposal_id))),
            calls=tuple((str(t), "0x" + bytes(d).hex()) for t, d in zip(targets, calldatas, strict=True)),
            description=description,
            votes_for=int(votes_for),
            votes_against=int(against),
            quorum=int(self._read(contract.functions.quorum(snapshot))),
            eta=int(self._read(contract.functions.proposalEta(proposal_id))),
        )

    def proposals(self, council: Council | None = None) -> list[ProposalInfo]:
        found: list[ProposalInfo] = []
        for which in [council] if council is not None else list(Council):
            contract = self.councils[which]
            descriptions = self._descriptions(which)  # one log scan per council, not per proposal
            for index in range(int(self._read(contract.functions.proposalCount()))):
                proposal_id = int(self._read(contract.functions.proposalDetailsAt(index))[0])
                found.append(self.proposal(proposal_id, which, descriptions))
        return found

    def _descriptions(self, council: Council) -> dict[int, str]:
        """Every proposal's description: it is only in the ProposalCreated event (the contract
        keeps its hash)."""
        event = self.councils[council].events.ProposalCreated()
        return {
            int(log["args"]["proposalId"]): str(log["args"]["description"])
            for log in event.get_logs(from_block=self._since[council])
        }


def paused_contracts(chain: Chain, deployment: Deployment) -> dict[str, bool]:
    """Whether each deployed domain contract is paused now (with or without a consortium)."""
    artifacts = load_artifacts()
    return {
        key: bool(
            chain.call(chain.contract(deployment.address(name), artifacts[name].abi).functions.paused(), "read paused")
        )
        for key, name in PAUSABLE.items()
        if name in deployment.contracts
    }


def _data(fn: Any) -> bytes:
    return bytes.fromhex(fn._encode_transaction_data()[2:])


def _roles(roles: Role) -> str:
    return ",".join(r.name.lower() for r in Role if r in roles and r.name)


def _function_name(call: Call, client: GovernanceClient) -> str:
    if call.target in client.upgrade_targets:
        return client.upgrade_targets[call.target]
    for contract in (client.directory, client.membership, client.timelock, *client.pausable.values()):
        if call.target == contract.address:
            decoded, _ = contract.decode_function_input(call.data)
            return str(decoded.fn_name)
    raise InvalidInput(
        "a proposal may only call the directory, the membership, the timelock or pause/resume a domain "
        f"contract (not {call.target})"
    )
