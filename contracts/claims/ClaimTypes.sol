// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Id of a claim: keccak256 of its fingerprint and resubmission number (see
///         {IClaimSettlement-claimIdOf}). Clients compute it before sending, so a batch of
///         payouts can be signed before the claims it pays are mined.
type ClaimId is bytes32;

/// @notice Id of an insurer's plan (1, 2, ... in creation order; 0 is "no plan").
type PlanId is uint32;

/// @notice Where a claim is. Values only move forward, except the one appeal that takes a
///         {Denied} claim back to {PendingReview}. Mirrored by `careledger.claims.ClaimStatus`.
enum ClaimStatus {
    None, //              never submitted
    Submitted, //         accepted, queued: the pool could not cover it when it arrived
    PendingReview, //     waits for an adjuster (above the auto-approve limit, pre-auth, appeal)
    Approved, //          payable as the rules computed it
    PartiallyApproved, // payable, less than the rules computed (adjuster) or some lines denied
    Denied, //            nothing payable; may be appealed once within the plan's window
    Withdrawn, //         withdrawn before any decision by its payee (or by the insurer that submitted it)
    Paid, //              paid out from the pool (final)
    Lapsed //             payee could not receive for PAYOUT_TIMEOUT: amount back to the pool (final)
}

/// @notice An adjuster's decision on a claim in {ClaimStatus.PendingReview}.
enum Decision {
    Approve, //          pay what the rules compute
    PartiallyApprove, // pay less than the rules compute (a reason code is required)
    Deny //              pay nothing (a reason code is required)
}

/// @notice The rule of a plan for one service code (keyed by the code's plan-keyed digest).
/// @param covered        false (or never set) = not covered: the line pays nothing (CARC 96).
/// @param preAuth        the service needs prior authorisation: the claim goes to review.
/// @param requiresUnit   a drug code: the line cites one dispensed unit per package billed, of
///                       the product the rule's GTIN binding names.
/// @param oncePerPeriod  at most one live claim per member and plan period bills this code
///                       (a duplicate by shifting a day is refused; a withdrawn claim frees it).
/// @param coinsuranceBps the member's share after deductible and copay, in basis points.
/// @param copay          fixed member amount per line (token units), after the deductible.
/// @param maxPerUnit     fee schedule: most the plan recognises per unit (0 = no cap) (CARC 45).
struct CoverageRule {
    bool covered;
    bool preAuth;
    bool requiresUnit;
    bool oncePerPeriod;
    uint16 coinsuranceBps;
    uint96 copay;
    uint96 maxPerUnit;
}

/// @notice A plan's terms, fixed when it is created. Time on chain is coarse: a plan period
///         (a plan year) is the finest unit a claim or an enrolment names.
/// @param deductible        per member and plan period, paid by the member first.
/// @param annualMax         most the plan pays per member and plan period.
/// @param autoApproveLimit  claims billing at most this much settle with no person.
/// @param appealWindow      seconds after a denial during which it may be appealed (once).
/// @param periodStart       unix time plan period 0 starts.
/// @param periodLength      seconds per plan period: 365 or 366 days (a plan year).
/// @param filingWindow      seconds after a period ends during which its claims may still be
///                          filed (timely filing), at most 366 days.
/// @param ruleNotice        least seconds between scheduling a rule table and it taking effect.
struct PlanTerms {
    uint96 deductible;
    uint96 annualMax;
    uint96 autoApproveLimit;
    uint32 appealWindow;
    uint40 periodStart;
    uint32 periodLength;
    uint32 filingWindow;
    uint32 ruleNotice;
}

/// @notice One line of a claim.
/// @param code     plan-keyed digest of the service code (never the code, never its plain hash).
/// @param units    number of units (>= 1); for a drug code, the packages billed.
/// @param billed   amount billed for the whole line, in token units (>= 1).
/// @param gtinSalt drug lines: the salt that opens the rule's GTIN binding for this product
///                 (keccak256(abi.encode(gtin, gtinSalt)) == binding); 0 otherwise.
/// @param unitIds  drug lines: the provenance registry's ids of the units dispensed, one per
///                 package billed; empty otherwise.
struct Line {
    bytes32 code;
    uint32 units;
    uint96 billed;
    bytes32 gtinSalt;
    bytes32[] unitIds;
}

