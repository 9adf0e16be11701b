"""Claims wired to the REAL ConsentRegistry and ProvenanceRegistry (no test doubles): the
member's consent in the registry gates submission, and a pharmacy line is accepted for a unit
the provenance registry saw this pharmacy dispense, refused once its batch is recalled."""

from __future__ import annotations

import ape
import chainclock
import pytest
from claims_fixtures import (
    DRUG,
    KEY,
    USD,
    Line,
    claim_input,
    enrol,
    office,
    setup_plan,
    status_of,
    today,
)

from careledger.claims.types import ClaimStatus
from careledger.codes import Category, Purpose, mask_of
from careledger.provenance.ids import batch_id, leaf_hash, text_to_bytes32, unit_id
from careledger.provenance.merkle import MerkleTree

GTIN = 9506000134352
SALT = KEY.gtin_salt(1, "NDC:0002-1433-80", GTIN)
BINDINGS = {DRUG: KEY.gtin_binding(1, "NDC:0002-1433-80", GTIN)}


def drug_line(unit):
    return Line(DRUG, 1, 40 * USD, SALT, (unit,))


EXPIRY = int(chainclock.FAR_EXPIRY)  # three years after the pinned clock
DOC = b"\xd0" * 32
SERIALS = [f"SN{i:06d}" for i in range(8)]


class _NoConsent:
    """setup_plan's consent step, skipped: the real registry is granted by the patient below."""

    def setAllowed(self, *args, **kwargs):
        raise AssertionError("not used with the real registry")


@pytest.fixture
def wired(project, admin, directory, token, insurer, patient, pharmacy, clinic, manufacturer, distributor):
    consent = project.ConsentRegistry.deploy(directory, sender=admin)
    provenance = project.ProvenanceRegistry.deploy(directory, sender=admin)
    claims = project.ClaimSettlement.deploy(directory, consent, provenance, token, sender=admin)
    setup_plan(claims, token, insurer, patient, _NoConsent(), [], bindings=BINDINGS)
    until = ape.chain.pending_timestamp + 365 * 86_400
    grants = {}
    for grantee in (clinic, pharmacy):
        terms = (grantee.address, mask_of(Category.FINANCIAL), mask_of(Purpose.HPAYMT), 0, 0, 0, until, b"\0" * 32)
        consent.grant(patient, terms, sender=patient)
        grants[grantee.address] = consent.canAccess(patient, grantee, int(Category.FINANCIAL), int(Purpose.HPAYMT))[1]
    # A batch of 8 units: manufacturer -> distributor -> pharmacy, one unit dispensed.
    lot = text_to_bytes32("LOT-C1", "lot")
    tree = MerkleTree.from_leaves([leaf_hash(GTIN, s) for s in SERIALS])
    bid = batch_id(GTIN, "LOT-C1")
    provenance.commission(GTIN, lot, EXPIRY, len(SERIALS), tree.root, sender=manufacturer)
    provenance.ship(bid, 0, distributor, 8, DOC, sender=manufacturer)
    provenance.accept(bid, 0, sender=distributor)
    provenance.ship(bid, 0, pharmacy, 5, DOC, sender=distributor)
    provenance.accept(bid, 0, sender=pharmacy)
    for i, s in enumerate(SERIALS[:2]):
        provenance.dispense(GTIN, lot, text_to_bytes32(s), i, 0, tree.proof_at(i), sender=pharmacy)
    return claims, consent, provenance, bid, grants


def test_consent_from_registry_allows_and_is_recorded(wired, clinic, patient):
    claims, _, _, _, grants = wired
    tx = claims.submit(claim_input(patient, clinic, [office(200 * USD)]), sender=clinic)
    ev = tx.events.filter(claims.ClaimSubmitted)[0]
    assert ev.consentId == grants[clinic.address] != 0
    assert status_of(claims, ev.claimId) == ClaimStatus.APPROVED


def test_revoked_consent_refuses_claims(wired, clinic, patient):
    claims, consent, _, _, grants = wired
    consent.revoke(patient, clinic, grants[clinic.address], sender=patient)
    with ape.reverts(claims.NoPaymentConsent, member=patient.address, submitter=clinic.address):
        claims.submit(claim_input(patient, clinic, [office()]), sender=clinic)


def test_consent_one_second_before_expiry_allowed_at_expiry_refused(wired, insurer, clinic, patient):
    claims, consent, _, _, _ = wired
    until = consent.consentOf(patient, clinic).validUntil
    enrol(claims, insurer, patient, from_period=1)  # the consent outlives plan year 0: cover year 1 too
    ape.chain.pending_timestamp = until - 1
    claims.submit(claim_input(patient, clinic, [office()], period=1, day=today()), sender=clinic)
    ape.chain.pending_timestamp = until
    with ape.reverts(claims.NoPaymentConsent, member=patient.address, submitter=clinic.address):
        claims.submit(claim_input(patient, clinic, [office()], period=1, day=today() - 1), sender=clinic)


