"""Shared actors and the participant directory, for every test file.

Ape's test accounts come from the same public mnemonic as the devnet, so the fixture names here
match ``careledger.accounts.DEMO_CAST`` index for index. Ape isolates each test with a chain
snapshot, so session-scoped deployments are cheap and tests cannot leak state into each other.
"""

from __future__ import annotations

import os

import chainclock
import pytest
from hypothesis import HealthCheck, settings

from careledger.codes import Role

# Fixed-seed, fast profile for `make test`; `make fuzz` selects the long one.
settings.register_profile(
    "ci",
    max_examples=25,
    stateful_step_count=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=400,
    stateful_step_count=60,
    derandomize=False,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    """Pin the clock of every chain the suite starts (tests/chainclock.py): the same tests pass or
    fail on any day the suite runs."""
    chainclock.pin_py_evm()
    chainclock.pin_anvil()


def pytest_report_header(config: pytest.Config) -> str:
    return f"chain clock pinned: genesis {chainclock.PINNED_GENESIS} (set CARELEDGER_TEST_GENESIS to move it)"


@pytest.fixture(scope="session")
def admin(accounts):  # index 0: consortium admin and deployer
    return accounts[0]


@pytest.fixture(scope="session")
def clinic(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def lab(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def er(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def insurer(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def manufacturer(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def distributor(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def pharmacy(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def regulator(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def relayer(accounts):
    return accounts[9]


@pytest.fixture(scope="session")
def patient(accounts):  # a person: not in the directory
    return accounts[10]


@pytest.fixture(scope="session")
def patient2(accounts):
    return accounts[11]


@pytest.fixture
def outsider(accounts):
    """A fresh account nobody registered (funded, so its calls can reach the contracts).
    Function-scoped: Ape's per-test isolation would undo a session fixture's funding."""
    acct = accounts.generate_test_account()
    accounts[0].transfer(acct, 10**20)
    return acct


@pytest.fixture
def rotate(accounts, directory, admin):
    """rotate(old) -> new: the registrar moves the organisation acting as ``old`` to a fresh,
    funded key, which accepts (ParticipantDirectory key rotation); returns the new account."""

    def move(old):
        new = accounts.generate_test_account()
        admin.transfer(new, 10**18)
        directory.proposeRotation(old, new, sender=admin)
        directory.acceptRotation(old, sender=new)
        return new

    return move


CREDENTIAL = bytes.fromhex("c0" * 32)


@pytest.fixture(scope="session")
def directory(project, admin, clinic, lab, er, insurer, manufacturer, distributor, pharmacy, regulator, relayer):
    """The ParticipantDirectory with the cast registered in their roles."""
    d = project.ParticipantDirectory.deploy(admin, sender=admin)
    for acct, role in (
        (clinic, Role.PROVIDER),
        (lab, Role.PROVIDER),
        (er, Role.PROVIDER),
        (insurer, Role.INSURER),
        (manufacturer, Role.MANUFACTURER),
        (distributor, Role.DISTRIBUTOR),
        (pharmacy, Role.PHARMACY),
        (regulator, Role.REGULATOR),
        (relayer, Role.RELAYER),
    ):
        d.register(acct, int(role), CREDENTIAL, sender=admin)
    # The manufacturer owns the GS1 company prefixes of the test GTINs (09506000134352, 04006381333931).
    for prefix in (9506000, 4006381):
        d.attestPrefix(manufacturer, prefix, 7, CREDENTIAL, sender=admin)
    return d
