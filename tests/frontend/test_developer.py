"""Developer view against a devnet with the suite deployed."""

from __future__ import annotations

import pytest

from careledger.accounts import dev_accounts
from careledger.deployments import load_deployment
from careledger.seed import DEVNET_PREFIXES

pytestmark = pytest.mark.browser


def test_developer_view_lists_deployed_contracts_and_events(suite, browse):
    deployment = load_deployment(suite.w3)
    result = browse("developer.mjs")

    assert result["chainId"] == "31337"
    shown = {c["name"]: c["cells"] for c in result["contracts"]}
    assert set(shown) == set(deployment.contracts)
    directory = shown["ParticipantDirectory"]
    assert directory[1] == deployment.address("ParticipantDirectory")
    assert directory[3] == "yes"
    logs = suite.w3.eth.get_logs({"address": directory[1], "fromBlock": 0, "toBlock": "latest"})
    assert directory[4] == f"{len(logs)} events"
    # Every cast member with a role shows as active with that role; people are not registered.
    by_name = {row[1]: row for row in result["cast"]}
    assert by_name["pharmacy"][4] == "pharmacy" and by_name["pharmacy"][5] == "active"
    assert by_name["patient"][5] == "not registered"
    # The picker offers the devnet cast by role.
    assert any("pharmacy — Corner Pharmacy" in o for o in result["picker"])
    assert len(result["picker"]) == len(dev_accounts())


def test_developer_view_decodes_events_of_a_contract(suite, browse):
    result = browse("developer.mjs")
    names = [row[1] for row in result["events"]]
    registered = [m for m in dev_accounts() if m.role is not None]
    # newest first: the devnet's GS1 company prefixes attested to the manufacturer (provenance v2),
    # the cast's registrations, then the constructor's three grants (admin, registrar, emergency)
    prefixes = ["CompanyPrefixAttested"] * len(DEVNET_PREFIXES)
    assert names == prefixes + ["ParticipantRegistered"] * len(registered) + ["RoleGranted"] * 3, names
    pharmacy = dev_account_label("pharmacy")
    assert any(pharmacy in row[2] and "roles=16" in row[2] for row in result["events"])


def test_page_says_so_when_the_node_is_down(browse):
    result = browse("developer.mjs")
    assert "No Ethereum node answers at http://127.0.0.1:9" in result["nodeDown"]


def dev_account_label(name: str) -> str:
    return next(m.label for m in dev_accounts() if m.name == name)
