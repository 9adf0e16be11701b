"""The demo's protected health information: it lives only off chain.

The stories use these values for the off-chain documents (FHIR Consent and Claim resources,
encrypted records) whose salted commitments go on chain. ``tests/test_demo_audit.py`` scans every
calldata byte, event and storage slot the demo writes for each of them (:func:`all_demo_phi`), in
several encodings, and must find nothing; ``tests/test_random_run_audit.py`` does the same after
a random run.
"""

from __future__ import annotations

DEMO_PHI: dict[str, str] = {
    "patient_name": "Maria Elena Castillo",
    "date_of_birth": "1984-03-12",
    "mrn": "MRN-0042-7731",
    "member_number": "HHI-55512-01",
    "diagnosis": "Type 2 diabetes mellitus without complications",
    "record_text": "HbA1c 7.9% on 2026-11-02; metformin 500 mg twice daily",
    "address": "17 Harbour Lane, Port Ellis",
}

# The consent story's patient (careledger.consent.demo): her consent document, lab result and
# emergency note are stored encrypted off chain.
CONSENT_STORY_PHI: dict[str, str] = {
    "patient_name": "Jane Q. Doe",
    "date_of_birth": "1984-03-12",
    "mrn": "MRN-0048213",
    "lab_result": "HbA1c 6.1 %",
    "diagnosis": "Type 2 diabetes mellitus",
    "medication": "metformin 500 mg",
}


def all_demo_phi() -> dict[str, str]:
    """Every health datum the demo's stories handle, labelled ``demo.*`` and ``consent_story.*``."""
    return {f"demo.{k}": v for k, v in DEMO_PHI.items()} | {
        f"consent_story.{k}": v for k, v in CONSENT_STORY_PHI.items()
    }
