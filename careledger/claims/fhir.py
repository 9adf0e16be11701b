"""Export of a claim's decision as an HL7 FHIR R4 ``ClaimResponse``.

The resource carries, per line, the adjudication categories of the FHIR adjudication code
system (submitted, eligible, deductible, copay, benefit; coinsurance under a CareLedger code,
since the base system has none), the X12 CARC behind each adjustment, totals, the outcome
(queued / complete / partial) and the payment when made. People appear only as the
pseudonymous addresses the chain knows. ``fhir.resources`` 8 ships R4B models (4.3.0), whose
``ClaimResponse`` is the R4 one unchanged; :func:`validate` parses the output with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from careledger.claims.client import ClaimInfo
from careledger.claims.types import ClaimStatus, LineAdjudication, code_text, service_code
from careledger.errors import InvalidInput

__all__ = ["ADJUDICATION_SYSTEM", "CARC_SYSTEM", "claim_resource", "claim_response", "validate", "validate_claim"]

ADJUDICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/adjudication"
CARELEDGER_ADJUDICATION = "urn:careledger:adjudication"
CARC_SYSTEM = "https://x12.org/codes/claim-adjustment-reason-codes"
MEMBER_SYSTEM = "urn:careledger:member"
PARTICIPANT_SYSTEM = "urn:careledger:participant"
CLAIM_SYSTEM = "urn:careledger:claim"
CODE_SYSTEMS = {
    "CPT": "http://www.ama-assn.org/go/cpt",
    "HCPCS": "urn:oid:2.16.840.1.113883.6.285",
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "LOINC": "http://loinc.org",
    "GTIN": "urn:oid:1.3.160",
}

_OUTCOME = {
    ClaimStatus.SUBMITTED: "queued",
    ClaimStatus.PENDING_REVIEW: "queued",
    ClaimStatus.APPROVED: "complete",
    ClaimStatus.PARTIALLY_APPROVED: "partial",
    ClaimStatus.DENIED: "complete",
    ClaimStatus.WITHDRAWN: "complete",
    ClaimStatus.PAID: "complete",
}
_DISPOSITION = {
    ClaimStatus.SUBMITTED: "Accepted; queued until the plan's pool can cover it.",
    ClaimStatus.PENDING_REVIEW: "Accepted; waiting for an adjuster.",
    ClaimStatus.APPROVED: "Approved by the plan's rules.",
    ClaimStatus.PARTIALLY_APPROVED: "Partially approved.",
    ClaimStatus.DENIED: "Denied.",
    ClaimStatus.WITHDRAWN: "Withdrawn by the submitter before a decision.",
    ClaimStatus.PAID: "Approved and paid.",
}


def _money(units: int, decimals: int, currency: str) -> dict[str, Any]:
    return {"value": Decimal(units).scaleb(-decimals), "currency": currency}


def _category(code: str, system: str = ADJUDICATION_SYSTEM) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _reason(carc: int) -> dict[str, Any]:
    return {"coding": [{"system": CARC_SYSTEM, "code": str(carc)}]}


def _line_adjudication(billed: int, la: LineAdjudication | None, decimals: int, currency: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"category": _category("submitted"), "amount": _money(billed, decimals, currency)}]
    if la is None:
        return out
    eligible: dict[str, Any] = {"category": _category("eligible"), "amount": _money(la.eligible, decimals, currency)}
    if la.reason:
        eligible["reason"] = _reason(la.reason)
    out.append(eligible)
    out.append(
        {"category": _category("deductible"), "amount": _money(la.deductible, decimals, currency), "reason": _reason(1)}
    )
    out.append({"category": _category("copay"), "amount": _money(la.copay, decimals, currency), "reason": _reason(3)})
    out.append(
        {
            "category": _category("coinsurance", CARELEDGER_ADJUDICATION),
            "amount": _money(la.coinsurance, decimals, currency),
            "reason": _reason(2),
        }
    )
    out.append({"category": _category("benefit"), "amount": _money(la.benefit, decimals, currency)})
    return out


def claim_response(
    info: ClaimInfo,
    *,
    insurer: str,
    decimals: int = 6,
    currency: str = "USD",
    created: datetime | None = None,
) -> dict[str, Any]:
    """The ``ClaimResponse`` of ``info`` as a JSON-ready dict (amounts as Decimal)."""
    cid = "0x" + info.claim_id.hex()
    decided = info.status not in (ClaimStatus.SUBMITTED, ClaimStatus.PENDING_REVIEW, ClaimStatus.WITHDRAWN)
    pharmacy = any(ln.unit_ids for ln in info.lines)
    items = []
    for i, line in enumerate(info.lines):
        la = info.line_adjudications[i] if decided and i < len(info.line_adjudications) else None
        items.append({"itemSequence": i + 1, "adjudication": _line_adjudication(line.billed, la, decimals, currency)})
    resource: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": cid[2:66],
        "identifier": [{"system": CLAIM_SYSTEM, "value": cid}],
        "status": "cancelled" if info.status == ClaimStatus.WITHDRAWN else "active",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "pharmacy" if pharmacy else "professional",
                }
            ]
        },
        "use": "claim",
        "patient": {"identifier": {"system": MEMBER_SYSTEM, "value": info.member}},
        "created": (created or datetime.now(UTC)).isoformat(timespec="seconds"),
        "insurer": {"identifier": {"system": PARTICIPANT_SYSTEM, "value": insurer}},
        "requestor": {"identifier": {"system": PARTICIPANT_SYSTEM, "value": info.payee}},
        "request": {
            "identifier": {"system": "urn:careledger:fhir-claim-commitment", "value": "0x" + info.fhir_claim.hex()}
        },
        "outcome": _OUTCOME.get(
            info.decision if info.status == ClaimStatus.PAID and info.decision else info.status, "error"
        ),
        "disposition": _DISPOSITION.get(info.status, info.status.name),
        "item": items,
    }
    if decided:
        billed = sum(ln.billed for ln in info.lines)
        resource["total"] = [
            {"category": _category("submitted"), "amount": _money(billed, decimals, currency)},
            {"category": _category("deductible"), "amount": _money(info.deductible, decimals, currency)},
            {"category": _category("benefit"), "amount": _money(info.amount, decimals, currency)},
        ]
        if info.reason:
            resource["error" if info.status == ClaimStatus.DENIED else "processNote"] = (
                [{"code": _reason(info.reason)}]
                if info.status == ClaimStatus.DENIED
                else [{"number": 1, "type": "display", "text": f"X12 CARC {info.reason}"}]
            )
    if info.paid is not None and info.status == ClaimStatus.PAID:
        resource["payment"] = {
            "type": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/ex-paymenttype", "code": "complete"}]
            },
            "amount": _money(info.paid, decimals, currency),
        }
    return resource


def claim_resource(
    info: ClaimInfo,
    codes: Mapping[bytes, str],
    service_day: int,
    *,
    insurer: str,
    decimals: int = 6,
    currency: str = "USD",
) -> dict[str, Any]:
    """The FHIR ``Claim`` behind ``info``, rebuilt by a holder of the plan's code key: each
    line's readable code from ``codes`` (digest -> ``SYSTEM:CODE``, e.g.
    :meth:`careledger.claims.keys.PlanContext.codes_of`) and the service day the chain never
    saw (days since 1970-01-01, from the provider's record). A digest the table lacks is refused."""
    items = []
    for i, line in enumerate(info.lines):
        text = codes.get(line.code)
        if text is None:
            raise InvalidInput(f"line {i + 1}: code digest 0x{line.code.hex()} is not one of the given codes")
        items.append(
            {
                "sequence": i + 1,
                "productOrService": {"coding": [describe_code(service_code(text))]},
                "servicedDate": service_date(service_day),
                "quantity": {"value": line.units},
                "net": _money(line.billed, decimals, currency),
            }
        )
    pharmacy = any(ln.unit_ids for ln in info.lines)
    return {
        "resourceType": "Claim",
        "identifier": [{"system": CLAIM_SYSTEM, "value": "0x" + info.claim_id.hex()}],
        "status": "active",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "pharmacy" if pharmacy else "professional",
                }
            ]
        },
        "use": "claim",
        "patient": {"identifier": {"system": MEMBER_SYSTEM, "value": info.member}},
        "created": service_date(service_day),
        "insurer": {"identifier": {"system": PARTICIPANT_SYSTEM, "value": insurer}},
        "provider": {"identifier": {"system": PARTICIPANT_SYSTEM, "value": info.payee}},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": f"plan {info.plan_id}"}}],
        "item": items,
    }


def validate_claim(resource: dict[str, Any]) -> Any:
    """Parse a ``Claim`` with the FHIR models; raises ``pydantic.ValidationError`` if invalid."""
    from careledger._extras import needs_extra

    with needs_extra("fhir", "FHIR Claim export"):
        from fhir.resources.R4B.claim import Claim

    return Claim.model_validate(resource)


def validate(resource: dict[str, Any]) -> Any:
    """Parse ``resource`` with the FHIR models; raises ``pydantic.ValidationError`` if invalid."""
    from careledger._extras import needs_extra

    with needs_extra("fhir", "FHIR ClaimResponse export"):
        from fhir.resources.R4B.claimresponse import ClaimResponse

    return ClaimResponse.model_validate(resource)


def service_date(day: int) -> str:
    """A service day (days since 1970-01-01) as an ISO date."""
    return date.fromordinal(date(1970, 1, 1).toordinal() + day).isoformat()


def describe_code(code: bytes) -> dict[str, str]:
    """A compact code id as a FHIR Coding (system + code)."""
    text = code_text(code)
    system, _, value = text.partition(":")
    return {"system": CODE_SYSTEMS.get(system, "urn:careledger:code"), "code": value or text}
