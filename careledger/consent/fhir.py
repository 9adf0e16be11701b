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
* ``provision.period`` says exactly what the chain enforces: FHIR periods are inclusive at both
  ends, the registry allows ``validFrom <= t < validUntil``, so ``end`` is ``validUntil - 1 s``
  (a dateTime with seconds, UTC) and import maps an end back to the first second after it

Import refuses (:class:`InvalidInput`, exit 2) every Consent it cannot represent exactly rather
than grant more than it says: a status other than ``active``, and any provision element the
registry does not model (``data``, ``dataPeriod``, ``code``, ``action`` other than access,
unknown class / security label / purpose systems, actor roles other than information
recipient, deny provisions with their own actor, period or nested provisions, extensions).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
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
STATUS_ACTIVE, STATUS_INACTIVE = "active", "inactive"

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


# FHIR R4 dateTime: YYYY, YYYY-MM, YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm).
_DATETIME = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?(?P<tz>Z|[+-]\d{2}:\d{2}))?)?)?"
)


def _period_bounds(text: str) -> tuple[datetime, datetime, bool]:
    """(first instant, first instant after, has a fraction of a second) of a FHIR dateTime at its
    own precision: ``2026-10-21`` is the whole day, ``...T14:13:20Z`` the whole second."""
    match = _DATETIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise _refuse(f"period value {text!r} is not a FHIR dateTime (YYYY-MM-DDThh:mm:ssZ)")
    try:
        if match["time"]:
            first = datetime.fromisoformat(f"{text[:10]}T{match['time']}{match['tz'].replace('Z', '+00:00')}")
            return first, first + timedelta(seconds=1), bool(match["frac"] and int(match["frac"][1:]))
        year, month, day = int(match["y"]), int(match["m"] or 1), int(match["d"] or 1)
        first = datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        raise _refuse(f"period value {text!r} is not a real date-time") from None
    if match["d"]:
        after = first + timedelta(days=1)
    elif match["m"]:
        after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    else:
        after = datetime(year + 1, 1, 1, tzinfo=UTC)
    return first, after, False


def _valid_from(start: str) -> int:
    """``validFrom`` of an inclusive FHIR ``period.start``: its first whole second."""
    first, after, fraction = _period_bounds(start)
    # 14:13:20.5 lets nothing in at 14:13:20: the first block time allowed is 14:13:21.
    return int((after if fraction else first).timestamp())


def _valid_until(end: str) -> int:
    """``validUntil`` (exclusive, as the registry checks it) of an inclusive FHIR ``period.end``:
    the first second after it, at its precision (``...T14:13:19Z`` -> 14:13:20; a date -> 00:00
    of the next day)."""
    _first, after, _fraction = _period_bounds(end)
    return int(after.timestamp())


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
    # A consent on chain was agreed (signed by the patient): it is "active" until it expires or is
    # revoked, also before its period starts (the period says when it applies). FHIR's
    # "proposed" (not yet agreed, not to be acted upon) never describes a consent on chain.
    status = STATUS_ACTIVE if state.valid_until > at else STATUS_INACTIVE
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
        # FHIR's period.end is inclusive; the registry denies from validUntil on: the last second
        # allowed is validUntil - 1 (block times are whole seconds).
        provision["period"] = {"start": _iso(state.valid_from), "end": _iso(state.valid_until - 1)}
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


# Provision elements the registry cannot represent, and why (import refuses them).
_WHY_NOT: dict[str, str] = {
    "data": "it limits the consent to particular resource instances, but a grant covers whole data categories",
    "dataPeriod": "it limits the consent to data from a time span, but a grant covers data of every date",
    "code": "it limits the consent to coded content (e.g. LOINC codes), but a grant covers whole categories",
    "extension": "CareLedger does not know what the extension means",
    "modifierExtension": "a modifier extension changes the meaning, and CareLedger does not know it",
}
_PERMIT_KEYS = {"id", "type", "period", "actor", "action", "purpose", "class", "securityLabel", "provision"}
_DENY_KEYS = {"id", "type", "purpose", "class", "securityLabel"}
_DENY_WHY: dict[str, str] = {
    "actor": "a deny rule applies to the grant's one recipient and cannot name its own actors",
    "period": "a deny rule applies for the whole consent period and cannot have its own",
    "action": "the registry grants access only, so a deny rule cannot name actions",
    "provision": "the registry keeps one deny rule: provisions nested inside a deny cannot be represented",
}
CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
# Actor roles the registry models: the grantee receives information.
_RECIPIENT_ROLES = {"IRCP", "PRCP"}


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(f"cannot import this Consent: {message}; nothing was granted")


