"""Errors a user can cause are sentences on the page: a custom-error revert decoded with its
NatSpec, a wallet on the wrong chain (node down and malformed scans: see the other files)."""

from __future__ import annotations

import pytest

from careledger.accounts import dev_account

pytestmark = pytest.mark.browser


def test_wallet_on_the_wrong_chain_is_told_to_switch(browse):
    result = browse("errors.mjs")
    assert result["wrongChain"] == (
        "Wrong network: your wallet is on chain 1, CareLedger runs on chain 31337. "
        "Switch networks in your wallet and try again."
    )


def test_custom_error_revert_is_decoded_into_words(drugs, browse):
    # A unit in the distributor's own parcel: the page offers Dispense, the registry refuses the role.
    result = browse("errors.mjs", SCAN=drugs["at_distributor"])
    distributor = dev_account("distributor")
    # The registry asks the directory (requireActive) and the directory's error comes back,
    # decoded with the build's ABIs and explained by its NatSpec @notice.
    assert result["revert"].startswith("Refused by the contract — ParticipantLacksRole: ")
    assert f"{distributor.label} ({distributor.address[:6]}…{distributor.address[-4:]})" in result["revert"]
    assert result["revert"].endswith("is active but holds none of the roles in 16 (pharmacy).")
