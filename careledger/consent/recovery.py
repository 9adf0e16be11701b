"""Guardian recovery of a patient pseudonym whose key is lost (the ConsentRecovery module).

Two ways back for a person:

* **The seed backup** (the BIP-39 mnemonic): :class:`careledger.accounts.PersonIdentity`
  re-derives every pseudonym exactly, so the person simply keeps acting. Nothing happens on chain.
* **Guardians**, when the seed is lost too. For each pseudonym, the person committed earlier to a
  guardian set (:func:`guardians_hash` of the guardians' addresses, a threshold of at least 2 and
  a delay). A guardian's address for a ward is the guardian person's own pairwise pseudonym for
  that ward (:func:`guardian_address`), so one guardian guarding several pseudonyms of one person
  shows unlinkable addresses. With a new seed, the person's new pseudonym for the same
  counterparty (:func:`successor_for`) becomes the successor: guardians sign ``Recover``
  approvals, a relayer starts the recovery, the real key may cancel during the delay, then anyone
  executes it and the successor moves each consent (one pair per call).

The recovery *plan* (:class:`RecoveryPlan`) is what the person keeps with their guardians' contact
details: for each counterparty, the pseudonym and its guardian set. It links the person's
pseudonyms to each other, so it is private (like the mnemonic it stands in for), never put on chain.
See docs/consent.md, "Recovery".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.logs import DISCARD
from web3.types import TxReceipt

from careledger.accounts import PersonIdentity
from careledger.artifacts import load_artifacts
from careledger.chain import Chain, checksum
from careledger.consent import eip712
from careledger.deployments import Deployment
from careledger.errors import InvalidInput
from careledger.exactjson import uint_id

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "MAX_DELAY",
    "MAX_GUARDIANS",
    "MIN_DELAY",
    "MIN_THRESHOLD",
    "TYPES",
    "Approval",
    "GuardianSet",
    "RecoveryClient",
    "RecoveryPlan",
    "guardian_address",
    "guardians_hash",
    "recovery_typed",
    "successor_for",
]

DOMAIN_NAME = "CareLedger Consent Recovery"
DOMAIN_VERSION = "1"
MAX_GUARDIANS = 8  # ConsentRecovery.MAX_GUARDIANS
MIN_THRESHOLD = 2  # ConsentRecovery.MIN_THRESHOLD
MIN_DELAY = 2 * 86_400  # ConsentRecovery.MIN_DELAY
MAX_DELAY = 30 * 86_400  # ConsentRecovery.MAX_DELAY
CONTRACT = "ConsentRecovery"


def _fields(spec: str) -> list[dict[str, str]]:
    return [{"name": item.split(" ")[1], "type": item.split(" ")[0]} for item in spec.split(",")]


_TAIL = "uint256 nonce,uint256 deadline"
TYPES: dict[str, list[dict[str, str]]] = {
    "SetGuardians": _fields(f"address patient,bytes32 guardiansHash,uint8 threshold,uint32 delay,{_TAIL}"),
    "Recover": _fields("address patient,address successor,uint256 recoveryNonce,uint256 deadline"),
    "CancelRecovery": _fields(f"address patient,{_TAIL}"),
    "MoveConsent": _fields(f"address lost,address grantee,uint256 expectedNonce,{_TAIL}"),
}
"""The module's EIP-712 types, field for field as its ``*_TYPEHASH`` constants."""


def recovery_typed(primary: str, message: dict[str, Any], *, chain_id: int, module: str) -> dict[str, Any]:
    """EIP-712 typed data of a ConsentRecovery message (domain "CareLedger Consent Recovery", "1")."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            primary: TYPES[primary],
        },
        "primaryType": primary,
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(module),
        },
        "message": message,
    }


def guardian_address(guardian: PersonIdentity, ward: str) -> str:
    """The guardian person's address for ``ward`` (one of the patient's pseudonyms): the
    guardian's own pairwise pseudonym for it, so no two wards see the same guardian address."""
    return guardian.address_for(ward)


def successor_for(new_identity: PersonIdentity, counterparty: str) -> str:
    """The successor of a lost pseudonym: the person's new seed's pseudonym for the same counterparty."""
    return new_identity.address_for(counterparty)