def _only_known(provision: dict[str, Any], path: str, allowed: set[str], why: dict[str, str]) -> None:
    for key in provision:
        if key in allowed:
            continue
        reason = why.get(key) or _WHY_NOT.get(key) or "the registry does not model it"
        raise _refuse(f"{path}.{key} cannot be represented on CareLedger ({reason})")


def _codings(items: list[dict[str, Any]], path: str, system: str) -> list[str]:
    """The codes of ``class``/``securityLabel``/``purpose`` Codings, all in ``system``."""
    codes = []
    for coding in items:
        if coding.get("system") != system:
            raise _refuse(f"{path} {coding.get('system')!r}|{coding.get('code')!r} is not in {system}")
        codes.append(str(coding.get("code")))
    return codes


def _check_actions(provision: dict[str, Any]) -> None:
    for concept in provision.get("action") or []:
        codings = concept.get("coding") or []
        if not codings or any(c.get("system") != CONSENT_ACTION or c.get("code") != "access" for c in codings):
            shown = ", ".join(f"{c.get('code')}" for c in codings) or concept.get("text") or "?"
            raise _refuse(f"provision.action {shown!r}: the registry grants access only (consentaction access)")


def _check_actor_role(actor: dict[str, Any]) -> None:
    codings = (actor.get("role") or {}).get("coding") or []
    if not any(c.get("system") == PARTICIPATION_TYPE and c.get("code") in _RECIPIENT_ROLES for c in codings):
        shown = ", ".join(str(c.get("code")) for c in codings) or "none"
        raise _refuse(
            f"provision.actor role {shown!r} is not modelled: the grantee is an information recipient "
            f"({PARTICIPATION_TYPE} IRCP)"
        )


def _category_mask(provision: dict[str, Any], default: int) -> int:
    mask = 0
    _codings(provision.get("class") or [], "provision.class", RESOURCE_TYPES)
    _codings(provision.get("securityLabel") or [], "provision.securityLabel", ACT_CODE)
    for coding in provision.get("class") or []:
        code = coding.get("code")
        cat = next((c for c, name in _CLASS.items() if name == code), _CLASS_ALIASES.get(str(code)))
        if cat is None:
            raise _refuse(f"provision class {code!r} has no CareLedger category")
        mask |= 1 << int(cat)
    for coding in provision.get("securityLabel") or []:
        code = coding.get("code")
        cat = next((c for c, name in _LABEL.items() if name == code), None)
        if cat is None:
            raise _refuse(f"security label {code!r} has no CareLedger category")
        mask |= 1 << int(cat)
    return mask or default


def _purpose_mask(provision: dict[str, Any], default: int) -> int:
    mask = 0
    _codings(provision.get("purpose") or [], "provision.purpose", ACT_REASON)
    for coding in provision.get("purpose") or []:
        code = str(coding.get("code", ""))
        if code not in Purpose.__members__:
            raise _refuse(f"purpose {code!r} is not one of {', '.join(Purpose.__members__)}")
        mask |= 1 << int(Purpose[code])
    return mask or default


def _address(ref: dict[str, Any] | None, what: str) -> str:
    ident = (ref or {}).get("identifier") or {}
    if ident.get("system") != ADDRESS_SYSTEM or not ident.get("value"):
        raise _refuse(f"{what} must be a reference with an identifier in the {ADDRESS_SYSTEM} system")
    return str(ident["value"])


