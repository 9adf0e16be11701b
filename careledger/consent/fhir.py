"""FHIR R4 ``Consent`` export and import, validated with ``fhir.resources`` (its R4B models:
the package's default models are R5, whose Consent differs).

Mapping (docs/consent.md has the table):

* ``scope``: ``patient-privacy`` (or ``research`` for a study consent); ``category``: LOINC 59284-0
* ``patient`` / ``provision.actor.reference``: identifiers in the ``urn:careledger:address`` system
* ``provision.type = permit`` with ``period``, ``purpose`` (v3 ActReason) and ``class`` (FHIR
  resource types); sensitive categories (mental health, genomic, substance use) as
  ``provision.securityLabel`` (v3 ActCode PSY, GDIS, ETH)
* the deny provision as a nested ``provision`` with ``type = deny``
* consent id and document commitment as ``identifier`` entries
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from careledger.codes import Category, Purpose
from careledger.consent.terms import (
    ALL_CATEGORIES,
    ALL_PURPOSES,
    ConsentState,
    GrantTerms,
    categories_of,
    purposes_of,
)
from careledger.errors import InvalidInput

__all__ = ["ADDRESS_SYSTEM", "export_consent", "import_consent", "validate"]

ADDRESS_SYSTEM = "urn:careledger:address"
CONSENT_ID_SYSTEM = "urn:careledger:consent-id"
DOCUMENT_SYSTEM = "urn:careledger:document-commitment"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
STATUS_ACTIVE, STATUS_INACTIVE, STATUS_PROPOSED = "active", "inactive", "proposed"

# Category -> (system, code) used in provision.class or provision.securityLabel.
_CLASS: dict[Category, str] = {
    Category.PATIENT: "Patient",
    Category.ENCOUNTER: "Encounter",
    Category.CONDITION: "Condition",
    Category.OBSERVATION: "Observation",
    Category.MEDICATION: "MedicationRequest",
    Category.IMMUNIZATION: "Immunization",
    Category.ALLERGY: "AllergyIntolerance",
    Category.PROCEDURE: "Procedure",
    Category.DIAGNOSTIC_REPORT: "DiagnosticReport",
    Category.DOCUMENT: "DocumentReference",
    Category.IMAGING: "ImagingStudy",
    Category.FINANCIAL: "Claim",
}
_LABEL: dict[Category, str] = {Category.MENTAL_HEALTH: "PSY", Category.GENOMIC: "GDIS", Category.SUBSTANCE_USE: "ETH"}
# Extra resource types accepted on import for a category.
_CLASS_ALIASES: dict[str, Category] = {
    "MedicationStatement": Category.MEDICATION,
    "Coverage": Category.FINANCIAL,
    "ExplanationOfBenefit": Category.FINANCIAL,
    "MolecularSequence": Category.GENOMIC,
}


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(text: str) -> int:
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise InvalidInput(f"period value {text!r} is not an ISO date-time") from None


def _addr_ref(address: str) -> dict[str, Any]:
    return {"identifier": {"system": ADDRESS_SYSTEM, "value": address}}


def _classes(mask: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    classes = [{"system": RESOURCE_TYPES, "code": _CLASS[c]} for c in categories_of(mask) if c in _CLASS]
    labels = [{"system": ACT_CODE, "code": _LABEL[c]} for c in categories_of(mask) if c in _LABEL]
    return classes, labels


def _purposes(mask: int) -> list[dict[str, str]]:
    return [{"system": ACT_REASON, "code": p.name} for p in purposes_of(mask)]


def validate(resource: dict[str, Any]) -> Any:
    """Parse ``resource`` with the fhir.resources R4B ``Consent`` model (raises on invalid)."""
    from careledger._extras import needs_extra

    with needs_extra("fhir", "FHIR Consent export and import"):
        from fhir.resources.R4B.consent import Consent

    return Consent.model_validate(resource)


def export_consent(
    patient: str, grantee: str, state: ConsentState, *, document: bytes | None = None, now: int | None = None
) -> dict[str, Any]:
    """The FHIR R4 ``Consent`` of one on-chain consent, validated before it is returned."""
    if not state.exists:
        raise InvalidInput(f"{patient} never consented to {grantee}")
    at = now if now is not None else int(datetime.now(tz=UTC).timestamp())
    status = (
        STATUS_ACTIVE
        if state.active_at(at)
        else STATUS_PROPOSED
        if state.valid_until > at and state.valid_from > at
        else STATUS_INACTIVE
    )
    classes, labels = _classes(state.categories)
    provision: dict[str, Any] = {
        "type": "permit",
        "actor": [
            {
                "role": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "code": "IRCP",
                            "display": "information recipient",
                        }
                    ]
                },
                "reference": _addr_ref(grantee),
            }
        ],
        "purpose": _purposes(state.purposes),
    }
    if state.valid_until:
        provision["period"] = {"start": _iso(state.valid_from), "end": _iso(state.valid_until)}
    if classes:
        provision["class"] = classes
    if labels:
        provision["securityLabel"] = labels
    if state.deny_categories:
        dclasses, dlabels = _classes(state.deny_categories)
        deny: dict[str, Any] = {"type": "deny", "purpose": _purposes(state.deny_purposes)}
        if dclasses:
            deny["class"] = dclasses
        if dlabels:
            deny["securityLabel"] = dlabels
        provision["provision"] = [deny]
    identifiers = [{"system": CONSENT_ID_SYSTEM, "value": f"{state.id:064x}"}]
    if document is not None and any(document):
        identifiers.append({"system": DOCUMENT_SYSTEM, "value": "0x" + document.hex()})
    research = state.form_version != 0
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": f"{state.id:064x}",
        "identifier": identifiers,
        "status": status,
        "scope": {"coding": [{"system": SCOPE, "code": "research" if research else "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": _addr_ref(patient),
        "dateTime": _iso(state.valid_from) if state.valid_from else _iso(at),
        "policyRule": {"coding": [{"system": ACT_CODE, "code": "OPTIN"}]},
        "provision": provision,
    }
    validate(resource)
    return resource


def _category_mask(provision: dict[str, Any], default: int) -> int:
    mask = 0
    for coding in provision.get("class") or []:
        code = coding.get("code")
        cat = next((c for c, name in _CLASS.items() if name == code), _CLASS_ALIASES.get(str(code)))
        if cat is None:
            raise InvalidInput(f"provision class {code!r} has no CareLedger category")
        mask |= 1 << int(cat)
    for coding in provision.get("securityLabel") or []:
        code = coding.get("code")
        cat = next((c for c, name in _LABEL.items() if name == code), None)
        if cat is None:
            raise InvalidInput(f"security label {code!r} has no CareLedger category")
        mask |= 1 << int(cat)
    return mask or default


def _purpose_mask(provision: dict[str, Any], default: int) -> int:
    mask = 0
    for coding in provision.get("purpose") or []:
        code = str(coding.get("code", ""))
        if code not in Purpose.__members__:
            raise InvalidInput(f"purpose {code!r} is not one of {', '.join(Purpose.__members__)}")
        mask |= 1 << int(Purpose[code])
    return mask or default


def _address(ref: dict[str, Any] | None, what: str) -> str:
    ident = (ref or {}).get("identifier") or {}
    if ident.get("system") != ADDRESS_SYSTEM or not ident.get("value"):
        raise InvalidInput(f"{what} must be a reference with an identifier in the {ADDRESS_SYSTEM} system")
    return str(ident["value"])


def import_consent(resource: dict[str, Any]) -> tuple[str, GrantTerms]:
    """(patient address, grant terms) of a FHIR R4 ``Consent`` with a permit provision.

    Deny provisions nested in the permit become the consent's deny provision; several are
    merged when they share their purposes (or their categories), since the contract keeps one
    categories x purposes rectangle."""
    try:
        validate(resource)
    except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError: report it as bad input
        raise InvalidInput(f"not a valid FHIR R4 Consent: {str(exc).splitlines()[0]}") from None
    patient = _address(resource.get("patient"), "Consent.patient")
    prov = resource.get("provision") or {}
    if prov.get("type", "permit") != "permit":
        raise InvalidInput("the top-level provision must be a permit (a bare deny grants nothing)")
    actors = prov.get("actor") or []
    if len(actors) != 1:
        raise InvalidInput(f"the permit needs exactly one actor (the grantee), found {len(actors)}")
    grantee = _address(actors[0].get("reference"), "provision.actor.reference")
    period = prov.get("period") or {}
    if not period.get("end"):
        raise InvalidInput("the permit needs a period end: consents on CareLedger always expire")
    categories = _category_mask(prov, 0)
    if categories == 0:
        raise InvalidInput("the permit names no data class (provision.class or securityLabel)")
    purposes = _purpose_mask(prov, 0)
    if purposes == 0:
        raise InvalidInput("the permit names no purpose of use")
    deny_c = deny_p = 0
    for sub in prov.get("provision") or []:
        if sub.get("type") != "deny":
            raise InvalidInput("nested provisions must be deny provisions")
        c, p = _category_mask(sub, ALL_CATEGORIES), _purpose_mask(sub, ALL_PURPOSES)
        if deny_c == 0 or p == deny_p:
            deny_c, deny_p = deny_c | c, p if deny_c == 0 else deny_p
        elif c == deny_c:
            deny_p |= p
        else:
            raise InvalidInput("deny provisions must share their purposes or their classes to fit one rule")
    document = b"\0" * 32
    for ident in resource.get("identifier") or []:
        if ident.get("system") == DOCUMENT_SYSTEM:
            document = bytes.fromhex(str(ident["value"]).removeprefix("0x"))
    terms = GrantTerms(
        grantee=grantee,
        categories=categories,
        purposes=purposes,
        valid_until=_ts(period["end"]),
        valid_from=_ts(period["start"]) if period.get("start") else 0,
        deny_categories=deny_c,
        deny_purposes=deny_p,
        document=document,
    )
    terms.check()
    return patient, terms