/// @notice A claim as submitted. No date: the service date lives in the committed FHIR Claim.
/// @param member        the member's plan-scoped pseudonym (the address on the plan's card).
/// @param payee         who is paid: the submitting provider or pharmacy; when the insurer
///                      submits on the member's behalf, a provider/pharmacy or the member.
/// @param servicePeriod the plan period (plan year) of the service.
/// @param episode       plan-keyed digest of the encounter (member, payee, service date),
///                      computed off chain: one claim per encounter (see claimIdOf).
/// @param resubmission  0 for a first submission; n+1 to resubmit after claim n was withdrawn.
/// @param fhirClaim     salted keccak commitment to the off-chain FHIR `Claim`.
/// @param lines         1..MAX_LINES lines, codes in strictly increasing order.
struct ClaimInput {
    address member;
    address payee;
    uint32 servicePeriod;
    bytes32 episode;
    uint16 resubmission;
    bytes32 fhirClaim;
    Line[] lines;
}

/// @notice What the rules compute for one line. Every amount is in token units and
///         `eligible = deductible + copay + coinsurance + benefit + overMax`, `eligible <= billed`.
/// @param reason CARC of the main adjustment: 96 not covered, 119 annual maximum reached,
///               45 over the fee schedule, 0 none.
struct LineAdjudication {
    uint96 eligible;
    uint96 deductible;
    uint96 copay;
    uint96 coinsurance;
    uint96 benefit;
    uint16 reason;
}

/// @notice What the rules compute for a whole claim, from the member's accumulators now.
/// @param billed      sum of the lines' billed amounts.
/// @param deductible  sum applied to the deductible (never above what remains of it).
/// @param benefit     sum the plan pays (never above billed, nor above what remains of the
///                    annual maximum).
/// @param needsReview above the auto-approve limit, or a covered line needs prior authorisation.
/// @param preAuth     a covered line needs prior authorisation.
/// @param anyCovered  at least one line is covered; @param anyDenied at least one is not.
struct Adjudication {
    uint256 billed;
    uint256 deductible;
    uint256 benefit;
    bool needsReview;
    bool preAuth;
    bool anyCovered;
    bool anyDenied;
    LineAdjudication[] lines;
}

/// @notice A claim's stored state (the lines and amounts per line live in the events). Once a
///         claim is {ClaimStatus.Paid}, `payee` and `amount` are cleared (they are in the
///         {IClaimSettlement-ClaimPaid} event); the status stays.
/// @param period     the plan period of the service (its accumulators are the member's there).
/// @param version    the rule table the claim is adjudicated under (in force at submission);
///                   stored for claims a later decision needs it for (queued, in review,
///                   denied), 0 for claims the rules settled at once (it is in ClaimSubmitted).
/// @param byInsurer  the plan's insurer submitted the claim (on the member's behalf): only
///                   then may the insurer withdraw it.
/// @param deferredAt when a payout to the payee first failed (0: never); after
///                   {IClaimSettlement-PAYOUT_TIMEOUT} without a redirect the insurer may release it.
struct Claim {
    address member;
    ClaimStatus status;
    bool appealed;
    PlanId planId;
    uint32 period;
    address payee;
    uint96 amount;
    bytes32 linesHash;
    uint40 deniedAt;
    bool byInsurer;
    uint40 deferredAt;
    uint32 version;
}

/// @notice An enrolment: a member (plan pseudonym) in a plan for whole plan periods, agreed by
///         the member's signature.
struct Enrolment {
    PlanId planId;
    uint32 fromPeriod;
    uint32 toPeriod;
    bool voided;
    bytes32 memberRecord;
}

/// @notice A member's cover in one plan period: the enrolment that gives it and the period's
///         accumulators (one slot: one read per claim, never a zero-to-nonzero write).
struct Cover {
    PlanId planId;
    uint32 enrolment;
    uint80 deductibleMet;
    uint80 benefitPaid;
    bool voided;
}

/// @notice The pool of one plan. `funded = paid + owed + free` always holds, where
///         `funded = deposited - withdrawn` and `owed` is what approved, unpaid claims are due.
struct PoolView {
    uint256 deposited;
    uint256 withdrawn;
    uint256 funded;
    uint256 paid;
    uint256 owed;
    uint256 free;
}

/// @title Carc
/// @notice X12 835 Claim Adjustment Reason Codes used by the adjudication rules. Adjusters may
///         give any other CARC (1..999) when they partially approve or deny.
library Carc {
    uint16 internal constant DEDUCTIBLE = 1;
    uint16 internal constant COINSURANCE = 2;
    uint16 internal constant COPAY = 3;
    uint16 internal constant DUPLICATE = 18;
    uint16 internal constant FEE_SCHEDULE = 45;
    uint16 internal constant NOT_MEDICALLY_NECESSARY = 50;
    uint16 internal constant NOT_COVERED = 96;
    uint16 internal constant BENEFIT_MAXIMUM = 119;
    uint16 internal constant AUTHORIZATION_ABSENT = 197;
    uint16 internal constant MAX = 999;
}
