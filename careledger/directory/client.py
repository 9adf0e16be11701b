"""Typed client of the ParticipantDirectory contract."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.crypto import keccak
from web3.types import TxReceipt

from careledger.artifacts import load_artifacts
from careledger.chain import Chain, checksum
from careledger.codes import Role
from careledger.deployments import Deployment

__all__ = [
    "EMERGENCY_ROLE",
    "REGISTRAR_ROLE",
    "DirectoryClient",
    "GtinOwner",
    "ParticipantInfo",
    "credential_commitment",
    "parse_prefix",
]

# The directory's AccessControl roles (``ParticipantDirectory.REGISTRAR_ROLE`` / ``EMERGENCY_ROLE``),
# the one Python copy: module constants, so importing them needs no build output;
# tests/test_abi.py holds them to the constants of the build (careledger.abi.constants).
REGISTRAR_ROLE = keccak(text="careledger.directory.REGISTRAR")
EMERGENCY_ROLE = keccak(text="careledger.directory.EMERGENCY")


def credential_commitment(credential: str, salt: bytes) -> bytes:
    """Salted commitment to a licence / NPI / GLN: keccak256(salt || utf8(credential)).

    The credential itself stays off chain with the registrar; the salt stops a dictionary
    attack on the (small) space of NPIs."""
    return keccak(salt + credential.encode())


def parse_prefix(text: str) -> tuple[int, int]:
    """A GS1 company prefix as printed (6-12 digits, leading zeros count) -> (number, length)."""
    from careledger.errors import InvalidInput

    digits = text.strip()
    if not digits.isdigit() or not 6 <= len(digits) <= 12:
        raise InvalidInput(f"GS1 company prefix {text!r} must be 6 to 12 digits")
    return int(digits), len(digits)


@dataclass(frozen=True)
class GtinOwner:
    """Who owns a GTIN: the manufacturer its GS1 company prefix is attested to (None: nobody)."""

    owner: str | None
    prefix: str | None  # as printed, with its leading zeros

    def to_json(self) -> dict[str, object]:
        return {"owner": self.owner, "companyPrefix": self.prefix}


@dataclass(frozen=True)
class ParticipantInfo:
    address: str
    roles: Role
    suspended: bool
    registered_at: int
    credential_commitment: str

    @property
    def registered(self) -> bool:
        return bool(self.roles)

    def to_json(self) -> dict[str, object]:
        return {
            "address": self.address,
            "roles": [r.name.lower() for r in Role if r in self.roles and r.name],
            "suspended": self.suspended,
            "registeredAt": self.registered_at,
            "credentialCommitment": self.credential_commitment,
        }


class DirectoryClient:
    NAME = "ParticipantDirectory"

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.contract = chain.contract(deployment.address(self.NAME), load_artifacts()[self.NAME].abi)

    def register(self, account: str, roles: Role, credential_commitment: bytes) -> TxReceipt:
        addr = checksum(account)
        return self.chain.send(
            self.contract.functions.register(addr, int(roles), credential_commitment), f"register {addr}"
        )

    def set_roles(self, account: str, roles: Role) -> TxReceipt:
        addr = checksum(account)
        return self.chain.send(self.contract.functions.setRoles(addr, int(roles)), f"set roles of {addr}")

    def update_credential(self, account: str, credential_commitment: bytes) -> TxReceipt:
        addr = checksum(account)
        return self.chain.send(
            self.contract.functions.updateCredential(addr, credential_commitment), f"update credential of {addr}"
        )

    def grant_registrar(self, account: str) -> TxReceipt:
        """Let ``account`` register, suspend and reinstate participants (caller: the admin)."""
        addr = checksum(account)
        return self.chain.send(self.contract.functions.grantRole(REGISTRAR_ROLE, addr), f"make {addr} a registrar")

    def revoke_registrar(self, account: str) -> TxReceipt:
        addr = checksum(account)
        return self.chain.send(self.contract.functions.revokeRole(REGISTRAR_ROLE, addr), f"revoke registrar {addr}")

    def is_registrar(self, account: str) -> bool:
        addr = checksum(account)
        return bool(self.chain.call(self.contract.functions.hasRole(REGISTRAR_ROLE, addr), f"check registrar {addr}"))

    def suspend(self, account: str, reason: str) -> TxReceipt:
        addr = checksum(account)
        code = reason.encode().ljust(32, b"\0")[:32]
        return self.chain.send(self.contract.functions.suspend(addr, code), f"suspend {addr}")

    def reinstate(self, account: str) -> TxReceipt:
        addr = checksum(account)
        return self.chain.send(self.contract.functions.reinstate(addr), f"reinstate {addr}")

    def attest_prefix(self, owner: str, prefix: str, evidence: bytes) -> TxReceipt:
        """Attest the GS1 company prefix ``prefix`` (digits as printed) to the manufacturer ``owner``."""
        addr = checksum(owner)
        number, length = parse_prefix(prefix)
        return self.chain.send(
            self.contract.functions.attestPrefix(addr, number, length, evidence),
            f"attest company prefix {prefix} to {addr}",
        )

    def revoke_prefix(self, prefix: str, reason: bytes) -> TxReceipt:
        number, length = parse_prefix(prefix)
        return self.chain.send(
            self.contract.functions.revokePrefix(number, length, reason), f"revoke company prefix {prefix}"
        )

    def propose_rotation(self, old_key: str, new_key: str) -> TxReceipt:
        """Propose moving the organisation acting as ``old_key`` to ``new_key`` (caller: a
        registrar; after ``deploy --consortium``, the timelock through ``gov propose rotate-key``)."""
        old, new = checksum(old_key), checksum(new_key)
        return self.chain.send(self.contract.functions.proposeRotation(old, new), f"propose rotating {old} to {new}")

    def accept_rotation(self, old_key: str) -> TxReceipt:
        """Take the organisation over from ``old_key`` (caller: the proposed new key)."""
        old = checksum(old_key)
        return self.chain.send(self.contract.functions.acceptRotation(old), f"accept the key of {old}")

    def current_key(self, key: str) -> str:
        """The key ``key``'s organisation acts with now (``key`` itself unless it was retired)."""
        addr = checksum(key)
        return str(self.chain.call(self.contract.functions.currentKey(addr), f"read current key of {addr}"))

    def organisation_of(self, key: str) -> str:
        """The organisation ``key`` belongs to, named by its first key (which never changes)."""
        addr = checksum(key)
        return str(self.chain.call(self.contract.functions.organisationOf(addr), f"read organisation of {addr}"))

    def pending_rotation(self, old_key: str) -> str | None:
        addr = checksum(old_key)
        new = str(self.chain.call(self.contract.functions.pendingRotation(addr), f"read rotation of {addr}"))
        return None if int(new, 16) == 0 else new

    def gtin_owner(self, gtin: int) -> GtinOwner:
        owner, prefix, length = self.chain.call(self.contract.functions.gtinOwner(gtin), f"read owner of {gtin:014d}")
        if int(length) == 0:
            return GtinOwner(None, None)
        return GtinOwner(str(owner), f"{int(prefix):0{int(length)}d}")

    def get(self, account: str) -> ParticipantInfo:
        addr = checksum(account)
        roles, suspended, registered_at, commitment = self.chain.call(
            self.contract.functions.participant(addr), f"read participant {addr}"
        )
        return ParticipantInfo(addr, Role(roles), bool(suspended), int(registered_at), "0x" + bytes(commitment).hex())

    def is_active(self, account: str, roles: Role) -> bool:
        addr = checksum(account)
        return bool(self.chain.call(self.contract.functions.isActive(addr, int(roles)), f"check {addr}"))