def test_plan_pseudonym_needs_its_own_payment_consent(wired, insurer, clinic, patient, patient2):
    """Point 3: the member is enrolled under the plan pseudonym on the card (patient2's key here),
    not the address it uses for consents with providers (patient). The payment consent is the
    pseudonym's: the treatment address's consent does not count, and the claim's events and
    calldata carry the pseudonym only."""
    claims, consent, _, _, _ = wired
    card = patient2  # the plan's card: another key than the treatment address
    enrol(claims, insurer, card)
    with ape.reverts(claims.NoPaymentConsent, member=card.address, submitter=clinic.address):
        claims.submit(claim_input(card, clinic, [office()]), sender=clinic)
    until = ape.chain.pending_timestamp + 30 * 86_400
    terms = (clinic.address, mask_of(Category.FINANCIAL), mask_of(Purpose.HPAYMT), 0, 0, 0, until, b"\0" * 32)
    consent.grant(card, terms, sender=card)
    tx = claims.submit(claim_input(card, clinic, [office()]), sender=clinic)
    assert tx.events.filter(claims.ClaimSubmitted)[0].member == card.address
    treatment = bytes.fromhex(patient.address[2:])
    calldata = bytes(ape.chain.provider.web3.eth.get_transaction(tx.txn_hash)["input"])
    assert treatment not in calldata
    assert all(treatment not in bytes(log["data"]) + b"".join(bytes(t) for t in log["topics"]) for log in tx.logs)


def test_unit_dispensed_by_pharmacy_settles_then_recall_refuses(wired, pharmacy, regulator, patient):
    claims, _, provenance, bid, _ = wired
    first, second = unit_id(GTIN, SERIALS[0]), unit_id(GTIN, SERIALS[1])
    tx = claims.submit(claim_input(patient, pharmacy, [drug_line(first)]), sender=pharmacy)
    cid = tx.events.filter(claims.ClaimSubmitted)[0].claimId
    assert status_of(claims, cid) in (ClaimStatus.APPROVED, ClaimStatus.PAID)
    provenance.recall(bid, b"CLASS-I".ljust(32, b"\0"), sender=regulator)
    with ape.reverts(claims.UnitRecalled, unitId=second, batchId=bid):
        claims.submit(claim_input(patient, pharmacy, [drug_line(second)], day=today() - 2), sender=pharmacy)


def test_unit_never_dispensed_refused(wired, pharmacy, patient):
    claims, _, _, _, _ = wired
    unit = unit_id(GTIN, SERIALS[5])  # at the pharmacy, but not dispensed
    with ape.reverts(claims.UnitNotDispensedByPayee, unitId=unit, dispensedBy="0x" + "00" * 20, payee=pharmacy.address):
        claims.submit(claim_input(patient, pharmacy, [drug_line(unit)]), sender=pharmacy)


def test_real_quarantine_refuses_at_submission_and_spares_the_accepted_claim(
    wired, pharmacy, regulator, insurer, patient
):
    """Point 7, the documented rule with the real registry, both ways: a unit of a batch under
    quarantine is refused at submission (and accepted once the quarantine is lifted), while a
    claim accepted before the quarantine goes on to be decided and paid."""
    claims, _, provenance, bid, _ = wired
    first, second = unit_id(GTIN, SERIALS[0]), unit_id(GTIN, SERIALS[1])
    accepted = Line(DRUG, 1, 900 * USD, SALT, (first,))  # above the auto-approve limit: waits for review
    tx = claims.submit(claim_input(patient, pharmacy, [accepted]), sender=pharmacy)
    cid = tx.events.filter(claims.ClaimSubmitted)[0].claimId
    assert status_of(claims, cid) == ClaimStatus.PENDING_REVIEW
    provenance.quarantine(bid, b"TEMPERATURE".ljust(32, b"\0"), sender=regulator)
    with ape.reverts(claims.UnitQuarantined, unitId=second, batchId=bid):
        claims.submit(claim_input(patient, pharmacy, [drug_line(second)], day=today() - 2), sender=pharmacy)
    claims.review(cid, [accepted.as_tuple()], 0, 0, 0, sender=insurer)  # approve: the claim stands
    claims.pay(cid, sender=pharmacy)
    assert status_of(claims, cid) == ClaimStatus.PAID
    provenance.liftQuarantine(bid, b"CLEARED".ljust(32, b"\0"), sender=regulator)
    tx = claims.submit(claim_input(patient, pharmacy, [drug_line(second)], day=today() - 2), sender=pharmacy)
    assert status_of(claims, tx.events.filter(claims.ClaimSubmitted)[0].claimId) in (
        ClaimStatus.APPROVED,
        ClaimStatus.PAID,
    )
