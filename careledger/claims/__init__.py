"""Insurance claim settlement: plans, enrolment, pooled funds, rule-table adjudication,
review, payouts and FHIR ``ClaimResponse`` export (``ClaimSettlement`` contract)."""

from careledger.claims.client import ClaimInfo, ClaimRequest, ClaimsClient, PoolState, SubmitResult, fhir_commitment
from careledger.claims.types import (
    Adjudication,
    Carc,
    ClaimStatus,
    CoverageRule,
    Decision,
    Line,
    LineAdjudication,
    PlanTerms,
    adjudicate,
    claim_id,
    service_code,
)

__all__ = [
    "Adjudication",
    "Carc",
    "ClaimInfo",
    "ClaimRequest",
    "ClaimStatus",
    "ClaimsClient",
    "CoverageRule",
    "Decision",
    "Line",
    "LineAdjudication",
    "PlanTerms",
    "PoolState",
    "SubmitResult",
    "adjudicate",
    "claim_id",
    "fhir_commitment",
    "service_code",
]
