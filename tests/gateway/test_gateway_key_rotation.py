"""A gateway's anchors survive its provider's key rotation: a record anchored under the clinic's
old key still verifies for the clinic's new key (the directory says whose key it is now), and
not for anyone else's."""

from __future__ import annotations

import pytest

from careledger.artifacts import load_artifacts
from careledger.chain import Chain, ErrorDecoder
from careledger.errors import NotVerified
from careledger.gateway.client import verify_record
from careledger.gateway.protocol import canonical, record_commitment

RESOURCE = {"resourceType": "Observation", "status": "final", "code": {"text": "HbA1c"}}
PSEUDONYM = "0x" + "4a" * 20
SALT = b"\x07" * 32


def test_anchor_verifies_for_the_provider_new_key_only(project, chain, directory, admin, clinic, lab, accounts):
    anchor = project.RecordAnchor.deploy(directory, sender=admin)
    commitment = record_commitment(SALT, PSEUDONYM, canonical(RESOURCE))
    anchor.anchor(commitment, sender=clinic)
    new = accounts.generate_test_account()
    admin.transfer(new, 10**18)
    directory.proposeRotation(clinic, new, sender=admin)
    directory.acceptRotation(clinic, sender=new)
    sdk = Chain(chain.provider.web3, ErrorDecoder.from_abis(load_artifacts().all_abis()))
    item = {"salt": "0x" + SALT.hex(), "resource": RESOURCE, "commitment": "0x" + commitment.hex(), "recordId": "r1"}
    at = verify_record(sdk, anchor.address, new.address, PSEUDONYM, item)
    assert at == anchor.anchorOf(commitment).anchoredAt
    with pytest.raises(NotVerified, match="not anchored by gateway"):
        verify_record(sdk, anchor.address, lab.address, PSEUDONYM, item)
