"""FHIR R4 Consent: export validates with fhir.resources (R4B models), import reads permit/deny
provisions, period, actor, purpose and class, and the round trip is exact."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from careledger.codes import Category, Purpose
from careledger.consent import fhir
from careledger.consent.terms import ConsentState, GrantTerms, consent_id, mask
from careledger.errors import InvalidInput

PATIENT = "0xBcd4042DE499D14e55001CcbB24a551F3b954096"
CLINIC = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DOC = bytes.fromhex("d0" * 32)
T0, T1 = 1_790_000_000, 1_792_592_000


def state(**kw: int) -> ConsentState:
    base = {
        "id": consent_id(PATIENT, CLINIC, 1),
        "seq": 1,
        "categories": mask([Category.OBSERVATION, Category.MENTAL_HEALTH]),
        "purposes": mask([Purpose.TREAT, Purpose.HPAYMT]),
        "deny_categories": mask([Category.MENTAL_HEALTH]),
        "deny_purposes": mask([Purpose.HPAYMT]),
        "valid_from": T0,
        "valid_until": T1,
        "form_version": 0,
    }
    base.update(kw)
    return ConsentState(**base)


def test_export_validates_and_maps_permit_deny_period_actor_purpose_class():
    res = fhir.export_consent(PATIENT, CLINIC, state(), document=DOC, now=T0 + 5)
    model = fhir.validate(res)
    assert model.status == "active"
    assert model.scope.coding[0].code == "patient-privacy"
    prov = res["provision"]
    assert prov["type"] == "permit"
    # period.end is inclusive in FHIR; the chain denies from validUntil on: end = validUntil - 1 s.
    assert prov["period"] == {"start": "2026-09-21T14:13:20Z", "end": "2026-10-21T14:13:19Z"}
    assert prov["actor"][0]["reference"]["identifier"]["value"] == CLINIC
    assert [p["code"] for p in prov["purpose"]] == ["TREAT", "HPAYMT"]
    assert [c["code"] for c in prov["class"]] == ["Observation"]
    assert [c["code"] for c in prov["securityLabel"]] == ["PSY"]
    assert prov["provision"] == [
        {
            "type": "deny",
            "purpose": [{"system": fhir.ACT_REASON, "code": "HPAYMT"}],
            "securityLabel": [{"system": fhir.ACT_CODE, "code": "PSY"}],
        }
    ]


@pytest.mark.parametrize(("now", "status"), [(T0 - 1, "active"), (T0, "active"), (T1 - 1, "active"), (T1, "inactive")])
def test_export_status_follows_period(now, status):
    # Agreed and not yet expired is "active", also before the period starts (the period says
    # when it applies); FHIR's "proposed" means not yet agreed, which no consent on chain is.
    assert fhir.export_consent(PATIENT, CLINIC, state(), now=now)["status"] == status


def test_export_revoked_consent_is_inactive_without_period():
    res = fhir.export_consent(
        PATIENT,
        CLINIC,
        state(categories=0, purposes=0, deny_categories=0, deny_purposes=0, valid_from=0, valid_until=0),
        now=T0,
    )
    assert res["status"] == "inactive"
    assert "period" not in res["provision"]


def test_round_trip_export_import_is_exact():
    s = state()
    res = json.loads(json.dumps(fhir.export_consent(PATIENT, CLINIC, s, document=DOC, now=T0)))
    patient, terms = fhir.import_consent(res)
    assert patient == PATIENT
    assert terms == GrantTerms(
        grantee=CLINIC,
        categories=s.categories,
        purposes=s.purposes,
        valid_until=T1,
        valid_from=T0,
        deny_categories=s.deny_categories,
        deny_purposes=s.deny_purposes,
        document=DOC,
    )


def test_round_trip_period_is_what_the_chain_enforces():
    # The last second the chain allows is the inclusive FHIR end, and import maps it back.
    s = state()
    res = fhir.export_consent(PATIENT, CLINIC, s, now=T0)
    end = dt.datetime.fromisoformat(res["provision"]["period"]["end"].replace("Z", "+00:00"))
    assert s.active_at(int(end.timestamp())) and not s.active_at(int(end.timestamp()) + 1)
    _, terms = fhir.import_consent(res)
    assert (terms.valid_from, terms.valid_until) == (s.valid_from, s.valid_until)


@pytest.mark.parametrize(
    ("start", "end", "valid_from", "valid_until"),
    [
        # A whole second, a whole day, a whole month, a whole year: inclusive at their precision.
        ("2026-09-21T14:13:20Z", "2026-10-21T14:13:19Z", T0, T1),
        ("2026-09-21T16:13:20+02:00", "2026-10-21T16:13:19+02:00", T0, T1),
        ("2026-09-21", "2026-10-21", 1_789_948_800, 1_792_627_200),
        ("2026-09", "2026-12", 1_788_220_800, 1_798_761_600),
        ("2026", "2026", 1_767_225_600, 1_798_761_600),
        # A fraction of a second: the chain's whole-second clock lets in only whole seconds inside.
        ("2026-09-21T14:13:19.250Z", "2026-10-21T14:13:19.750Z", T0, T1),
    ],
)
def test_import_period_precision(start, end, valid_from, valid_until):
    res = fhir.export_consent(PATIENT, CLINIC, state(), now=T0)
    res["provision"]["period"] = {"start": start, "end": end}
    _, terms = fhir.import_consent(res)
    assert (terms.valid_from, terms.valid_until) == (valid_from, valid_until)


def test_import_deny_without_purpose_denies_every_purpose_and_merges():
    res = fhir.export_consent(PATIENT, CLINIC, state(), now=T0)
    res["provision"]["provision"] = [
        {"type": "deny", "class": [{"system": fhir.RESOURCE_TYPES, "code": "Observation"}]},
        {"type": "deny", "securityLabel": [{"system": fhir.ACT_CODE, "code": "PSY"}]},
    ]
    _, terms = fhir.import_consent(res)
    assert terms.deny_categories == mask([Category.OBSERVATION, Category.MENTAL_HEALTH])
    assert terms.deny_purposes == (1 << 7) - 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["provision"].update(type="deny"), "must be a permit"),
        (lambda r: r["provision"].pop("period"), "period end"),
        (lambda r: r["provision"].update(purpose=[{"system": fhir.ACT_REASON, "code": "MARKETING"}]), "MARKETING"),
        (lambda r: r["provision"].update({"class": [{"system": fhir.RESOURCE_TYPES, "code": "Basic"}]}), "Basic"),
        (lambda r: r["provision"].update(actor=[]), "exactly one actor"),
        (lambda r: r.update(patient={"reference": "Patient/123"}), "urn:careledger:address"),
        (lambda r: r.update(dateTime="yesterday"), "not a valid FHIR R4 Consent"),
        (lambda r: r.update(resourceType="Patient"), "not a valid FHIR R4 Consent"),
        (
            lambda r: r["provision"].update(
                provision=[
                    {
                        "type": "deny",
                        "class": [{"system": fhir.RESOURCE_TYPES, "code": "Observation"}],
                        "purpose": [{"system": fhir.ACT_REASON, "code": "TREAT"}],
                    },
                    {
                        "type": "deny",
                        "class": [{"system": fhir.RESOURCE_TYPES, "code": "Condition"}],
                        "purpose": [{"system": fhir.ACT_REASON, "code": "HPAYMT"}],
                    },
                ]
            ),
            "share their purposes",
        ),
    ],
)
def test_import_malformed_consent_refused(mutate, message):
    res = fhir.export_consent(PATIENT, CLINIC, state(), now=T0)
    mutate(res)
    with pytest.raises(InvalidInput, match=message):
        fhir.import_consent(res)


def test_export_of_never_granted_pair_refused():
    with pytest.raises(InvalidInput, match="never consented"):
        fhir.export_consent(PATIENT, CLINIC, ConsentState(0, 0, 0, 0, 0, 0, 0, 0, 0))


def test_round_trip_through_the_chain(registry, patient, clinic, chain):
    """Grant from an imported Consent, read the chain state back, export it again: same terms."""
    now = int(chain.pending_timestamp)
    source = fhir.export_consent(
        patient.address,
        clinic.address,
        state(id=1, valid_from=now + 10, valid_until=now + 86400),
        document=DOC,
        now=now,
    )
    who, terms = fhir.import_consent(source)
    assert who == patient.address
    registry.grant(who, terms.as_tuple(), sender=patient)
    on_chain = ConsentState.from_tuple(tuple(registry.consentOf(patient, clinic)))
    again = fhir.export_consent(patient.address, clinic.address, on_chain, document=DOC, now=now)
    assert fhir.import_consent(again) == (who, terms)
