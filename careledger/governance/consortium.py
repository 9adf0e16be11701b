"""Setting up the consortium's governance on a deployed suite, and checking who holds power.

:func:`establish` deploys the membership token, the timelock and the two councils, admits the
members, hands the directory's roles to the councils and renounces every role the deployer held,
idempotently (each step is recorded in the deployments file, so a crash part-way is finished by
the next run). :func:`power_holders` replays the role events of the directory and the timelock and
lists who holds each role now, so a test (and ``careledger gov status``) can prove that no
externally owned account holds any.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak
from web3 import Web3

from careledger.accounts import dev_account
from careledger.artifacts import Artifacts, load_artifacts
from careledger.chain import Chain, checksum
from careledger.deploy import DeployContext, DeployReport
from careledger.deployments import load_deployment
from careledger.devchain import require_devnet
from careledger.directory.client import EMERGENCY_ROLE, REGISTRAR_ROLE
from careledger.errors import InvalidInput, SuiteNotDeployed

__all__ = [
    "COUNCIL",
    "DEVNET_MEMBERS",
    "EMERGENCY",
    "MEMBERSHIP",
    "TIMELOCK",
    "ConsortiumConfig",
    "establish",
    "power_holders",
    "resolve",
]

DIRECTORY = "ParticipantDirectory"
MEMBERSHIP = "ConsortiumMembership"
TIMELOCK = "ConsortiumTimelock"
COUNCIL = "ConsortiumCouncil"
EMERGENCY = "EmergencyCouncil"

ADMIN_ROLE = b"\0" * 32
PROPOSER_ROLE = keccak(text="PROPOSER_ROLE")
CANCELLER_ROLE = keccak(text="CANCELLER_ROLE")
EXECUTOR_ROLE = keccak(text="EXECUTOR_ROLE")

# The devnet's 2-of-3 consortium: a hospital, an insurer and the regulator of the demo cast.
DEVNET_MEMBERS = ("clinic", "insurer", "regulator")
MIN_DELAY_OFF_DEVNET = 3600  # an ordinary decision waits at least an hour where it matters
MAX_SECONDS = 2**32 - 1  # the Governor stores its voting period as uint32


@dataclass(frozen=True)
class ConsortiumConfig:
    """Who the members are and how many must agree.

    ``quorum`` members pass an ordinary decision, which then waits ``delay`` seconds in the
    timelock; ``emergency_quorum`` members (no more than ``quorum``) pass an emergency one at once.
    Both quorums are at least 2: one member's key alone decides nothing."""

    members: tuple[str, ...]
    quorum: int
    emergency_quorum: int
    delay: int
    voting_period: int

    @classmethod
    def devnet(cls) -> ConsortiumConfig:
        members = tuple(dev_account(name).address for name in DEVNET_MEMBERS)
        return cls(members, quorum=2, emergency_quorum=2, delay=60, voting_period=86_400)

    @classmethod
    def from_json(cls, data: Any, source: str = "consortium file") -> ConsortiumConfig:
        if not isinstance(data, dict):
            raise InvalidInput(f"{source}: expected a JSON object")
        unknown = set(data) - {"members", "quorum", "emergencyQuorum", "delaySeconds", "votingPeriodSeconds"}
        if unknown:
            raise InvalidInput(f"{source}: unknown field(s) {', '.join(sorted(unknown))}")
        members = data.get("members")
        if not isinstance(members, list) or not members:
            raise InvalidInput(f"{source}: 'members' must be a non-empty list of addresses")
        config = cls(
            members=tuple(checksum(str(m), f"{source}: member") for m in members),
            quorum=_count(data, "quorum", source),
            emergency_quorum=_count(data, "emergencyQuorum", source),
            delay=_count(data, "delaySeconds", source),
            voting_period=_count(data, "votingPeriodSeconds", source),
        )
        config.check()
        return config

    @classmethod
    def load(cls, path: Path) -> ConsortiumConfig:
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise InvalidInput(f"cannot read consortium file {path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"consortium file {path} is not JSON: {exc.msg} (line {exc.lineno})") from None
        return cls.from_json(data, str(path))

    def check(self, *, devnet: bool = True) -> None:
        n = len(self.members)
        if len(set(self.members)) != n:
            raise InvalidInput("consortium: a member is listed twice")
        if not 2 <= self.quorum <= n:
            raise InvalidInput(f"consortium: quorum must be between 2 and the {n} members (got {self.quorum})")
        if not 2 <= self.emergency_quorum <= self.quorum:
            raise InvalidInput(
                f"consortium: emergencyQuorum must be between 2 and the quorum {self.quorum} "
                f"(got {self.emergency_quorum})"
            )
        if not 1 <= self.voting_period <= MAX_SECONDS:
            raise InvalidInput(f"consortium: votingPeriodSeconds must be 1..{MAX_SECONDS}")
        floor = 1 if devnet else MIN_DELAY_OFF_DEVNET
        if not floor <= self.delay <= MAX_SECONDS:
            raise InvalidInput(
                f"consortium: delaySeconds must be at least {floor} on this chain (got {self.delay}); "
                "members need time to see an ordinary decision coming"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "members": list(self.members),
            "quorum": self.quorum,
            "emergencyQuorum": self.emergency_quorum,
            "delaySeconds": self.delay,
            "votingPeriodSeconds": self.voting_period,
        }


def resolve(chain: Chain, spec: str | None) -> ConsortiumConfig | None:
    """The consortium a deploy hands its powers to: ``spec`` is a file path, ``"devnet"`` (the
    demo's 2-of-3, only on a devnet) or None (the deployer keeps them: only on a devnet). Checked
    before anything is sent (:class:`~careledger.errors.DevnetOnly`, exit 6, otherwise)."""
    if spec == "devnet":
        require_devnet(
            chain.is_devnet(),
            "the devnet consortium (keys from the public test mnemonic)",
            chain.chain_id,
            "write a consortium file naming the members' real addresses",
        )
        return ConsortiumConfig.devnet()
    if spec is not None:
        config = ConsortiumConfig.load(Path(spec))
        config.check(devnet=chain.is_devnet())
        return config
    require_devnet(
        chain.is_devnet(),
        "a suite administered by the deployer's key alone",
        chain.chain_id,
        "pass --consortium FILE so an M-of-N council and a timelock hold the admin powers (docs/governance.md)",
    )
    return None


def _count(data: dict[str, Any], key: str, source: str) -> int:
    value = data.get(key)
    # Small by nature (seconds, member counts): JSON numbers; a decimal string is accepted too.
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"{source}: '{key}' must be a non-negative integer")
    return value


