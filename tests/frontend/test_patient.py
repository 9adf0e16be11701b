"""Patient view: grant and revoke a consent through the relayer (the patient signs EIP-712 and
pays nothing), a refused grant explained before signing, the access log with break-glass."""

from __future__ import annotations

import pytest

from careledger.accounts import dev_account, dev_person

pytestmark = pytest.mark.browser


def test_patient_grants_and_revokes_through_the_relayer(consents, relayer, browse, suite):
    patient, clinic = dev_account("patient"), dev_account("clinic")
    balance_before = suite.w3.eth.get_balance(patient.address)
    result = browse("patient.mjs", GRANTEE=clinic.address, GRANTEE_LABEL=clinic.label)

    assert result["grant"] == {
        "ok": True,
        "text": f"Access granted to {clinic.label} ({clinic.address[:6]}…{clinic.address[-4:]}).",
    }
    granted = [r for r in result["afterGrant"] if clinic.label in r["cells"][1]]
    assert len(granted) == 1 and granted[0]["status"] == "active"
    assert granted[0]["cells"][2] == "Conditions, Vitals & lab results"
    assert granted[0]["cells"][3] == "Treatment"
    # The second grant to the same clinic is refused by the dry run, in words, before signing.
    assert not result["again"]["ok"]
    assert result["again"]["text"].startswith("Refused by the contract — ConsentAlreadyActive: ")
    # Modify keeps the id and narrows the data to Observations.
    assert result["modify"]["ok"] and result["modify"]["text"].endswith("changed.")
    modified = [r for r in result["afterModify"] if r["id"] == granted[0]["id"]]
    assert modified[0]["status"] == "active" and modified[0]["cells"][2] == "Vitals & lab results"
    assert result["revoke"]["ok"] and "revoked" in result["revoke"]["text"]
    revoked = [r for r in result["afterRevoke"] if r["id"] == granted[0]["id"]]
    assert revoked[0]["status"] == "revoked"
    # On chain: the consent was made by the patient's pairwise pseudonym for the clinic (the page
    # derives it like the SDK), it is gone, and nobody paid gas but the relayer.
    registry = consents["registry"]
    pseudonym = dev_person("patient").address_for(clinic.address)
    logs = registry.events.ConsentGranted().get_logs(from_block=0, argument_filters={"grantee": clinic.address})
    granted_by = [e["args"]["patient"] for e in logs]  # (other tests' members grant the clinic too)
    assert pseudonym in granted_by and patient.address not in granted_by
    allowed, _ = registry.functions.canAccess(pseudonym, clinic.address, 3, 0).call()
    assert allowed is False
    assert suite.w3.eth.get_balance(patient.address) == balance_before
    assert suite.w3.eth.get_balance(pseudonym) == 0


def test_access_log_highlights_break_glass(consents, relayer, browse):
    """Without the index API the log is read from the chain's recent logs, and says so."""
    result = browse("patient.mjs", GRANTEE=dev_account("clinic").address, GRANTEE_LABEL=dev_account("clinic").label)
    assert result["logSource"]["source"] == "chain"
    assert "The index is not reachable" in result["logSource"]["text"]
    check_access_log(result, consents)


def test_access_log_reads_the_index_api(consents, relayer, index_api, browse):
    """With ``careledger index serve`` up, the same log comes from the index (every disclosure,
    newest first), with CSV, FHIR and printable links."""
    result = browse("patient.mjs", GRANTEE=dev_account("clinic").address, GRANTEE_LABEL=dev_account("clinic").label)
    assert result["logSource"]["source"] == "index"
    assert "CSV" in result["logSource"]["text"] and "FHIR AuditEvent bundle" in result["logSource"]["text"]
    check_access_log(result, consents)


def check_access_log(result, consents):
    log = result["log"]
    er, lab = dev_account("er").label, dev_account("lab").label
    glass = [row for row in log if row["kind"] == "breakglass"]
    assert len(glass) == 1 and glass[0]["breakglass"] and er in glass[0]["cells"][1]
    assert glass[0]["cells"][2].startswith("BREAK-GLASS opened (Emergency treatment)")
    emergency = [row for row in log if row["kind"] == "breakglass-access"]
    assert len(emergency) == 1 and emergency[0]["breakglass"] and "EMERGENCY read" in emergency[0]["cells"][2]
    routine = [row for row in log if row["kind"] == "access"]
    assert len(routine) == 1 and not routine[0]["breakglass"] and lab in routine[0]["cells"][1]
    # The patient marks it reviewed (a relayed signature): the page and the chain agree.
    after = [row for row in result["logAfterReview"] if row["kind"] == "breakglass"]
    assert after[0]["reviewed"] == "true" and "reviewed" in after[0]["cells"][3]
    registry = consents["registry"]
    glass_id = registry.functions.breakGlassOf(dev_account("patient").address, dev_account("er").address).call()[0]
    assert registry.functions.breakGlassReviewed(glass_id).call() is True


def test_patient_lists_record_holders_from_her_own_pointers(consents, browse):
    """The holders come from the pointers she keeps (careledger-gw:1:URL#pseudonym, docs/gateway.md):
    hers are recognised by her own pseudonym derivation, someone else's and malformed ones are
    refused, the list survives a reload and can be forgotten."""
    from careledger.gateway.protocol import pointer_string

    clinic = dev_account("clinic")
    mine = pointer_string("https://gateway.riverside.example", dev_person("patient").address_for(clinic.address))
    foreign = pointer_string("https://gateway.riverside.example", dev_person("patient2").address_for(clinic.address))
    result = browse("patient_holders.mjs", POINTER=mine, FOREIGN=foreign)
    assert result["before"] == "No pointers kept yet."
    assert not result["malformed"]["ok"] and result["malformed"]["text"].startswith("Not a gateway pointer")
    assert not result["foreign"]["ok"] and result["foreign"]["text"].endswith("this pointer is not for you.")
    assert result["kept"] == {
        "ok": True,
        "text": f"Kept: {clinic.label} holds records for you at https://gateway.riverside.example.",
    }
    assert [r["pointer"] for r in result["after"]] == [mine] == [r["pointer"] for r in result["afterReload"]]
    assert result["after"][0]["cells"][:2] == [
        f"{clinic.label} ({clinic.address[:6]}…{clinic.address[-4:]})",
        "https://gateway.riverside.example",
    ]
    assert result["afterForget"] == "No pointers kept yet."