def import_consent(resource: dict[str, Any]) -> tuple[str, GrantTerms]:
    """(patient address, grant terms) of a FHIR R4 ``Consent`` with a permit provision.

    Deny provisions nested in the permit become the consent's deny provision; several are
    merged when they share their purposes (or their categories), since the contract keeps one
    categories x purposes rectangle. Only an ``active`` Consent is imported, and every element
    the registry cannot represent is refused (module docstring): the grant is never wider
    than the Consent."""
    try:
        validate(resource)
    except Exception as exc:  # noqa: BLE001 - pydantic's ValidationError: report it as bad input
        raise _refuse(f"not a valid FHIR R4 Consent: {str(exc).splitlines()[0]}") from None
    status = resource.get("status")
    if status != STATUS_ACTIVE:
        raise _refuse(f"its status is {status!r}; only an 'active' Consent is an agreed grant")
    if resource.get("modifierExtension"):
        raise _refuse(f"Consent.modifierExtension ({_WHY_NOT['modifierExtension']})")
    scopes = [(c.get("system"), c.get("code")) for c in (resource.get("scope") or {}).get("coding") or []]
    if (SCOPE, "patient-privacy") not in scopes:
        shown = ", ".join(str(code) for _, code in scopes) or "none"
        raise _refuse(f"its scope is {shown!r}, not patient-privacy (a research enrolment is not a grant)")
    rules = [(c.get("system"), c.get("code")) for c in (resource.get("policyRule") or {}).get("coding") or []]
    if rules and (ACT_CODE, "OPTIN") not in rules:
        shown = ", ".join(str(code) for _, code in rules)
        raise _refuse(f"its policyRule is {shown!r}, not OPTIN (an opt-in permit is what a grant is)")
    patient = _address(resource.get("patient"), "Consent.patient")
    prov = resource.get("provision") or {}
    if prov.get("type", "permit") != "permit":
        raise _refuse("the top-level provision must be a permit (a bare deny grants nothing)")
    _only_known(prov, "provision", _PERMIT_KEYS, {})
    _check_actions(prov)
    actors = prov.get("actor") or []
    if len(actors) != 1:
        raise _refuse(f"the permit needs exactly one actor (the grantee), found {len(actors)}")
    _check_actor_role(actors[0])
    grantee = _address(actors[0].get("reference"), "provision.actor.reference")
    period = prov.get("period") or {}
    if not period.get("end"):
        raise _refuse("the permit needs a period end: consents on CareLedger always expire")
    categories = _category_mask(prov, 0)
    if categories == 0:
        raise _refuse("the permit names no data class (provision.class or securityLabel)")
    purposes = _purpose_mask(prov, 0)
    if purposes == 0:
        raise _refuse("the permit names no purpose of use")
    deny_c = deny_p = 0
    for sub in prov.get("provision") or []:
        if sub.get("type") != "deny":
            raise _refuse("nested provisions must be deny provisions")
        _only_known(sub, "provision.provision", _DENY_KEYS, _DENY_WHY)
        c, p = _category_mask(sub, ALL_CATEGORIES), _purpose_mask(sub, ALL_PURPOSES)
        if deny_c == 0 or p == deny_p:
            deny_c, deny_p = deny_c | c, p if deny_c == 0 else deny_p
        elif c == deny_c:
            deny_p |= p
        else:
            raise _refuse("deny provisions must share their purposes or their classes to fit one rule")
    document = b"\0" * 32
    for ident in resource.get("identifier") or []:
        if ident.get("system") == DOCUMENT_SYSTEM:
            document = bytes.fromhex(str(ident["value"]).removeprefix("0x"))
    terms = GrantTerms(
        grantee=grantee,
        categories=categories,
        purposes=purposes,
        valid_until=_valid_until(period["end"]),
        valid_from=_valid_from(period["start"]) if period.get("start") else 0,
        deny_categories=deny_c,
        deny_purposes=deny_p,
        document=document,
    )
    terms.check()
    return patient, terms