@dataclass(frozen=True)
class GuardianSet:
    """A guardian set as the patient commits to it (only :attr:`hash` goes on chain)."""

    guardians: tuple[str, ...]
    threshold: int
    delay: int

    @classmethod
    def of(cls, guardians: Iterable[str], threshold: int, delay: int) -> GuardianSet:
        """Validated, sorted ascending (the order the contract checks)."""
        addrs = sorted({checksum(g, "guardian") for g in guardians}, key=lambda a: int(a, 16))
        if len(addrs) > MAX_GUARDIANS:
            raise InvalidInput(f"{len(addrs)} guardians; at most {MAX_GUARDIANS}")
        if not MIN_THRESHOLD <= threshold <= len(addrs):
            raise InvalidInput(
                f"threshold {threshold} must be at least {MIN_THRESHOLD} (one guardian alone never recovers) "
                f"and at most the {len(addrs)} guardians"
            )
        if not MIN_DELAY <= delay <= MAX_DELAY:
            raise InvalidInput(f"delay {delay} s must be within [{MIN_DELAY}, {MAX_DELAY}] (2 to 30 days)")
        return cls(tuple(addrs), threshold, delay)

    @property
    def hash(self) -> bytes:
        return guardians_hash(self.guardians)

    def to_json(self) -> dict[str, Any]:
        return {"guardians": list(self.guardians), "threshold": self.threshold, "delay": self.delay}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GuardianSet:
        try:
            return cls.of([str(g) for g in data["guardians"]], int(data["threshold"]), int(data["delay"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed guardian set: {exc}") from None


def guardians_hash(guardians: Sequence[str]) -> bytes:
    """keccak256(abi.encode(address[] guardians)) with the guardians sorted ascending."""
    ordered = sorted((to_checksum_address(g) for g in guardians), key=lambda a: int(a, 16))
    return keccak(abi_encode(["address[]"], [ordered]))


@dataclass(frozen=True)
class RecoveryPlan:
    """A person's private recovery record: counterparty -> (pseudonym, guardian set). Kept off
    chain by the person (and their guardians); it links the pseudonyms, so it is as private as
    the mnemonic."""

    entries: tuple[tuple[str, str, GuardianSet], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "pseudonyms": [{"counterparty": c, "pseudonym": p, **g.to_json()} for c, p, g in self.entries],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecoveryPlan:
        try:
            if int(data.get("version", 0)) != 1:
                raise InvalidInput("recovery plan: unknown version (expected 1)")
            entries = tuple(
                (
                    checksum(str(e["counterparty"]), "counterparty"),
                    checksum(str(e["pseudonym"]), "pseudonym"),
                    GuardianSet.from_json(e),
                )
                for e in data["pseudonyms"]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed recovery plan: {exc}") from None
        return cls(entries)


@dataclass(frozen=True)
class Approval:
    """One guardian's signed ``Recover`` approval, as it travels to whoever starts the recovery."""

    patient: str
    successor: str
    guardian: str
    deadline: int
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            "successor": self.successor,
            "guardian": self.guardian,
            "deadline": str(self.deadline),  # uint256: a decimal string (docs/json.md)
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Approval:
        try:
            sig = str(data["signature"])
            if not sig.startswith("0x") or len(bytes.fromhex(sig[2:])) != 65:
                raise InvalidInput("approval signature must be 0x + 65 bytes")
            return cls(
                checksum(str(data["patient"]), "patient"),
                checksum(str(data["successor"]), "successor"),
                checksum(str(data["guardian"]), "guardian"),
                int(data["deadline"]),
                sig,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed approval: {exc}") from None


class RecoveryClient:
    """Typed client of the ConsentRecovery module (found through the registry's ``recovery()``)."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        arts = load_artifacts()
        registry_address = deployment.address("ConsentRegistry")
        self.registry = chain.contract(registry_address, arts["ConsentRegistry"].abi)
        if CONTRACT in deployment.contracts:
            self.address = deployment.address(CONTRACT)
        else:
            self.address = str(self.chain.call(self.registry.functions.recovery(), "read the recovery module"))
        self.contract = chain.contract(self.address, arts[CONTRACT].abi)

    def with_chain(self, chain: Chain) -> RecoveryClient:
        return RecoveryClient(chain, self.deployment)

    # ------------------------------------------------------------------ reads

    def _read(self, fn: Any, what: str) -> Any:
        return self.chain.call(fn, what)

    def now(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def successor_of(self, patient: str) -> str:
        return str(self._read(self.registry.functions.successorOf(checksum(patient, "patient")), "successorOf"))

    def recovery_nonce(self, patient: str) -> int:
        return int(self._read(self.contract.functions.recoveryNonce(checksum(patient, "patient")), "recoveryNonce"))

    def nonce(self, signer: str) -> int:
        return int(self._read(self.contract.functions.nonces(checksum(signer, "signer")), "nonces"))

    def status(self, patient: str) -> dict[str, Any]:
        """Where the recovery of ``patient`` stands (exact JSON: docs/json.md)."""
        p = checksum(patient, "patient")
        g = self._read(self.contract.functions.guardiansOf(p), "guardiansOf")
        pending = self._read(self.contract.functions.pendingRecoveryOf(p), "pendingRecoveryOf")
        successor = self.successor_of(p)
        zero = "0x" + "00" * 20
        return {
            "patient": p,
            "guardiansHash": "0x" + bytes(g[0]).hex(),
            "threshold": int(g[1]),
            "delay": int(g[2]),
            "recoveryNonce": str(self.recovery_nonce(p)),  # uint256: a decimal string
            "pending": None
            if int(pending[0], 16) == 0
            else {"successor": str(pending[0]), "executableAt": int(pending[1])},
            "retired": successor != zero and int(successor, 16) != 0,
            "successor": None if int(successor, 16) == 0 else successor,
        }

    # ------------------------------------------------------------------ signing

    def _typed(self, primary: str, message: dict[str, Any]) -> dict[str, Any]:
        return recovery_typed(primary, message, chain_id=self.chain.chain_id, module=self.address)

    def _deadline(self, deadline: int | None) -> int:
        return self.now() + 15 * 60 if deadline is None else deadline

    def sign_set_guardians(
        self, key: LocalAccount, guardians: GuardianSet, deadline: int | None = None
    ) -> tuple[dict[str, Any], bytes]:
        msg = {
            "patient": key.address,
            "guardiansHash": guardians.hash,
            "threshold": guardians.threshold,
            "delay": guardians.delay,
            "nonce": self.nonce(key.address),
            "deadline": self._deadline(deadline),
        }
        return msg, eip712.sign(key, self._typed("SetGuardians", msg))

    def approve(
        self, guardian_key: LocalAccount, patient: str, successor: str, deadline: int | None = None
    ) -> tuple[dict[str, Any], bytes]:
        """A guardian's ``Recover`` approval (valid until ``deadline`` and the patient's current
        recovery nonce: a cancel by the real key voids it)."""
        msg = {
            "patient": checksum(patient, "patient"),
            "successor": checksum(successor, "successor"),
            "recoveryNonce": self.recovery_nonce(patient),
            "deadline": self._deadline(deadline),
        }
        return msg, eip712.sign(guardian_key, self._typed("Recover", msg))

    def sign_cancel(self, key: LocalAccount, deadline: int | None = None) -> tuple[dict[str, Any], bytes]:
        msg = {"patient": key.address, "nonce": self.nonce(key.address), "deadline": self._deadline(deadline)}
        return msg, eip712.sign(key, self._typed("CancelRecovery", msg))

    def sign_move(
        self, successor_key: LocalAccount, lost: str, grantee: str, deadline: int | None = None
    ) -> tuple[dict[str, Any], bytes]:
        """The successor's ``MoveConsent``, pinned to the pair's current action counter (what it
        reviewed: any later action of the old key on the pair voids it)."""
        lost_c, grantee_c = checksum(lost, "lost"), checksum(grantee, "grantee")
        msg = {
            "lost": lost_c,
            "grantee": grantee_c,
            "expectedNonce": int(self._read(self.registry.functions.pairNonce(lost_c, grantee_c), "pairNonce")),
            "nonce": self.nonce(successor_key.address),
            "deadline": self._deadline(deadline),
        }
        return msg, eip712.sign(successor_key, self._typed("MoveConsent", msg))

    # ------------------------------------------------------------------ relayed transactions

    def set_guardians(self, msg: dict[str, Any], signature: bytes) -> TxReceipt:
        fn = self.contract.functions.setGuardiansBySig(
            msg["patient"], msg["guardiansHash"], msg["threshold"], msg["delay"], msg["deadline"], signature
        )
        return self.chain.send(fn, f"set guardians of {msg['patient']}")

    def start(
        self,
        patient: str,
        successor: str,
        guardians: GuardianSet,
        approvals: dict[str, bytes],
        deadline: int,
    ) -> TxReceipt:
        """Start a recovery with the approvals collected (guardian address -> signature); every
        approval must carry ``deadline``."""
        unknown = set(approvals) - set(guardians.guardians)
        if unknown:
            raise InvalidInput(f"approval from {sorted(unknown)[0]}, who is not a guardian of {patient}")
        if len(approvals) < guardians.threshold:
            raise InvalidInput(f"{len(approvals)} approvals; the guardian set needs {guardians.threshold}")
        sigs = [approvals.get(g, b"") for g in guardians.guardians]
        fn = self.contract.functions.startRecovery(
            checksum(patient, "patient"), checksum(successor, "successor"), list(guardians.guardians), deadline, sigs
        )
        return self.chain.send(fn, f"start recovery of {patient}")

    def approval(self, guardian_key: LocalAccount, patient: str, successor: str, deadline: int) -> Approval:
        """:meth:`approve`, packaged for the one who starts the recovery."""
        msg, sig = self.approve(guardian_key, patient, successor, deadline)
        return Approval(msg["patient"], msg["successor"], guardian_key.address, deadline, "0x" + sig.hex())

    def start_with(self, guardians: GuardianSet, approvals: Sequence[Approval]) -> TxReceipt:
        """Start the recovery the ``approvals`` agree on (same patient, successor and deadline;
        each from a distinct guardian of ``guardians``)."""
        if not approvals:
            raise InvalidInput("no approvals given")
        first = approvals[0]
        for a in approvals:
            if (a.patient, a.successor, a.deadline) != (first.patient, first.successor, first.deadline):
                raise InvalidInput(
                    f"approval of {a.guardian} is for another recovery (patient, successor or deadline differ)"
                )
        by_guardian = {a.guardian: bytes.fromhex(a.signature[2:]) for a in approvals}
        if len(by_guardian) != len(approvals):
            raise InvalidInput("two approvals from one guardian")
        return self.start(first.patient, first.successor, guardians, by_guardian, first.deadline)

    def movable(self, lost: str) -> list[str]:
        """Grantees of the retired pseudonym ``lost`` whose consent is still live (to move)."""
        from careledger.consent.client import ConsentClient

        rows = ConsentClient(self.chain, self.deployment).consents(checksum(lost, "lost"))
        return [str(r["grantee"]) for r in rows if r["status"] in ("active", "proposed")]

    def move_all(self, successor_key: LocalAccount, lost: str, *, spread: float = 0.0) -> list[dict[str, Any]]:
        """Move every live consent of ``lost`` to its successor (``successor_key`` signs, this
        client's account relays), one pair per transaction; ``spread`` seconds between them
        (moves in one burst are linked by their timing only to each other: they all concern the
        same old and new pseudonym, which the grantee already sees). Returns the moved ids."""
        import time

        if self.successor_of(lost) != successor_key.address:
            raise InvalidInput(f"{successor_key.address} is not the successor of {lost} (recovery not executed?)")
        out: list[dict[str, Any]] = []
        for i, grantee in enumerate(self.movable(lost)):
            if i and spread > 0:
                time.sleep(spread)
            msg, sig = self.sign_move(successor_key, lost, grantee)
            receipt = self.move(msg, sig)
            granted = self.registry.events.ConsentGranted().process_receipt(receipt, errors=DISCARD)
            out.append({"grantee": grantee, "consentId": uint_id(int(granted[0]["args"]["consentId"]))})
        return out

    def cancel(self, msg: dict[str, Any], signature: bytes) -> TxReceipt:
        fn = self.contract.functions.cancelRecoveryBySig(msg["patient"], msg["deadline"], signature)
        return self.chain.send(fn, f"cancel recovery of {msg['patient']}")

    def execute(self, patient: str) -> TxReceipt:
        return self.chain.send(
            self.contract.functions.executeRecovery(checksum(patient, "patient")), f"execute recovery of {patient}"
        )

    def move(self, msg: dict[str, Any], signature: bytes) -> TxReceipt:
        fn = self.contract.functions.moveConsentBySig(
            msg["lost"], msg["grantee"], msg["expectedNonce"], msg["deadline"], signature
        )
        return self.chain.send(fn, f"move consent of {msg['lost']} for {msg['grantee']}")
