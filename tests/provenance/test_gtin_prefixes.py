"""GS1 company prefixes in the ParticipantDirectory: attested by the registrar, never nested,
and the one lookup (`gtinOwner`) that commission and the recall authority use."""

from __future__ import annotations

import ape
import pytest

from careledger.codes import Role

EVIDENCE = b"\xe1" * 32
REASON = b"LICENCE-MOVED".ljust(32, b"\0")
ZERO = "0x" + "00" * 20


def gtin_with(prefix: str, item: str = "") -> int:
    """A GTIN-14 (indicator 0) whose company prefix is ``prefix`` (digits as printed)."""
    room = 12 - len(prefix)
    body = "0" + prefix + (item.rjust(room, "0")[-room:] if room else "")
    s = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return int(body + str((10 - s % 10) % 10))


@pytest.fixture
def maker(accounts, directory, admin):
    acct = accounts.generate_test_account()
    accounts[0].transfer(acct, 10**20)
    directory.register(acct, int(Role.MANUFACTURER), b"\xc2" * 32, sender=admin)
    return acct


def test_attest_and_read_back(directory, admin, maker):
    tx = directory.attestPrefix(maker, 12345678, 8, EVIDENCE, sender=admin)
    assert tx.events == [directory.CompanyPrefixAttested(prefix=12345678, length=8, owner=maker, evidence=EVIDENCE)]
    assert directory.prefixOwner(12345678, 8) == maker.address
    assert tuple(directory.gtinOwner(gtin_with("12345678", "77"))) == (maker.address, 12345678, 8)
    directory.requireGtinOwner(maker, gtin_with("12345678", "77"))


@pytest.mark.parametrize(
    "prefix", ["123456", "1234567", "00123456", "123456789", "0123456789", "12345678901", "999999999999"]
)
def test_every_prefix_length_resolves(directory, admin, maker, prefix):
    directory.attestPrefix(maker, int(prefix), len(prefix), EVIDENCE, sender=admin)
    owner, number, length = directory.gtinOwner(gtin_with(prefix, "1"))
    assert (owner, number, length) == (maker.address, int(prefix), len(prefix))


def test_leading_zeros_are_part_of_the_prefix(directory, admin, maker, manufacturer):
    """0614141 (7 digits) and 614141 (6 digits) are different prefixes of different GTINs."""
    directory.attestPrefix(maker, 614141, 7, EVIDENCE, sender=admin)
    assert directory.gtinOwner(gtin_with("0614141"))[0] == maker.address
    assert directory.gtinOwner(gtin_with("614141"))[0] == ZERO


@pytest.mark.parametrize(("prefix", "length"), [(1, 5), (1, 13), (10**7, 7), (0, 0)])
def test_invalid_prefix_refused(directory, admin, maker, prefix, length):
    with ape.reverts(directory.InvalidCompanyPrefix, prefix=prefix, length=length):
        directory.attestPrefix(maker, prefix, length, EVIDENCE, sender=admin)


def test_prefix_taken_refused(directory, admin, maker, manufacturer):
    with ape.reverts(directory.CompanyPrefixTaken, prefix=9506000, length=7, owner=manufacturer.address):
        directory.attestPrefix(maker, 9506000, 7, EVIDENCE, sender=admin)


def test_nesting_refused_both_ways(directory, admin, maker, manufacturer):
    # Inside manufacturer's 9506000: a longer prefix starting with it.
    with ape.reverts(directory.CompanyPrefixOverlaps, prefix=950600012, length=9, other=9506000, otherLength=7):
        directory.attestPrefix(maker, 950600012, 9, EVIDENCE, sender=admin)
    # Around it: a shorter prefix it starts with.
    with ape.reverts(directory.CompanyPrefixContainsAttested, prefix=950600, length=6, attested=1):
        directory.attestPrefix(maker, 950600, 6, EVIDENCE, sender=admin)


def test_revoke_frees_the_space(directory, admin, maker, manufacturer):
    tx = directory.revokePrefix(9506000, 7, REASON, sender=admin)
    assert tx.events == [
        directory.CompanyPrefixRevoked(prefix=9506000, length=7, owner=manufacturer, reasonCode=REASON)
    ]
    assert directory.gtinOwner(gtin_with("9506000", "13435"))[0] == ZERO
    directory.attestPrefix(maker, 950600, 6, EVIDENCE, sender=admin)  # no longer contains anything
    assert directory.gtinOwner(gtin_with("9506000", "13435"))[0] == maker.address
    with ape.reverts(directory.CompanyPrefixNotAttested, prefix=9506000, length=7):
        directory.revokePrefix(9506000, 7, REASON, sender=admin)


def test_only_registered_manufacturers_own_prefixes(directory, admin, pharmacy, outsider):
    with ape.reverts(directory.ParticipantLacksRole, account=pharmacy.address, requiredRoles=int(Role.MANUFACTURER)):
        directory.attestPrefix(pharmacy, 7777777, 7, EVIDENCE, sender=admin)
    with ape.reverts(directory.ParticipantNotRegistered, account=outsider.address):
        directory.attestPrefix(outsider, 7777777, 7, EVIDENCE, sender=admin)
    with ape.reverts(directory.EmptyCredentialCommitment):
        directory.attestPrefix(pharmacy, 7777777, 7, b"\0" * 32, sender=admin)


def test_only_the_registrar_attests_or_revokes(directory, manufacturer, maker):
    role = directory.REGISTRAR_ROLE()
    with ape.reverts(directory.AccessControlUnauthorizedAccount, account=manufacturer.address, neededRole=role):
        directory.attestPrefix(maker, 7777777, 7, EVIDENCE, sender=manufacturer)
    with ape.reverts(directory.AccessControlUnauthorizedAccount, account=manufacturer.address, neededRole=role):
        directory.revokePrefix(9506000, 7, REASON, sender=manufacturer)


def test_require_gtin_owner_names_the_owner(directory, admin, maker, manufacturer):
    gtin = gtin_with("9506000", "13435")
    with ape.reverts(directory.NotGtinOwner, account=maker.address, gtin=gtin, owner=manufacturer.address):
        directory.requireGtinOwner(maker, gtin)
    directory.suspend(manufacturer, REASON, sender=admin)
    with ape.reverts(directory.ParticipantIsSuspended, account=manufacturer.address):
        directory.requireGtinOwner(manufacturer, gtin)


def test_lookup_costs_the_same_for_every_prefix_length(directory, admin, maker, chain):
    """One read of the counts under the GTIN's first 6 digits, then one per attested length: a
    6-digit and a 12-digit prefix cost the same to resolve (a gas figure, measured)."""
    directory.attestPrefix(maker, 123456789012, 12, EVIDENCE, sender=admin)
    directory.attestPrefix(maker, 654321, 6, EVIDENCE, sender=admin)
    assert directory.gtinOwner(gtin_with("123456789012"))[0] == maker.address
    assert directory.gtinOwner(gtin_with("123456789013"))[0] == ZERO  # same head, other prefix
    assert directory.gtinOwner(gtin_with("999999"))[0] == ZERO  # nothing under this head
    w3 = chain.provider.web3

    def gas(gtin: int) -> int:
        data = directory.gtinOwner.encode_input(gtin)
        return int(w3.eth.estimate_gas({"to": directory.address, "data": "0x" + bytes(data).hex()}))

    long_, short = gas(gtin_with("123456789012")), gas(gtin_with("654321", "77"))
    assert abs(long_ - short) < 300, (long_, short)
    print(f"gtinOwner gas: 12-digit prefix {long_:,}, 6-digit prefix {short:,}")
