"""The demo's protected health information: it lives only off chain.

The stories use these values for the off-chain documents (FHIR Consent and Claim resources,
encrypted records) whose salted commitments go on chain. ``tests/test_no_phi.py`` scans every
calldata byte, event and storage slot the demo writes for each of them, in several encodings,
and must find nothing.
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