def establish(chain: Chain, config: ConsortiumConfig, *, artifacts: Artifacts | None = None) -> DeployReport:
    """Put the deployed suite under the consortium's governance (idempotent).

    ``chain`` signs as the deployer, which must still hold the directory's roles the first time.
    When it returns, the deployer holds no role anywhere (:func:`power_holders` proves it)."""
    artifacts = artifacts or load_artifacts()
    w3 = chain.w3
    deployment = load_deployment(w3)
    if DIRECTORY not in deployment.contracts:
        raise SuiteNotDeployed("the directory is not deployed: run 'careledger deploy' first")
    config.check(devnet=chain.is_devnet())
    deployer = chain.account.address if chain.account else None
    if deployer is None:
        raise InvalidInput("setting up governance needs the deployer's key (--account)")
    report = DeployReport(chain_id=deployment.chain_id, path=str(deployment.path))
    ctx = DeployContext(chain=chain, artifacts=artifacts, deployment=deployment, report=report)
    recorded = deployment.config.get("consortium")
    if recorded is not None and recorded != config.to_json():
        raise InvalidInput(
            "this suite already has a consortium with other settings; change it through 'careledger gov propose'"
        )
    deployment.config["consortium"] = config.to_json()

    ctx.deploy(MEMBERSHIP, [deployer])
    membership = ctx.contract(MEMBERSHIP)
    ctx.deploy(TIMELOCK, [config.delay, deployer])
    timelock = ctx.contract(TIMELOCK)
    ctx.deploy(COUNCIL, [membership.address, timelock.address, config.quorum, config.voting_period])
    ctx.deploy(EMERGENCY, [membership.address, config.emergency_quorum, config.voting_period])
    council = deployment.address(COUNCIL)
    emergency = deployment.address(EMERGENCY)
    directory = ctx.contract(DIRECTORY)

    def admit(member: str) -> None:
        # A crash between the transaction and the record must not make the rerun fail.
        if not membership.functions.isMember(member).call():
            chain.send(membership.functions.admit(member), f"admit {member} to the consortium")

    for member in config.members:
        ctx.once(f"admit member {member}", partial(admit, member))
    steps: list[tuple[str, Any]] = [
        ("timelock: the council proposes", timelock.functions.grantRole(PROPOSER_ROLE, council)),
        ("timelock: the council cancels", timelock.functions.grantRole(CANCELLER_ROLE, council)),
        (
            "timelock: the emergency council cancels",
            timelock.functions.grantRole(CANCELLER_ROLE, emergency),
        ),
        ("membership: owned by the timelock", membership.functions.transferOwnership(timelock.address)),
        ("directory: admin is the timelock", directory.functions.grantRole(ADMIN_ROLE, timelock.address)),
        (
            "directory: registrar is the timelock",
            directory.functions.grantRole(REGISTRAR_ROLE, timelock.address),
        ),
        (
            "directory: emergency is the emergency council",
            directory.functions.grantRole(EMERGENCY_ROLE, emergency),
        ),
        ("directory: deployer renounces emergency", directory.functions.renounceRole(EMERGENCY_ROLE, deployer)),
        ("directory: deployer renounces registrar", directory.functions.renounceRole(REGISTRAR_ROLE, deployer)),
        ("directory: deployer renounces admin", directory.functions.renounceRole(ADMIN_ROLE, deployer)),
        ("timelock: deployer renounces admin", timelock.functions.renounceRole(ADMIN_ROLE, deployer)),
    ]

    def send(fn: Any, what: str) -> None:
        chain.send(fn, what)

    for marker, fn in steps:
        ctx.once(marker, partial(send, fn, marker))
    deployment.save()
    return report


