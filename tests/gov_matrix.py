"""The governance part of the access-control matrix (tests/test_access_matrix.py): the consortium
set up in the matrix's world as `careledger deploy --consortium` sets it up (members: the provider,
the insurer and the regulator of the cast, quorum 2, emergency quorum 2), with proposals in every
state a row needs, and the argument table of every governance function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from careledger.accounts import dev_account
from careledger.codes import Role

MEMBERS = ("provider", "insurer", "regulator")
MEMBER_KEYS = {"provider": "clinic", "insurer": "insurer", "regulator": "regulator"}
DELAY = 1  # the matrix needs a ready operation, not a realistic delay
PERIOD = 30 * 24 * 3600
CRED = bytes.fromhex("c3" * 32)
REASON = b"ACCESS-MATRIX".ljust(32, b"\0")
ZERO32 = b"\0" * 32
FOR = 1

# Reverts of the governance contracts that mean "this caller may not do this".
GOV_ACCESS_ERRORS = {
    # Governor.propose: the caller holds no vote (not a consortium member).
    "GovernorInsufficientProposerVotes",
    # Governor onlyGovernance (relay, settings, updateTimelock): only the council's own executor.
    "GovernorOnlyExecutor",
    # Governor.cancel: only the proposer, and only while its proposal is Pending (with a voting
    # delay of 0 that is the second it was made): an Active proposal is withdrawn by nobody.
    "GovernorUnableToCancel",
    # EmergencyCouncil.queue: emergency decisions are never queued (no one may queue them).
    "GovernorQueueNotImplemented",
    # Ownable (ConsortiumMembership admit/expel/ownership): only the owner, the timelock.
    "OwnableUnauthorizedAccount",
    # TimelockController.updateDelay: only the timelock itself (an ordinary decision).
    "TimelockUnauthorizedCaller",
    # ERC-721 approve: only the token's owner (the member itself) or an approved operator.
    "ERC721InvalidApprover",
    # ConsortiumCouncil ERC-721/1155 receivers: it holds no assets (its timelock does): no one
    # may deposit into it.
    "GovernorDisabledDeposit",
    # ConsortiumMembership transfers: a membership never changes hands (no one may move one).
    "MembershipNotTransferable",
}


@dataclass
class Gov:
    contracts: dict[str, Any]
    ordinary: dict[str, tuple[list[str], list[int], list[bytes], bytes, int]]  # state -> proposal
    emergency: dict[str, tuple[list[str], list[int], list[bytes], bytes, int]]
    chain_id: int


def _propose(council: Any, proposer: Any, target: Any, data: bytes, description: str) -> tuple[Any, ...]:
    council.propose([target.address], [0], [data], description, sender=proposer)
    pid = council.hashProposal([target.address], [0], [data], keccak(text=description))
    return ([target.address], [0], [data], keccak(text=description), int(pid))


def build(project: Any, chain: Any, directory: Any, admin: Any, cast: dict[str, Any], fresh: str, lab: str) -> Gov:
    membership = project.ConsortiumMembership.deploy(admin, sender=admin)
    for m in MEMBERS:
        membership.admit(cast[m], sender=admin)
    timelock = project.ConsortiumTimelock.deploy(DELAY, admin, sender=admin)
    council = project.ConsortiumCouncil.deploy(membership, timelock, 2, PERIOD, sender=admin)
    emergency = project.EmergencyCouncil.deploy(membership, 2, PERIOD, sender=admin)
    timelock.grantRole(timelock.PROPOSER_ROLE(), council, sender=admin)
    timelock.grantRole(timelock.CANCELLER_ROLE(), council, sender=admin)
    timelock.grantRole(timelock.CANCELLER_ROLE(), emergency, sender=admin)
    timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), admin, sender=admin)
    membership.transferOwnership(timelock, sender=admin)
    # In the matrix's world the deployer keeps its directory roles (the directory rows show the
    # devnet's single-key set-up); the councils get theirs beside it.
    directory.grantRole(directory.REGISTRAR_ROLE(), timelock, sender=admin)
    directory.grantRole(directory.EMERGENCY_ROLE(), emergency, sender=admin)
    chain.mine(1)

    provider, insurer = cast["provider"], cast["insurer"]
    reg = directory.register.encode_input
    ordinary = {
        "active": _propose(council, provider, directory, reg(fresh, int(Role.PROVIDER), CRED), "active"),
        "succeeded": _propose(council, provider, directory, reg(fresh, int(Role.PROVIDER), CRED), "succeeded"),
        "ready": _propose(council, provider, directory, reg(fresh, int(Role.PROVIDER), CRED), "ready"),
    }
    suspend = directory.suspend.encode_input(lab, REASON)
    urgent = {
        "active": _propose(emergency, provider, directory, suspend, "active"),
        "succeeded": _propose(emergency, provider, directory, suspend, "succeeded"),
    }
    chain.mine(1)
    for voter in (provider, insurer):
        council.castVote(ordinary["succeeded"][4], FOR, sender=voter)
        council.castVote(ordinary["ready"][4], FOR, sender=voter)
        emergency.castVote(urgent["succeeded"][4], FOR, sender=voter)
    council.queue(ordinary["ready"][4], sender=provider)
    chain.mine(1, deltatime=DELAY + 1)
    contracts = {
        "ConsortiumMembership": membership,
        "ConsortiumTimelock": timelock,
        "ConsortiumCouncil": council,
        "EmergencyCouncil": emergency,
    }
    return Gov(contracts, ordinary, urgent, chain.chain_id)


def _ballot(g: Gov, council: str, pid: int, extended: bool) -> bytes:
    """A member's (the provider's) vote signed for anyone to submit."""
    contract = g.contracts[council]
    voter = dev_account(MEMBER_KEYS["provider"]).account
    name = "CareLedger consortium council" if council == "ConsortiumCouncil" else "CareLedger emergency council"
    fields = [
        {"name": "proposalId", "type": "uint256"},
        {"name": "support", "type": "uint8"},
        {"name": "voter", "type": "address"},
        {"name": "nonce", "type": "uint256"},
    ]
    message: dict[str, Any] = {
        "proposalId": pid,
        "support": FOR,
        "voter": voter.address,
        "nonce": int(contract.nonces(voter.address)),
    }
    if extended:
        fields += [{"name": "reason", "type": "string"}, {"name": "params", "type": "bytes"}]
        message |= {"reason": "", "params": b""}
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "ExtendedBallot" if extended else "Ballot": fields,
        },
        "primaryType": "ExtendedBallot" if extended else "Ballot",
        "domain": {"name": name, "version": "1", "chainId": g.chain_id, "verifyingContract": contract.address},
        "message": message,
    }
    return bytes(Account.sign_message(encode_typed_data(full_message=typed), voter.key).signature)


Args = Callable[[Any, str], tuple[Any, ...]]


def _council_args(name: str, proposals: Callable[[Any], dict[str, tuple[Any, ...]]]) -> dict[str, Args]:
    def p(w: Any, state: str) -> tuple[Any, ...]:
        return proposals(w)[state]

    runnable = "ready" if name == "ConsortiumCouncil" else "succeeded"
    provider = dev_account(MEMBER_KEYS["provider"]).address
    return {
        f"{name}.propose(address[],uint256[],bytes[],string)": lambda w, c: (
            [w.addr["lab"]],
            [0],
            [b""],
            f"matrix proposal by {c}",
        ),
        f"{name}.castVote(uint256,uint8)": lambda w, c: (p(w, "active")[4], FOR),
        f"{name}.castVoteWithReason(uint256,uint8,string)": lambda w, c: (p(w, "active")[4], FOR, "matrix"),
        f"{name}.castVoteWithReasonAndParams(uint256,uint8,string,bytes)": lambda w, c: (
            p(w, "active")[4],
            FOR,
            "",
            b"",
        ),
        f"{name}.castVoteBySig(uint256,uint8,address,bytes)": lambda w, c: (
            p(w, "active")[4],
            FOR,
            provider,
            _ballot(w.gov, name, p(w, "active")[4], extended=False),
        ),
        f"{name}.castVoteWithReasonAndParamsBySig(uint256,uint8,address,string,bytes,bytes)": lambda w, c: (
            p(w, "active")[4],
            FOR,
            provider,
            "",
            b"",
            _ballot(w.gov, name, p(w, "active")[4], extended=True),
        ),
        f"{name}.queue(uint256)": lambda w, c: (p(w, "succeeded")[4],),
        f"{name}.queue(address[],uint256[],bytes[],bytes32)": lambda w, c: p(w, "succeeded")[:4],
        f"{name}.execute(uint256)": lambda w, c: (p(w, runnable)[4],),
        f"{name}.execute(address[],uint256[],bytes[],bytes32)": lambda w, c: p(w, runnable)[:4],
        f"{name}.cancel(uint256)": lambda w, c: (p(w, "active")[4],),
        f"{name}.cancel(address[],uint256[],bytes[],bytes32)": lambda w, c: p(w, "active")[:4],
        f"{name}.relay(address,uint256,bytes)": lambda w, c: (w.addr["lab"], 0, b""),
        f"{name}.setProposalThreshold(uint256)": lambda w, c: (2,),
        f"{name}.setVotingDelay(uint48)": lambda w, c: (60,),
        f"{name}.setVotingPeriod(uint32)": lambda w, c: (3600,),
        f"{name}.onERC721Received(address,address,uint256,bytes)": lambda w, c: (w.addr[c], w.addr[c], 1, b""),
        f"{name}.onERC1155Received(address,address,uint256,uint256,bytes)": lambda w, c: (
            w.addr[c],
            w.addr[c],
            1,
            1,
            b"",
        ),
        f"{name}.onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)": lambda w, c: (
            w.addr[c],
            w.addr[c],
            [1],
            [1],
            b"",
        ),
    }


def _timelock_op(w: Any) -> tuple[Any, ...]:
    targets, values, datas, description_hash, _ = w.gov.ordinary["ready"]
    council = w.gov.contracts["ConsortiumCouncil"].address
    salt = bytes(a ^ b for a, b in zip(bytes.fromhex(council[2:]).ljust(32, b"\0"), description_hash, strict=True))
    return targets, values, datas, ZERO32, salt


def _token(w: Any) -> int:
    """The provider's membership (token id = the member's address)."""
    return int(w.addr["provider"], 16)


# Cells that are `allow` through a domain error, with the reason (see DOMAIN_ERROR_CELLS).
_NO_SINGLE_OPERATION = (
    "the council always schedules batches (GovernorTimelockControl), so no single operation is ever "
    "ready; the executor role is open to anyone"
)


def no_single_operation(roles: tuple[str, ...]) -> dict[tuple[str, str], str]:
    return {
        ("ConsortiumTimelock.execute(address,uint256,bytes,bytes32,bytes32)", r): _NO_SINGLE_OPERATION for r in roles
    }


GOV_ARGS: dict[str, Args] = {
    **_council_args("ConsortiumCouncil", lambda w: w.gov.ordinary),
    **_council_args("EmergencyCouncil", lambda w: w.gov.emergency),
    "ConsortiumCouncil.updateTimelock(address)": lambda w, c: (w.addr["lab"],),
    # -- ConsortiumMembership
    "ConsortiumMembership.admit(address)": lambda w, c: (w.fresh,),
    "ConsortiumMembership.expel(address)": lambda w, c: (w.addr["insurer"],),
    "ConsortiumMembership.approve(address,uint256)": lambda w, c: (w.addr["lab"], _token(w)),
    "ConsortiumMembership.setApprovalForAll(address,bool)": lambda w, c: (w.addr["lab"], True),
    "ConsortiumMembership.transferFrom(address,address,uint256)": lambda w, c: (w.addr["provider"], w.fresh, _token(w)),
    "ConsortiumMembership.safeTransferFrom(address,address,uint256)": lambda w, c: (
        w.addr["provider"],
        w.fresh,
        _token(w),
    ),
    "ConsortiumMembership.safeTransferFrom(address,address,uint256,bytes)": lambda w, c: (
        w.addr["provider"],
        w.fresh,
        _token(w),
        b"",
    ),
    "ConsortiumMembership.renounceOwnership()": lambda w, c: (),
    "ConsortiumMembership.transferOwnership(address)": lambda w, c: (w.addr[c],),
    # -- ConsortiumTimelock (OpenZeppelin TimelockController)
    "ConsortiumTimelock.schedule(address,uint256,bytes,bytes32,bytes32,uint256)": lambda w, c: (
        w.addr["lab"],
        0,
        b"",
        ZERO32,
        ZERO32,
        DELAY,
    ),
    "ConsortiumTimelock.scheduleBatch(address[],uint256[],bytes[],bytes32,bytes32,uint256)": lambda w, c: (
        [w.addr["lab"]],
        [0],
        [b""],
        ZERO32,
        ZERO32,
        DELAY,
    ),
    "ConsortiumTimelock.cancel(bytes32)": lambda w, c: (
        w.gov.contracts["ConsortiumTimelock"].hashOperationBatch(*_timelock_op(w)),
    ),
    "ConsortiumTimelock.execute(address,uint256,bytes,bytes32,bytes32)": lambda w, c: tuple(
        x[0] if isinstance(x, list) else x for x in _timelock_op(w)
    ),
    "ConsortiumTimelock.executeBatch(address[],uint256[],bytes[],bytes32,bytes32)": lambda w, c: _timelock_op(w),
    "ConsortiumTimelock.updateDelay(uint256)": lambda w, c: (3600,),
    "ConsortiumTimelock.grantRole(bytes32,address)": lambda w, c: (keccak(text="PROPOSER_ROLE"), w.addr[c]),
    "ConsortiumTimelock.revokeRole(bytes32,address)": lambda w, c: (
        keccak(text="PROPOSER_ROLE"),
        w.gov.contracts["ConsortiumCouncil"].address,
    ),
    "ConsortiumTimelock.renounceRole(bytes32,address)": lambda w, c: (keccak(text="PROPOSER_ROLE"), w.addr[c]),
    "ConsortiumTimelock.onERC721Received(address,address,uint256,bytes)": lambda w, c: (w.addr[c], w.addr[c], 1, b""),
    "ConsortiumTimelock.onERC1155Received(address,address,uint256,uint256,bytes)": lambda w, c: (
        w.addr[c],
        w.addr[c],
        1,
        1,
        b"",
    ),
    "ConsortiumTimelock.onERC1155BatchReceived(address,address,uint256[],uint256[],bytes)": lambda w, c: (
        w.addr[c],
        w.addr[c],
        [1],
        [1],
        b"",
    ),
}
