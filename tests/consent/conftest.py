"""Consent registry fixtures: the registry over the shared directory, a research study, an
ERC-1271 wallet patient, and helpers that sign EIP-712 actions with the cast's keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from consent_helpers import DAY, FORM_V1, register_study, terms

from careledger.accounts import dev_account
from careledger.consent import eip712


@pytest.fixture(scope="session")
def registry(project, directory, admin):
    return project.ConsentRegistry.deploy(directory, sender=admin)


@pytest.fixture
def study(accounts, admin, directory):
    """A research study's address: outside the directory, funded so it can record accesses.
    Generated per test, and never an address some other fixture registered in the directory
    (generated test accounts follow one sequence; key-rotation and recovery fixtures register
    some of them, and a study address may not be a participant)."""
    acct = accounts.generate_test_account()
    while directory.participant(acct).roles != 0:
        acct = accounts.generate_test_account()
    admin.transfer(acct, 10**19)
    return acct


@pytest.fixture
def registered_study(chain, registry, study, clinic):
    register_study(registry, chain, study, FORM_V1, clinic)
    return study


@pytest.fixture(scope="session")
def wallet_owner():
    """The EOA key behind the ERC-1271 wallet (the second patient's key, never used directly)."""
    return dev_account("patient2").account


@pytest.fixture(scope="session")
def wallet(project, admin, wallet_owner):
    return project.MockERC1271Wallet.deploy(wallet_owner.address, sender=admin)


@pytest.fixture(scope="session")
def keys():
    """Private keys of the cast by name (same mnemonic as Ape's test accounts)."""
    return lambda name: dev_account(name).account


@pytest.fixture
def now(chain) -> Callable[[], int]:
    """The timestamp the next transaction will have."""
    return lambda: int(chain.pending_timestamp)


@pytest.fixture
def granted(registry, patient, clinic, now):
    """The patient grants the clinic lab results for treatment for 30 days; returns the id."""
    tx = registry.grant(patient, terms(clinic, until=now() + 30 * DAY).as_tuple(), sender=patient)
    return tx.events[0].consentId


@pytest.fixture
def signer_for(registry, chain):
    """sign(kind, account, *fields, nonce=None, deadline=None, chain_id=None, contract=None) -> bytes."""

    def sign(
        kind: str,
        account: Any,
        *args: Any,
        nonce: int | None = None,
        deadline: int | None = None,
        chain_id: int | None = None,
        contract: str | None = None,
        signer: str | None = None,
    ) -> bytes:
        owner = signer or account.address
        if nonce is not None:
            n = nonce
        elif kind in ("grant", "modify", "revoke"):  # the pair's action counter
            grantee = args[1].grantee if kind == "grant" else args[1]
            n = registry.pairNonce(args[0], grantee)
        elif kind in ("appoint_delegate", "remove_delegate"):  # the patient's nonce
            n = registry.nonces(args[0])
        else:
            n = registry.nonces(owner)
        d = int(chain.pending_timestamp) + 3600 if deadline is None else deadline
        builder = getattr(eip712, kind)
        typed = builder(*args, n, d, chain_id=chain_id or chain.chain_id, registry=contract or registry.address)
        return eip712.sign(account, typed)

    return sign