def power_holders(w3: Web3, artifacts: Artifacts | None = None) -> dict[str, dict[str, list[str]]]:
    """``{contract: {role: [holders]}}`` now, rebuilt from RoleGranted/RoleRevoked events (and
    the membership's owner), for the directory and, when set up, the timelock."""
    artifacts = artifacts or load_artifacts()
    deployment = load_deployment(w3)
    names = {
        ADMIN_ROLE: "admin",
        REGISTRAR_ROLE: "registrar",
        EMERGENCY_ROLE: "emergency",
        PROPOSER_ROLE: "proposer",
        CANCELLER_ROLE: "canceller",
        EXECUTOR_ROLE: "executor",
    }
    result: dict[str, dict[str, list[str]]] = {}
    for name in (DIRECTORY, TIMELOCK):
        if name not in deployment.contracts:
            continue
        record = deployment.contracts[name]
        contract = w3.eth.contract(address=Web3.to_checksum_address(record.address), abi=artifacts[name].abi)
        holders: dict[bytes, set[str]] = {}
        granted = contract.events.RoleGranted().get_logs(from_block=record.block)
        revoked = contract.events.RoleRevoked().get_logs(from_block=record.block)
        for log in sorted([*granted, *revoked], key=lambda e: (e["blockNumber"], e["logIndex"])):
            role, account = bytes(log["args"]["role"]), str(log["args"]["account"])
            members = holders.setdefault(role, set())
            if log["event"] == "RoleGranted":
                members.add(account)
            else:
                members.discard(account)
        result[name] = {names.get(r, "0x" + r.hex()): sorted(a) for r, a in holders.items() if a}
    if MEMBERSHIP in deployment.contracts:
        membership = w3.eth.contract(
            address=Web3.to_checksum_address(deployment.address(MEMBERSHIP)), abi=artifacts[MEMBERSHIP].abi
        )
        result[MEMBERSHIP] = {"owner": [str(membership.functions.owner().call())]}
    return result
