"""Devnet accounts: the keys anvil and Ape derive from the public test mnemonic, with the role
each plays in the demo. Never use these keys on a chain that holds value: the CLI resolves these
names only on a devnet the project started or one declared with ``--devnet``
(:mod:`careledger.devchain`), never because of a chain id."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from eth_account import Account
from eth_account.signers.local import LocalAccount

from careledger.codes import Role

__all__ = ["DEMO_CAST", "DEV_MNEMONIC", "DevAccount", "dev_account", "dev_accounts"]

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
