"""Devnet accounts: the keys anvil and Ape derive from the public test mnemonic, with the role
each plays in the demo. Never use these keys on a chain that holds value: the CLI resolves these
names only on a devnet the project started or one declared with ``--devnet``
(:mod:`careledger.devchain`), never because of a chain id."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_canonical_address, to_checksum_address
from eth_utils.crypto import keccak

from careledger.codes import Role
from careledger.errors import InvalidInput

__all__ = [
    "DEMO_CAST",
    "DEV_MNEMONIC",
    "PAIRWISE_TAG",
    "DevAccount",
    "PersonIdentity",
    "dev_account",
    "dev_accounts",
    "dev_person",
    "pairwise_path",
]

DEV_MNEMONIC = "test test test test test test test test test test test junk"

Account.enable_unaudited_hdwallet_features()


@dataclass(frozen=True)
class DevAccount:
    index: int
    name: str
    role: Role | None  # None: a person (patient), not a directory participant
    label: str

    @property
    def account(self) -> LocalAccount:
        return _derive(self.index)

    @property
    def address(self) -> str:
        return self.account.address


# Index -> who they are in the demo. Index 0 deploys and administers the consortium.
DEMO_CAST: tuple[DevAccount, ...] = (
    DevAccount(0, "admin", None, "Consortium admin (deployer)"),
    DevAccount(1, "clinic", Role.PROVIDER, "Riverside Clinic"),
    DevAccount(2, "lab", Role.PROVIDER, "Northgate Laboratory"),
    DevAccount(3, "er", Role.PROVIDER, "St Mary's Emergency Dept"),
    DevAccount(4, "insurer", Role.INSURER, "Harbor Health Insurance"),
    DevAccount(5, "manufacturer", Role.MANUFACTURER, "Acme Pharma"),
    DevAccount(6, "distributor", Role.DISTRIBUTOR, "MedSupply Distribution"),
    DevAccount(7, "pharmacy", Role.PHARMACY, "Corner Pharmacy"),
    DevAccount(8, "regulator", Role.REGULATOR, "Drug Safety Authority"),
    DevAccount(9, "relayer", Role.RELAYER, "CareLedger Relay"),
    DevAccount(10, "patient", None, "Patient (pseudonymous)"),
    DevAccount(11, "patient2", None, "Second patient (pseudonymous)"),
)


@lru_cache(maxsize=64)
def _derive(index: int) -> LocalAccount:
    acct: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return acct


def dev_accounts() -> tuple[DevAccount, ...]:
    return DEMO_CAST


def dev_account(name_or_index: str | int) -> DevAccount:
    """A cast member by name (``"pharmacy"``) or index (``7``)."""
    for acct in DEMO_CAST:
        if acct.name == name_or_index or str(acct.index) == str(name_or_index):
            return acct
    raise KeyError(name_or_index)


# ---------------------------------------------------------------------- pairwise pseudonyms

PAIRWISE_TAG = b"careledger.pairwise.v1"
"""Domain tag hashed with the counterparty's address into the derivation path (version 1)."""

_HARDENED = 1 << 31


def pairwise_path(counterparty: str, identity: int = 0) -> str:
    """The BIP-32 path of a person's pseudonym for ``counterparty`` (a provider, study or plan
    insurer address): ``m/44'/60'/{identity}'/{a}'/{b}'/{c}'/{d}'``, where ``a..d`` are the four
    31-bit words of ``keccak256(PAIRWISE_TAG || counterparty)`` (its first 124 bits), all
    hardened.

    Why this shape: BIP-44 up to the account level (coin 60, so any BIP-32 wallet derives it),
    then four hardened levels instead of BIP-44's unhardened change/index pair. One 31-bit index
    would collide for two of a person's counterparties with probability about k^2 / 2^32 (k
    counterparties), and a collision would put one address in two relationships; 124 bits make
    it negligible. Hardened levels mean a leaked pseudonym key plus any extended public key
    reveals no sibling pseudonym."""
    if not 0 <= identity < _HARDENED:
        raise InvalidInput(f"identity index {identity} is not a BIP-32 hardened index")
    digest = int.from_bytes(keccak(PAIRWISE_TAG + to_canonical_address(counterparty))[:16], "big") >> 4
    words = [(digest >> (31 * (3 - i))) & (_HARDENED - 1) for i in range(4)]
    return f"m/44'/60'/{identity}'/" + "/".join(f"{w}'" for w in words)


@dataclass(frozen=True)
class PersonIdentity:
    """One person's secret (a BIP-39 mnemonic, an optional BIP-39 passphrase and an identity
    index) and the pseudonym it derives for each counterparty. The person sees one identity;
    each organisation sees only the address derived for it, and nothing on chain joins two.

    :meth:`pseudonym` is *the* derivation for any counterparty: a provider or lab (treatment
    consents), a research study, or a health plan's insurer (claims membership and payment
    consents): ``identity.pseudonym(counterparty)``."""

    mnemonic: str = field(repr=False)
    identity: int = 0
    passphrase: str = field(default="", repr=False)

    @property
    def _seed(self) -> bytes:
        return _seed_of(self.mnemonic, self.passphrase)

    def pseudonym(self, counterparty: str) -> LocalAccount:
        """The key of this person's pseudonym for ``counterparty`` (deterministic)."""
        return _pseudonym(self._seed, self.identity, to_checksum_address(counterparty))

    def address_for(self, counterparty: str) -> str:
        return str(self.pseudonym(counterparty).address)

    def pseudonyms(self, counterparties: Iterable[str]) -> dict[str, str]:
        """{pseudonym address: counterparty} for every counterparty given (for one combined log)."""
        return {self.address_for(c): to_checksum_address(c) for c in counterparties}


@lru_cache(maxsize=16)
def _seed_of(mnemonic: str, passphrase: str) -> bytes:
    return bytes(seed_from_mnemonic(mnemonic, passphrase))


@lru_cache(maxsize=4096)
def _pseudonym(seed: bytes, identity: int, counterparty: str) -> LocalAccount:
    acct: LocalAccount = Account.from_key(key_from_seed(seed, pairwise_path(counterparty, identity)))
    return acct


def dev_person(name: str) -> PersonIdentity:
    """A devnet person of the cast (``patient``, ``patient2``): the public test mnemonic with the
    cast index as identity index. Their pseudonyms hold no ether: they act by signature."""
    member = dev_account(name)
    if member.role is not None:
        raise KeyError(f"{name} is an organisation, not a person")
    return PersonIdentity(DEV_MNEMONIC, member.index)
