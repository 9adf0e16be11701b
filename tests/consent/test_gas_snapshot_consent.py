"""Consent and directory gas on the embedded chain, against the committed snapshot
(tests/gas_snapshot.py): a new grant, a relayed signed grant, a recorded access, a revoke, and
registering a participant."""

from __future__ import annotations

import gas_snapshot
from consent_helpers import DAY, terms

from careledger.codes import Category, Purpose, Role

RECORD = b"\x42" * 32


def test_consent_gas_matches_snapshot(
    registry, directory, admin, accounts, patient, patient2, clinic, lab, relayer, keys, signer_for, now
):
    grant = registry.grant(patient, terms(clinic, until=now() + 30 * DAY).as_tuple(), sender=patient)
    cid = grant.events[0].consentId
    access = registry.recordAccess(patient, cid, int(Category.OBSERVATION), int(Purpose.TREAT), RECORD, sender=clinic)
    revoke = registry.revoke(patient, clinic, cid, sender=patient)
    signed_terms = terms(lab, until=now() + 30 * DAY)
    deadline = now() + 3600
    sig = signer_for("grant", keys("patient2"), patient2.address, signed_terms, deadline=deadline)
    signed = registry.grantBySig(patient2, signed_terms.as_tuple(), patient2, deadline, sig, sender=relayer)
    newcomer = accounts.generate_test_account()
    register = directory.register(newcomer, int(Role.PROVIDER), b"\xc1" * 32, sender=admin)
    gas_snapshot.check(
        {
            "consent.grant": grant.gas_used,
            "consent.record_access": access.gas_used,
            "consent.revoke": revoke.gas_used,
            "consent.grant_signed": signed.gas_used,
            "directory.register": register.gas_used,
        }
    )
