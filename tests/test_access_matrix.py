"""Access-control matrix: every state-changing function of every suite contract, called by every
role, compared with the committed expectation table ``docs/access-matrix.md``.

The rows are generated from the ABIs in ``.build/__local__.json``: every non-view, non-pure
function of every contract the deploy plug-ins put on chain (``careledger/<domain>/deploy.py``)
and of every other concrete contract outside ``contracts/test/``. A function without a row in the
table fails the test, and so does a row for a function that no longer exists.

Each cell is one ``eth_call`` of the function from that role's account against a world prepared
so that the authorised caller really gets past every access check (it holds custody, is the
receiver of a shipment in transit, is the grantee of a consent, the sponsor of a study, the
relayer of a valid patient signature...). A call changes nothing, so no cell depends on another
and none needs a snapshot: the same code runs as in a transaction, only nothing is mined.

A cell is ``deny`` when the call reverts with one of the access errors listed in
:data:`ACCESS_ERRORS`, and ``allow`` when it succeeds (or reverts with any other, domain, error:
it got past the access checks). The argument table below is built so that every ``allow`` cell
is an outright success; a domain error in an ``allow`` cell fails the test too, because it means
the arguments stopped the call before it could show its access rule.
"""

from __future__ import annotations

import ast
import json
import os
import re
from ast import literal_eval
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import chainclock
import gov_matrix
import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_tester.exceptions import TransactionFailed
from eth_utils import keccak
from eth_utils.abi import collapse_if_tuple, function_abi_to_4byte_selector
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from careledger.accounts import dev_account
from careledger.chain import ErrorDecoder
from careledger.claims.enrolment import enrolment_typed_data
from careledger.claims.types import CodeKey, CoverageRule, Line, PlanTerms, day_of
from careledger.codes import Category, Purpose, Role
from careledger.consent import eip712
from careledger.consent.recovery import guardians_hash, recovery_typed
from careledger.consent.terms import GrantTerms, ModifyTerms, consent_id, mask
from careledger.directory.client import REGISTRAR_ROLE
from careledger.provenance.ids import leaf_hash, text_to_bytes32
from careledger.provenance.merkle import MerkleTree

_DUMP = os.environ.get("DUMP_MATRIX")
ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".build" / "__local__.json"
MATRIX_DOC = ROOT / "docs" / "access-matrix.md"

# The columns of docs/access-matrix.md, in order. "provider" is the clinic; "unregistered" a fresh
# funded account nobody registered; "suspended" a participant holding EVERY role, prepared like an
# authorised caller everywhere (it holds custody, has a consent, sponsors a study...), then
# suspended: so each of its refusals is due to the suspension alone.
ROLES = (
    "admin",
    "provider",
    "insurer",
    "manufacturer",
    "distributor",
    "pharmacy",
    "regulator",
    "relayer",
    "patient",
    "unregistered",
    "suspended",
)

# Reverts that mean "this caller may not do this": a cell reverting with one of these is `deny`.
ACCESS_ERRORS = {
    # OpenZeppelin AccessControl: the caller lacks the admin/registrar role the function requires.
    "AccessControlUnauthorizedAccount",
    # OpenZeppelin AccessControl: renounceRole for an account other than the caller.
    "AccessControlBadConfirmation",
    # ParticipantDirectory.requireActive: the caller is not in the consortium directory.
    "ParticipantNotRegistered",
    # ParticipantDirectory.requireActive: the caller is registered but suspended.
    "ParticipantIsSuspended",
    # ParticipantDirectory.requireActive: the caller is active but holds none of the needed roles.
    "ParticipantLacksRole",
    # ConsentRegistry: the caller (or signer) is not the patient nor a delegate allowed to act.
    "NotPatientOrDelegate",
    # ConsentRegistry.amendStudy: the caller is not the study's sponsor.
    "NotStudySponsor",
    # ConsentRegistry.setStudyStatus: neither the sponsor (closing) nor a registrar or regulator.
    "NotStudyAuthority",
    # ConsentRegistry.coSignBreakGlass: not an active provider or regulator other than the opener.
    "InvalidCoSigner",
    # ConsentRegistry.recordAccess: the caller holds no consent of the patient (not a grantee).
    "NoActiveConsent",
    # ConsentRegistry.recordAccess (ETREAT/BTG): the caller has no open break-glass window.
    "BreakGlassNotActive",
    # ParticipantDirectory.requireGtinOwner (ProvenanceRegistry.commission): not the GTIN's owner.
    "NotGtinOwner",
    # ProvenanceRegistry.quarantine/liftQuarantine/recall: a manufacturer acting on another's GTIN.
    "NotGtinOwnerOfBatch",
    # ProvenanceRegistry.ship/split/dispense/cancel: the caller does not hold the parcel.
    "NotParcelHolder",
    # ProvenanceRegistry.accept/reject: the parcel is not in transit to the caller.
    "NotParcelReceiver",
    # ConsentRegistry.recordAccess: the caller's consent does not cover this category/purpose.
    "AccessNotPermitted",
    # ConsentRegistry.recordAccess: a deny provision (the consent's or the patient's) excludes it.
    "AccessDenied",
    # ClaimSettlement: the caller is not the plan's insurer (plan, coverage, enrolment, pool).
    "NotPlanInsurer",
    # ClaimSettlement.review: the caller is neither the plan's insurer nor one of its adjusters.
    "NotAdjuster",
    # ClaimSettlement.review: the adjuster would be paid by its own decision.
    "AdjusterIsPayee",
    # ClaimSettlement.withdraw/appeal: the caller is not a party to the claim.
    "NotClaimParty",
    # ClaimSettlement.submit: a provider/pharmacy may only claim for itself.
    "PayeeNotSubmitter",
    # ClaimSettlement.submit: the member has not consented to payment claims by the caller.
    "NoPaymentConsent",
    # ClaimSettlement.submit: a drug line for a unit the payee did not dispense.
    "UnitNotDispensedByPayee",
    # ClaimSettlement.voidEnrolment: the caller is not a registrar of the directory.
    "NotRegistrar",
    # ClaimAdmin: called directly, not by delegatecall from its ClaimSettlement (nobody may).
    "DirectCallRefused",
    # MigrationModule: called directly, not through a successor's fallback (nobody may).
    "MigrationModuleCalledDirectly",
    # ERC-20 transferFrom: the owner has not approved the caller for that much.
    "ERC20InsufficientAllowance",
    # ConsentRecovery.setGuardians/cancelRecovery: the caller is not the pseudonym itself.
    "NotPatient",
    # ConsentRecovery.moveConsent: the caller is not the successor of the retired pseudonym.
    "NotSuccessor",
    # ConsentRegistry.retirePatient/moveConsent: only the registry's own recovery module calls them.
    "NotRecoveryModule",
}

ACCESS_ERRORS |= gov_matrix.GOV_ACCESS_ERRORS
# EmergencyPausable: pause needs the directory's EMERGENCY role, unpause its admin role.
ACCESS_ERRORS |= {"NotEmergencyCouncil", "NotConsortiumAdmin"}
# Key rotation: only the proposed new key accepts it.
ACCESS_ERRORS |= {"NoRotationPending"}

PAUSABLE = ("ConsentRegistry", "ProvenanceRegistry", "ClaimSettlement")

# (row, role) cells allowed to be `allow` through a domain error rather than a success, with the
# reason. Only governance cells: elsewhere the argument table makes every authorised call succeed.
DOMAIN_ERROR_CELLS: dict[tuple[str, str], str] = {
    **gov_matrix.no_single_operation(ROLES),
    **{
        (f"{c}.unpause()", "admin"): (
            "ExpectedPause: the admin passes the access check, and the world is not paused "
            "(tests/governance/test_pause.py pauses and resumes for real)"
        )
        for c in PAUSABLE
    },
    ("ClaimSettlement.scheduleRules(uint32,uint40,bytes32)", "insurer"): (
        "RulesAlreadyScheduled: the world keeps rule table 2 waiting (so setCoverage can be called), and one "
        "table waits at a time (tests/claims/test_v2_privacy_enrolment.py schedules them)"
    ),
    ("ClaimSettlement.releaseLapsed(bytes32)", "insurer"): (
        "PayoutNotLapsed: the plan's insurer passes the access checks, but only a payout whose transfer "
        "failed PAYOUT_TIMEOUT ago may be released (tests/claims/test_v2_powers_settlement.py plays it)"
    ),
}

DOC = bytes.fromhex("d0" * 32)
REASON = b"ACCESS-MATRIX".ljust(32, b"\0")
CRED = bytes.fromhex("c0" * 32)
CRED2 = bytes.fromhex("c2" * 32)
FORM_1 = bytes.fromhex("f1" * 32)
FORM_2 = bytes.fromhex("f2" * 32)
JUSTIFICATION = bytes.fromhex("b7" * 32)
ENCOUNTER = bytes.fromhex("ec" * 32)
RECORD = bytes.fromhex("7e" * 32)
GTIN = 9506000134352
EXPIRY = int(chainclock.FAR_EXPIRY)  # three years after the pinned clock
DAY = 24 * 3600
LABS = mask([Category.OBSERVATION, Category.DIAGNOSTIC_REPORT])
TREAT = mask([Purpose.TREAT])
USD = 1_000_000  # dtUSD has 6 decimals
KEY = CodeKey(bytes.fromhex("3c" * 32))  # plan 1's code key (shared off chain)
OFFICE = KEY.digest(1, "CPT:99213")  # covered, 20% coinsurance, $20 copay
MRI = KEY.digest(1, "CPT:70551")  # covered with pre-authorisation: always reviewed
COSMETIC = KEY.digest(1, "CPT:15780")  # not covered: denied by the rules
RULES = {
    OFFICE: CoverageRule(covered=True, coinsurance_bps=2_000, copay=20 * USD),
    MRI: CoverageRule(covered=True, pre_auth=True, coinsurance_bps=2_000),
    COSMETIC: CoverageRule(covered=False),
}
PLAN_TERMS = PlanTerms(deductible=0, annual_max=5_000 * USD, auto_approve_limit=500 * USD, appeal_window=7 * DAY)
PAYMENT_AND_LABS = LABS | mask([Category.FINANCIAL])
TREAT_AND_PAYMENT = TREAT | mask([Purpose.HPAYMT])
GUARDIAN = 1


# ---------------------------------------------------------------------------- the ABIs


def _deploy_plugin_contracts(names: set[str]) -> set[str]:
    """Contract names the deploy plug-ins deploy: string constants of each
    ``careledger/<domain>/deploy.py`` (and the module-level constants it imports from the
    package) that name a contract of the build."""
    found: set[str] = set()
    for path in sorted((ROOT / "careledger").glob("*/deploy.py")):
        tree = ast.parse(path.read_text())
        strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("careledger."):
                src = ROOT.joinpath(*node.module.split(".")).with_suffix(".py")
                if not src.exists():
                    continue
                wanted = {a.name for a in node.names}
                for stmt in ast.parse(src.read_text()).body:
                    named = isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
                    if named and any(isinstance(t, ast.Name) and t.id in wanted for t in stmt.targets):
                        strings.add(str(stmt.value.value))
        found |= strings & names
    return found


def suite_abis() -> dict[str, list[dict[str, Any]]]:
    """ABI of every suite contract: concrete contracts outside contracts/test/, plus whatever a
    deploy plug-in deploys (the devnet payment token lives in contracts/test/)."""
    types = json.loads(BUILD.read_text())["contractTypes"]

    def concrete(ct: dict[str, Any]) -> bool:
        code = (ct.get("deploymentBytecode") or {}).get("bytecode") or "0x"
        return len(code) > 2

    own = {n for n, ct in types.items() if concrete(ct) and not ct["sourceId"].startswith("contracts/test/")}
    deployed = _deploy_plugin_contracts(set(types))
    return {n: types[n]["abi"] for n in sorted(own | deployed)}


def signature(fn: dict[str, Any]) -> str:
    return f"{fn['name']}({','.join(collapse_if_tuple(i) for i in fn['inputs'])})"


def state_changing_rows(abis: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """``"Contract.fn(types)" -> function ABI`` for every non-view, non-pure function."""
    return {
        f"{name}.{signature(item)}": item
        for name, abi in abis.items()
        for item in abi
        if item.get("type") == "function" and item.get("stateMutability") not in ("view", "pure")
    }


# ---------------------------------------------------------------------------- the committed table

ROW = re.compile(r"^\|\s*`(?P<fn>[^`]+)`\s*\|(?P<cells>.*)\|\s*$")


def read_expectations(path: Path = MATRIX_DOC) -> dict[str, dict[str, str]]:
    """Parse the markdown table: ``"Contract.fn(types)" -> {role: "allow" | "deny"}``."""
    header: list[str] | None = None
    rows: dict[str, dict[str, str]] = {}
    for line in path.read_text().splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cols[0].lower() == "function":
            header = [c.lower() for c in cols[1:]]
            assert tuple(header[: len(ROLES)]) == ROLES, f"matrix columns {header} are not {ROLES} (+ who and why)"
            continue
        m = ROW.match(line.strip())
        if not m:
            continue
        assert header is not None, f"row before the header: {line}"
        cells = [c.strip() for c in m["cells"].split("|")]
        assert m["fn"] not in rows, f"duplicate row {m['fn']}"
        values = cells[: len(ROLES)]
        bad = [v for v in values if v not in ("allow", "deny")]
        assert not bad and len(values) == len(ROLES), f"row {m['fn']}: cells must be allow/deny: {values}"
        assert len(cells) > len(ROLES) and cells[len(ROLES)], f"row {m['fn']}: the who-and-why column is empty"
        rows[m["fn"]] = dict(zip(ROLES, values, strict=True))
    return rows


# ---------------------------------------------------------------------------- the world


def _ship_target(w: World, caller: str) -> str:
    # Any active trading partner other than the caller.
    return w.addr["pharmacy"] if caller == "distributor" else w.addr["distributor"]


# Batch A's parcels (see `world`): pharmacy [0,2), distributor [2,5), suspended [5,6) (in transit
# back to the distributor), manufacturer [6,8). Anyone else names the manufacturer's parcel.
_PARCELS_A = {"pharmacy": 0, "distributor": 2, "suspended": 5, "manufacturer": 6}
# Batch B's parcels in transit: [0,2) to the distributor, [2,3) to the suspended participant.
_INBOUND_B = {"distributor": 0, "suspended": 2}


def _held_a(caller: str) -> int:
    return _PARCELS_A.get(caller, 6)


def _inbound_b(caller: str) -> int:
    return _INBOUND_B.get(caller, 0)


@dataclass
class World:
    """Deployed suite, the callers' addresses, and the objects the argument table refers to."""

    addr: dict[str, str]
    contracts: dict[str, Any]
    patient_key: Any
    chain_id: int
    now: int
    batch_a: Any = None
    batch_b: Any = None
    batch_q: Any = None
    tree_a: MerkleTree | None = None
    serials_a: list[str] = field(default_factory=list)
    consent_clinic: int = 0
    studies: dict[str, str] = field(default_factory=dict)
    fresh: str = ""
    fresh_key: Any = None
    plan: int = 0
    plans: dict[str, int] = field(default_factory=dict)  # insurer role -> its plan
    today: int = 0
    period: int = 0
    pending_version: int = 0
    claims: dict[str, bytes] = field(default_factory=dict)  # "<status>:<payee role>" -> claim id
    claim_lines: dict[bytes, list[tuple[Any, ...]]] = field(default_factory=dict)
    gov: Any = None  # gov_matrix.Gov: the consortium's contracts and proposals
    wards: dict[str, str] = field(default_factory=dict)  # recovery: "pending" | "guarded" | "retired"

    def claim_input(self, payee: str, day: int, code: bytes = OFFICE, billed: int = 80 * USD) -> tuple[Any, ...]:
        member, to = self.addr["patient"], self.addr[payee]
        episode = KEY.episode(1, member, to, day)
        return (member, to, self.period, episode, 0, DOC, [Line(code, 1, billed).as_tuple()])

    def enrolment(self, plan: int, member: Any) -> tuple[Any, ...]:
        """enrol() arguments with ``member``'s (a LocalAccount) signature for the current year."""
        deadline = self.now + 7 * DAY
        typed = enrolment_typed_data(
            plan,
            member.address,
            CRED,
            self.period,
            self.period,
            0,
            deadline,
            chain_id=self.chain_id,
            contract=self.contracts["ClaimSettlement"].address,
        )
        return (plan, member.address, CRED, self.period, self.period, deadline, eip712.sign(member, typed))

    def new_claim(self, caller: str) -> tuple[Any, ...]:
        """A claim the caller may submit: a provider or pharmacy for itself, the plan's insurer
        for the member (payee the member); a day no fixture claim used."""
        payee = "patient" if caller == "insurer" else caller
        return self.claim_input(payee, self.today - 1)

    def plan_of(self, caller: str) -> int:
        """The caller's own plan when it is an insurer with one, else the insurer's plan."""
        return self.plans.get(caller, self.plan)

    def claim(self, kind: str, caller: str) -> bytes:
        """The fixture claim of that kind whose payee is the caller, else the clinic's."""
        return self.claims.get(f"{kind}:{caller}", self.claims[f"{kind}:provider"])

    def consent_of(self, grantee: str) -> int:
        return consent_id(self.addr["patient"], self.addr[grantee], 1)

    def sign(self, builder: Callable[..., dict[str, Any]], *fields: Any, pair: str | None = None) -> tuple[int, bytes]:
        """The patient's signature; ``pair``: the grantee whose pair counter is the nonce."""
        registry = self.contracts["ConsentRegistry"]
        deadline = self.now + DAY // 2  # within the registry's MAX_SIGNATURE_LIFETIME (1 day)
        p = self.addr["patient"]
        typed = builder(
            *fields,
            registry.pairNonce(p, pair) if pair else registry.nonces(p),
            deadline,
            chain_id=self.chain_id,
            registry=registry.address,
        )
        return deadline, eip712.sign(self.patient_key, typed)

    def grant_terms(self) -> GrantTerms:
        return GrantTerms(grantee=self.addr["er"], categories=LABS, purposes=TREAT, valid_until=self.now + 30 * DAY)

    def modify_terms(self) -> ModifyTerms:
        return ModifyTerms(categories=LABS, purposes=TREAT, valid_until=self.now + 60 * DAY)


Args = Callable[[World, str], tuple[Any, ...]]

LINE = "(bytes32,uint32,uint96,bytes32,bytes32[])"
LINES = f"{LINE}[]"
CLAIM = f"(address,address,uint32,bytes32,uint16,bytes32,{LINES})"
PLAN_SIG = "ClaimSettlement.createPlan((uint96,uint96,uint96,uint32,uint40,uint32,uint32,uint32))"
COVERAGE_SIG = (
    "ClaimSettlement.setCoverage(uint32,uint32,bytes32[],(bool,bool,bool,bool,uint16,uint96,uint96)[],bytes32[])"
)
ENROL_SIG = "ClaimSettlement.enrol(uint32,address,bytes32,uint32,uint32,uint256,bytes)"
ADMIN_SIGS = (
    PLAN_SIG,
    "ClaimSettlement.scheduleRules(uint32,uint40,bytes32)",
    COVERAGE_SIG,
    "ClaimSettlement.setAdjuster(address,bool)",
    ENROL_SIG,
    "ClaimSettlement.terminate(address,uint32,uint32)",
    "ClaimSettlement.voidEnrolment(address,uint32)",
    "ClaimSettlement.succeedInsurer(uint32)",
)
# A member of the soon suspended insurer's plan: the registrar may void that enrolment.
VOIDABLE = Account.from_key(keccak(text="careledger access matrix voidable member"))


def _plan_terms(w: World) -> PlanTerms:
    return replace(PLAN_TERMS, period_start=(w.today - 30) * DAY)


def _grant_by_sig(w: World, _caller: str) -> tuple[Any, ...]:
    t = w.grant_terms()
    deadline, sig = w.sign(eip712.grant, w.addr["patient"], t, pair=t.grantee)
    return (w.addr["patient"], t.as_tuple(), w.addr["patient"], deadline, sig)


def _modify_by_sig(w: World, _caller: str) -> tuple[Any, ...]:
    t = w.modify_terms()
    p, g, cid = w.addr["patient"], w.addr["provider"], w.consent_clinic
    deadline, sig = w.sign(eip712.modify, p, g, cid, t, pair=g)
    return (p, g, cid, t.as_tuple(), p, deadline, sig)


def _revoke_by_sig(w: World, _caller: str) -> tuple[Any, ...]:
    p, g, cid = w.addr["patient"], w.addr["provider"], w.consent_clinic
    deadline, sig = w.sign(eip712.revoke, p, g, cid, pair=g)
    return (p, g, cid, p, deadline, sig)


def _deny_by_sig(w: World, _caller: str) -> tuple[Any, ...]:
    p = w.addr["patient"]
    deadline, sig = w.sign(eip712.set_patient_deny, p, 0, 0)
    return (p, 0, 0, p, deadline, sig)


def _appoint_by_sig(w: World, _caller: str) -> tuple[Any, ...]:
    p = w.addr["patient"]
    deadline, sig = w.sign(eip712.appoint_delegate, p, w.addr["er"], GUARDIAN, LABS, TREAT)
    return (p, w.addr["er"], GUARDIAN, LABS, TREAT, deadline, sig)


def _cancel_by_sig(w: World, _caller: str) -> tuple[Any, ...]:
    p, g = w.addr["patient"], w.addr["provider"]
    deadline, sig = w.sign(eip712.cancel, p, g, pair=g)
    return (p, g, p, deadline, sig)


def _review_by_sig(w: World, _caller: str) -> tuple[Any, ...]:
    p = w.addr["patient"]
    deadline, sig = w.sign(eip712.review_break_glass, p, w.addr["er"], 1)
    return (p, w.addr["er"], 1, p, deadline, sig)


def _register_study(w: World, caller: str) -> tuple[Any, ...]:
    # The study's own key signs for the calling sponsor: control of the address is proven.
    registry = w.contracts["ConsentRegistry"]
    deadline = w.now + DAY // 2
    typed = eip712.register_study(
        w.fresh, w.addr[caller], FORM_1, deadline, chain_id=w.chain_id, registry=registry.address
    )
    return (w.fresh, FORM_1, deadline, eip712.sign(w.fresh_key, typed))


def _remove_by_sig(w: World, _caller: str) -> tuple[Any, ...]:
    p = w.addr["patient"]
    deadline, sig = w.sign(eip712.remove_delegate, p, w.addr["patient2"])
    return (p, w.addr["patient2"], deadline, sig)


# ConsentRecovery: two guardian keys of every ward in the world, and the successors named.
RECOVERY_GUARDIANS = sorted(
    (Account.from_key(keccak(text=f"careledger access matrix guardian {i}")) for i in range(2)),
    key=lambda a: int(a.address, 16),
)
RECOVERY_SUCCESSOR = Account.from_key(keccak(text="careledger access matrix successor")).address
RECOVERY_DELAY = 2 * DAY


def _recovery_typed(w: World, primary: str, message: dict[str, Any]) -> dict[str, Any]:
    return recovery_typed(primary, message, chain_id=w.chain_id, module=w.contracts["ConsentRecovery"].address)


def _set_guardians_by_sig(w: World, _caller: str) -> tuple[Any, ...]:
    p, deadline = w.addr["patient"], w.now + DAY // 2
    h = guardians_hash([g.address for g in RECOVERY_GUARDIANS])
    n = w.contracts["ConsentRecovery"].nonces(p)
    msg = {"patient": p, "guardiansHash": h, "threshold": 2, "delay": RECOVERY_DELAY, "nonce": n, "deadline": deadline}
    return (p, h, 2, RECOVERY_DELAY, deadline, eip712.sign(w.patient_key, _recovery_typed(w, "SetGuardians", msg)))


def _start_recovery(w: World, _caller: str) -> tuple[Any, ...]:
    ward, deadline = w.wards["guarded"], w.now + DAY // 2
    n = w.contracts["ConsentRecovery"].recoveryNonce(ward)
    msg = {"patient": ward, "successor": RECOVERY_SUCCESSOR, "recoveryNonce": n, "deadline": deadline}
    sigs = [eip712.sign(g, _recovery_typed(w, "Recover", msg)) for g in RECOVERY_GUARDIANS]
    return (ward, RECOVERY_SUCCESSOR, [g.address for g in RECOVERY_GUARDIANS], deadline, sigs)


def _cancel_recovery_by_sig(w: World, _caller: str) -> tuple[Any, ...]:
    p, deadline = w.addr["patient"], w.now + DAY // 2
    msg = {"patient": p, "nonce": w.contracts["ConsentRecovery"].nonces(p), "deadline": deadline}
    return (p, deadline, eip712.sign(w.patient_key, _recovery_typed(w, "CancelRecovery", msg)))


def _move_consent(w: World, _caller: str) -> tuple[Any, ...]:
    lost, grantee = w.wards["retired"], w.addr["lab"]
    return (lost, grantee, w.contracts["ConsentRegistry"].pairNonce(lost, grantee))


def _move_consent_by_sig(w: World, caller: str) -> tuple[Any, ...]:
    lost, grantee, expected = _move_consent(w, caller)
    p, deadline = w.addr["patient"], w.now + DAY // 2
    n = w.contracts["ConsentRecovery"].nonces(p)
    msg = {"lost": lost, "grantee": grantee, "expectedNonce": expected, "nonce": n, "deadline": deadline}
    return (lost, grantee, expected, deadline, eip712.sign(w.patient_key, _recovery_typed(w, "MoveConsent", msg)))


# Arguments per function signature, as a function of (world, calling role). Where the function
# acts on the caller itself (renounceRole, recordAccess under the caller's consent, amendStudy of
# the caller's study, ship to a partner other than the caller) the caller's own data is used.
ARGS: dict[str, Args] = {
    # -- ParticipantDirectory (OpenZeppelin AccessControl + registrar functions)
    "ParticipantDirectory.register(address,uint8,bytes32)": lambda w, c: (w.fresh, int(Role.PROVIDER), CRED),
    "ParticipantDirectory.setRoles(address,uint8)": lambda w, c: (w.addr["lab"], int(Role.PROVIDER | Role.RELAYER)),
    "ParticipantDirectory.updateCredential(address,bytes32)": lambda w, c: (w.addr["lab"], CRED2),
    "ParticipantDirectory.suspend(address,bytes32)": lambda w, c: (w.addr["lab"], REASON),
    "ParticipantDirectory.proposeRotation(address,address)": lambda w, c: (w.addr["er"], w.fresh),
    "ParticipantDirectory.acceptRotation(address)": lambda w, c: (w.addr["lab"],),
    "ParticipantDirectory.reinstate(address)": lambda w, c: (w.addr["suspended"],),
    "ParticipantDirectory.grantRole(bytes32,address)": lambda w, c: (REGISTRAR_ROLE, w.fresh),
    "ParticipantDirectory.revokeRole(bytes32,address)": lambda w, c: (REGISTRAR_ROLE, w.addr["admin"]),
    "ParticipantDirectory.renounceRole(bytes32,address)": lambda w, c: (REGISTRAR_ROLE, w.addr[c]),
    # -- ConsentRegistry: the patient's own actions on the patient's consents
    "ConsentRegistry.grant(address,(address,uint32,uint16,uint32,uint16,uint40,uint40,bytes32))": lambda w, c: (
        w.addr["patient"],
        w.grant_terms().as_tuple(),
    ),
    "ConsentRegistry.modify(address,address,uint256,(uint32,uint16,uint32,uint16,uint40))": lambda w, c: (
        w.addr["patient"],
        w.addr["provider"],
        w.consent_clinic,
        w.modify_terms().as_tuple(),
    ),
    "ConsentRegistry.revoke(address,address,uint256)": lambda w, c: (
        w.addr["patient"],
        w.addr["provider"],
        w.consent_clinic,
    ),
    "ConsentRegistry.setPatientDeny(address,uint32,uint16)": lambda w, c: (
        w.addr["patient"],
        mask([Category.MENTAL_HEALTH]),
        mask([Purpose.HPAYMT]),
    ),
    "ConsentRegistry.appointDelegate(address,address,uint8,uint32,uint16)": lambda w, c: (
        w.addr["patient"],
        w.addr["er"],
        GUARDIAN,
        LABS,
        TREAT,
    ),
    "ConsentRegistry.cancel(address,address)": lambda w, c: (w.addr["patient"], w.addr["provider"]),
    "ConsentRegistry.reviewBreakGlass(address,address,uint64)": lambda w, c: (w.addr["patient"], w.addr["er"], 1),
    "ConsentRegistry.removeDelegate(address,address)": lambda w, c: (w.addr["patient"], w.addr["patient2"]),
    # -- ConsentRegistry: the same, signed by the patient and submitted by the caller
    "ConsentRegistry.grantBySig(address,(address,uint32,uint16,uint32,uint16,uint40,uint40,bytes32),"
    "address,uint256,bytes)": _grant_by_sig,
    "ConsentRegistry.modifyBySig(address,address,uint256,(uint32,uint16,uint32,uint16,uint40),"
    "address,uint256,bytes)": _modify_by_sig,
    "ConsentRegistry.revokeBySig(address,address,uint256,address,uint256,bytes)": _revoke_by_sig,
    "ConsentRegistry.setPatientDenyBySig(address,uint32,uint16,address,uint256,bytes)": _deny_by_sig,
    "ConsentRegistry.appointDelegateBySig(address,address,uint8,uint32,uint16,uint256,bytes)": _appoint_by_sig,
    "ConsentRegistry.cancelBySig(address,address,address,uint256,bytes)": _cancel_by_sig,
    "ConsentRegistry.reviewBreakGlassBySig(address,address,uint64,address,uint256,bytes)": _review_by_sig,
    "ConsentRegistry.removeDelegateBySig(address,address,uint256,bytes)": _remove_by_sig,
    # -- ConsentRegistry: providers and studies
    "ConsentRegistry.recordAccess(address,uint256,uint8,uint8,bytes32)": lambda w, c: (
        w.addr["patient"],
        w.consent_of(c),
        int(Category.OBSERVATION),
        int(Purpose.TREAT),
        RECORD,
    ),
    # -- RecordAnchor (the gateway's integrity anchors): a fresh salted commitment
    "RecordAnchor.anchor(bytes32)": lambda w, c: (RECORD,),
    "ConsentRegistry.breakGlass(address,uint8,bytes32,bytes32)": lambda w, c: (
        w.addr["patient"],
        int(Purpose.ETREAT),
        JUSTIFICATION,
        ENCOUNTER,
    ),
    "ConsentRegistry.coSignBreakGlass(address,address,bytes32)": lambda w, c: (
        w.addr["patient"],
        w.addr["er"],
        ENCOUNTER,
    ),
    "ConsentRegistry.registerStudy(address,bytes32,uint256,bytes)": _register_study,
    "ConsentRegistry.setStudyStatus(address,uint8)": lambda w, c: (w.studies.get(c, w.studies["provider"]), 2),
    "ConsentRegistry.amendStudy(address,bytes32)": lambda w, c: (w.studies.get(c, w.studies["provider"]), FORM_2),
    # -- ConsentRegistry: the recovery hooks (only the registry's own ConsentRecovery module)
    "ConsentRegistry.retirePatient(address,address)": lambda w, c: (w.wards["guarded"], RECOVERY_SUCCESSOR),
    "ConsentRegistry.moveConsent(address,address,uint256)": _move_consent,
    # -- ConsentRecovery: the patient's guardians, a recovery to start, execute, cancel, move
    "ConsentRecovery.setGuardians(address,bytes32,uint8,uint32)": lambda w, c: (
        w.addr["patient"],
        guardians_hash([g.address for g in RECOVERY_GUARDIANS]),
        2,
        RECOVERY_DELAY,
    ),
    "ConsentRecovery.setGuardiansBySig(address,bytes32,uint8,uint32,uint256,bytes)": _set_guardians_by_sig,
    "ConsentRecovery.startRecovery(address,address,address[],uint256,bytes[])": _start_recovery,
    "ConsentRecovery.cancelRecovery(address)": lambda w, c: (w.addr["patient"],),
    "ConsentRecovery.cancelRecoveryBySig(address,uint256,bytes)": _cancel_recovery_by_sig,
    "ConsentRecovery.executeRecovery(address)": lambda w, c: (w.wards["pending"],),
    "ConsentRecovery.moveConsent(address,address,uint256)": _move_consent,
    "ConsentRecovery.moveConsentBySig(address,address,uint256,uint256,bytes)": _move_consent_by_sig,
    # -- ProvenanceRegistry
    "ProvenanceRegistry.commission(uint256,bytes32,uint24,uint48,bytes32)": lambda w, c: (
        GTIN,
        text_to_bytes32("LOT-NEW", "lot"),
        EXPIRY,
        4,
        DOC,
    ),
    "ProvenanceRegistry.ship(bytes32,uint48,address,uint48,bytes32)": lambda w, c: (
        w.batch_a,
        _held_a(c),
        _ship_target(w, c),
        1,
        DOC,
    ),
    "ProvenanceRegistry.split(bytes32,uint48,uint48)": lambda w, c: (w.batch_a, _held_a(c), _held_a(c) + 1),
    "ProvenanceRegistry.accept(bytes32,uint48)": lambda w, c: (w.batch_b, _inbound_b(c)),
    "ProvenanceRegistry.reject(bytes32,uint48,bytes32)": lambda w, c: (w.batch_b, _inbound_b(c), REASON),
    "ProvenanceRegistry.cancel(bytes32,uint48,bytes32)": lambda w, c: (
        (w.batch_a, 5, REASON) if c == "suspended" else (w.batch_b, 0, REASON)
    ),
    "ProvenanceRegistry.dispense(uint256,bytes32,bytes32,uint48,uint48,bytes32[])": lambda w, c: (
        GTIN,
        text_to_bytes32("LOT-A", "lot"),
        text_to_bytes32(w.serials_a[0]),
        0,
        0,
        w.tree_a.proof_at(0) if w.tree_a else [],
    ),
    "ProvenanceRegistry.quarantine(bytes32,bytes32)": lambda w, c: (w.batch_a, REASON),
    "ProvenanceRegistry.liftQuarantine(bytes32,bytes32)": lambda w, c: (w.batch_q, REASON),
    "ProvenanceRegistry.recall(bytes32,bytes32)": lambda w, c: (w.batch_a, REASON),
    "ProvenanceRegistry.voidBatch(bytes32,bytes32)": lambda w, c: (w.batch_a, REASON),
    "ParticipantDirectory.attestPrefix(address,uint256,uint8,bytes32)": lambda w, c: (
        w.addr["manufacturer"],
        1234567,
        7,
        CRED,
    ),
    "ParticipantDirectory.revokePrefix(uint256,uint8,bytes32)": lambda w, c: (9506000, 7, REASON),
    # -- ClaimSettlement: plans and pool (plan 1 belongs to the insurer)
    PLAN_SIG: lambda w, c: (_plan_terms(w).as_tuple(),),
    "ClaimSettlement.scheduleRules(uint32,uint40,bytes32)": lambda w, c: (w.plan_of(c), w.now + 30 * DAY, KEY.key_id),
    COVERAGE_SIG: lambda w, c: (w.plan_of(c), w.pending_version, [OFFICE], [RULES[OFFICE].as_tuple()], []),
    "ClaimSettlement.setAdjuster(address,bool)": lambda w, c: (w.addr["er"], True),
    ENROL_SIG: lambda w, c: w.enrolment(w.plan_of(c), dev_account("patient2").account),
    "ClaimSettlement.terminate(address,uint32,uint32)": lambda w, c: (w.addr["patient"], 1, w.period),
    "ClaimSettlement.voidEnrolment(address,uint32)": lambda w, c: (VOIDABLE.address, 1),
    "ClaimSettlement.fund(uint32,uint256)": lambda w, c: (w.plan_of(c), 100 * USD),
    "ClaimSettlement.withdrawFree(uint32,uint256,address)": lambda w, c: (w.plan_of(c), 1 * USD, w.addr[c]),
    # -- ClaimSettlement: claims
    f"ClaimSettlement.submit({CLAIM})": lambda w, c: (w.new_claim(c),),
    f"ClaimSettlement.submitBatch({CLAIM}[])": lambda w, c: ([w.new_claim(c)],),
    f"ClaimSettlement.adjudicate(bytes32,{LINES})": lambda w, c: (
        w.claims["queued:provider"],
        w.claim_lines[w.claims["queued:provider"]],
    ),
    f"ClaimSettlement.review(bytes32,{LINES},uint8,uint96,uint16)": lambda w, c: (
        w.claims["pending:provider"],
        w.claim_lines[w.claims["pending:provider"]],
        0,  # Decision.Approve
        0,
        0,
    ),
    "ClaimSettlement.withdraw(bytes32)": lambda w, c: (w.claim("pending", c),),
    "ClaimSettlement.appeal(bytes32)": lambda w, c: (w.claim("denied", c),),
    "ClaimSettlement.pay(bytes32)": lambda w, c: (w.claims["approved:provider"],),
    "ClaimSettlement.payBatch(bytes32[])": lambda w, c: ([w.claims["approved:provider"]],),
    "ClaimSettlement.redirectPayout(bytes32,address)": lambda w, c: (w.claim("approved", c), w.addr["regulator"]),
    "ClaimSettlement.releaseLapsed(bytes32)": lambda w, c: (w.claims["approved:provider"],),
    "ClaimSettlement.succeedInsurer(uint32)": lambda w, c: (w.plan,),
    # -- ClaimAdmin: the module ClaimSettlement delegatecalls; called directly, it refuses everyone
    **{f"ClaimAdmin.{sig.split('.', 1)[1]}": (lambda f: lambda w, c: ARGS_ADMIN[f](w, c))(sig) for sig in ADMIN_SIGS},
    # (and its upgrade functions, reached through ClaimSettlement's fallback: tests/test_upgrade.py)
    "ClaimAdmin.importState(bytes32[],bytes32[])": lambda w, c: ([b"\1" * 32], [b"\2" * 32]),
    "ClaimAdmin.sealImport(uint256)": lambda w, c: (0,),
    "ClaimAdmin.handOver(address)": lambda w, c: (w.addr["admin"],),
    # -- MigrationModule: a successor's import, run by delegatecall; called directly, it refuses
    "MigrationModule.importState(bytes32[],bytes32[])": lambda w, c: ([b"\1" * 32], [b"\2" * 32]),
    "MigrationModule.sealImport(uint256)": lambda w, c: (0,),
    # -- DevnetTestUSD (the devnet payment token; every caller holds some and is approved by admin)
    "DevnetTestUSD.approve(address,uint256)": lambda w, c: (w.addr["admin"], USD),
    "DevnetTestUSD.mint(address,uint256)": lambda w, c: (w.addr[c], USD),
    "DevnetTestUSD.transfer(address,uint256)": lambda w, c: (w.addr["admin"], USD),
    "DevnetTestUSD.transferFrom(address,address,uint256)": lambda w, c: (w.addr["admin"], w.addr[c], USD),
}
ARGS |= gov_matrix.GOV_ARGS
ARGS |= {f"{c}.{f}()": (lambda w, c: ()) for c in PAUSABLE for f in ("pause", "unpause")}
ARGS_ADMIN = ARGS


def _batch(registry: Any, lot: str, n: int, sender: Any) -> tuple[bytes, MerkleTree, list[str]]:
    serials = [f"{lot}-{i:04d}" for i in range(n)]
    tree = MerkleTree.from_leaves([leaf_hash(GTIN, s) for s in serials])  # positional: index = list order
    tx = registry.commission(GTIN, text_to_bytes32(lot, "lot"), EXPIRY, n, tree.root, sender=sender)
    return bytes(tx.events[0].batchId), tree, serials


def _rules_in_force(chain: Any, claims: Any, insurer: Any, plan: int) -> None:
    """Rule table 1 of ``plan`` (RULES under KEY), filled and then in force."""
    start = int(chain.pending_timestamp) + 10
    claims.scheduleRules(plan, start, KEY.key_id, sender=insurer)
    claims.setCoverage(plan, 1, list(RULES), [r.as_tuple() for r in RULES.values()], [], sender=insurer)
    chain.mine(timestamp=start)


def _recovery_wards(chain: Any, accounts: Any, admin: Any, consent: Any, recovery: Any, relayer: Any, lab: Any):
    """Three pseudonyms guarded by RECOVERY_GUARDIANS: "guarded" (nothing started: a recovery may
    start), "pending" (started, its delay over: anyone may execute) and "retired" (recovered in
    favour of the world's patient, its consent to the lab still to move). Runs first: the chain
    moves on by the delay."""
    h = guardians_hash([g.address for g in RECOVERY_GUARDIANS])
    wards = {k: accounts.generate_test_account() for k in ("guarded", "pending", "retired")}
    for ward in wards.values():
        admin.transfer(ward, 10**19)
        recovery.setGuardians(ward, h, 2, RECOVERY_DELAY, sender=ward)
    now = int(chain.pending_timestamp)
    t = GrantTerms(grantee=str(lab.address), categories=LABS, purposes=TREAT, valid_until=now + 60 * DAY)
    consent.grant(wards["retired"], t.as_tuple(), sender=wards["retired"])
    for key, successor in (("pending", RECOVERY_SUCCESSOR), ("retired", str(accounts[10].address))):
        ward, deadline = str(wards[key].address), now + DAY // 2
        msg = {
            "patient": ward,
            "successor": successor,
            "recoveryNonce": recovery.recoveryNonce(ward),
            "deadline": deadline,
        }
        typed = recovery_typed("Recover", msg, chain_id=chain.chain_id, module=recovery.address)
        sigs = [eip712.sign(g, typed) for g in RECOVERY_GUARDIANS]
        recovery.startRecovery(ward, successor, [g.address for g in RECOVERY_GUARDIANS], deadline, sigs, sender=relayer)
    chain.mine(timestamp=int(chain.pending_timestamp) + RECOVERY_DELAY)
    recovery.executeRecovery(wards["retired"], sender=relayer)
    return {k: str(a.address) for k, a in wards.items()}


@pytest.fixture(scope="module")
def world(project, chain, accounts, directory, admin, clinic, lab, er, manufacturer, distributor, pharmacy, regulator):
    cast = {
        "admin": admin,
        "provider": clinic,
        "insurer": accounts[4],
        "manufacturer": manufacturer,
        "distributor": distributor,
        "pharmacy": pharmacy,
        "regulator": regulator,
        "relayer": accounts[9],
        "patient": accounts[10],
    }
    unregistered = accounts.generate_test_account()
    suspended = accounts.generate_test_account()
    for acct in (unregistered, suspended):
        admin.transfer(acct, 10**20)
    directory.register(suspended, int(Role(0x7F)), CRED, sender=admin)  # every role
    cast |= {"unregistered": unregistered, "suspended": suspended}
    addr = {name: str(a.address) for name, a in cast.items()}
    addr |= {"lab": str(lab.address), "er": str(er.address), "patient2": str(accounts[11].address)}
    patient = cast["patient"]

    consent = project.ConsentRegistry.deploy(directory, sender=admin)
    recovery = project.ConsentRecovery.at(consent.recovery())
    wards = _recovery_wards(chain, accounts, admin, consent, recovery, cast["relayer"], lab)
    provenance = project.ProvenanceRegistry.deploy(directory, sender=admin)
    anchor = project.RecordAnchor.deploy(directory, sender=admin)
    now = int(chain.pending_timestamp)
    fresh_acct = accounts.generate_test_account()
    w = World(
        addr=addr,
        contracts={
            "ParticipantDirectory": directory,
            "ConsentRegistry": consent,
            "ProvenanceRegistry": provenance,
            "RecordAnchor": anchor,
            "ConsentRecovery": recovery,
        },
        wards=wards,
        patient_key=dev_account("patient").account,
        chain_id=chain.chain_id,
        now=now,
        fresh=str(fresh_acct.address),
        fresh_key=Account.from_key(fresh_acct.private_key),
    )

    # Consent: the clinic and the (soon suspended) participant each hold a consent of the patient;
    # patient2 is the patient's guardian; the clinic and the suspended participant sponsor a study.
    # They, the pharmacy and the insurer may also see financial data for payment (claims).
    for grantee in ("provider", "suspended", "pharmacy", "insurer"):
        cats, purps = (PAYMENT_AND_LABS, TREAT_AND_PAYMENT) if grantee in ("provider", "suspended") else (0, 0)
        cats, purps = cats or mask([Category.FINANCIAL]), purps or mask([Purpose.HPAYMT])
        t = GrantTerms(grantee=addr[grantee], categories=cats, purposes=purps, valid_until=now + 30 * DAY)
        consent.grant(patient, t.as_tuple(), sender=patient)
    w.consent_clinic = w.consent_of("provider")
    consent.appointDelegate(patient, addr["patient2"], GUARDIAN, LABS, TREAT, sender=patient)
    for sponsor in ("provider", "suspended"):
        study = accounts.generate_test_account()
        typed = eip712.register_study(
            study.address, addr[sponsor], FORM_1, now + DAY, chain_id=chain.chain_id, registry=consent.address
        )
        sig = eip712.sign(Account.from_key(study.private_key), typed)
        consent.registerStudy(study, FORM_1, now + DAY, sig, sender=cast[sponsor])
        w.studies[sponsor] = str(study.address)
    # The ER broke the glass once, so the patient has a window to review.
    consent.breakGlass(patient, int(Purpose.ETREAT), JUSTIFICATION, ENCOUNTER, sender=er)

    # Provenance: batch A in parcels held by pharmacy [0,2), distributor [2,5), manufacturer [6,8)
    # and the suspended participant [5,6), which it has shipped back to the distributor (in
    # transit: it may cancel); batch B in transit from the manufacturer to the distributor [0,2)
    # and to the suspended participant [2,3); batch Q quarantined.
    w.batch_a, w.tree_a, w.serials_a = _batch(provenance, "LOT-A", 8, manufacturer)
    for src, start, dst, q in (
        ("manufacturer", 0, "distributor", 5),
        ("distributor", 0, "pharmacy", 2),
        ("manufacturer", 5, "suspended", 1),
    ):
        provenance.ship(w.batch_a, start, addr[dst], q, DOC, sender=cast[src])
        provenance.accept(w.batch_a, start, sender=cast[dst])
    provenance.ship(w.batch_a, 5, addr["distributor"], 1, DOC, sender=suspended)
    w.batch_b, _, _ = _batch(provenance, "LOT-B", 4, manufacturer)
    provenance.ship(w.batch_b, 0, addr["distributor"], 2, DOC, sender=manufacturer)
    provenance.ship(w.batch_b, 2, addr["suspended"], 1, DOC, sender=manufacturer)
    w.batch_q, _, _ = _batch(provenance, "LOT-Q", 2, manufacturer)
    provenance.quarantine(w.batch_q, REASON, sender=regulator)

    # Claims: plan 1 of the insurer, the patient enrolled; a claim queued while the pool was
    # short, then (pool funded) one approved and unpaid, one pending review and one denied for the
    # clinic, and one pending and one denied for the soon suspended participant, also an adjuster.
    token = project.DevnetTestUSD.deploy(sender=admin)
    claims = project.ClaimSettlement.deploy(directory, consent, provenance, token, sender=admin)
    w.contracts |= {"ClaimSettlement": claims, "DevnetTestUSD": token}
    insurer = cast["insurer"]
    w.contracts["ClaimAdmin"] = project.ClaimAdmin.at(claims.admin())
    w.contracts["MigrationModule"] = project.MigrationModule.deploy(sender=admin)
    w.today = day_of(int(chain.pending_timestamp))
    w.now = int(chain.pending_timestamp)
    tx = claims.createPlan(_plan_terms(w).as_tuple(), sender=insurer)
    w.plan = int(tx.events.filter(claims.PlanCreated)[0].planId)
    _rules_in_force(chain, claims, insurer, w.plan)
    w.period = int(claims.periodAt(w.plan, chain.pending_timestamp))
    # The patient for this year and the next (so the insurer may terminate the next).
    w.now = int(chain.pending_timestamp)
    deadline = w.now + 7 * DAY
    typed = enrolment_typed_data(
        w.plan, patient.address, CRED, w.period, w.period + 1, 0, deadline, chain_id=w.chain_id, contract=claims.address
    )
    claims.enrol(
        w.plan,
        patient,
        CRED,
        w.period,
        w.period + 1,
        deadline,
        eip712.sign(dev_account("patient").account, typed),
        sender=insurer,
    )
    for acct in cast.values():
        token.mint(acct, 100_000 * USD, sender=admin)
        token.approve(acct, 100 * USD, sender=admin)
    token.approve(claims, 100_000 * USD, sender=insurer)
    claims.fund(w.plan, 10 * USD, sender=insurer)

    def submit(kind: str, payee: str, day: int, code: bytes) -> None:
        claim = w.claim_input(payee, day, code, 600 * USD if code == MRI else 80 * USD)
        tx = claims.submit(claim, sender=cast[payee])
        cid = bytes(tx.events.filter(claims.ClaimSubmitted)[0].claimId)
        w.claims[f"{kind}:{payee}"], w.claim_lines[cid] = cid, claim[6]

    submit("queued", "provider", w.today - 2, OFFICE)  # benefit $48 > $10 free: queued
    # A claim the insurer submitted itself (payee the member): the only kind it may withdraw.
    own = w.claim_input("patient", w.today - 6, MRI, 600 * USD)
    tx = claims.submit(own, sender=insurer)
    cid = bytes(tx.events.filter(claims.ClaimSubmitted)[0].claimId)
    w.claims["pending:insurer"], w.claim_lines[cid] = cid, own[6]
    claims.fund(w.plan, 10_000 * USD, sender=insurer)
    submit("approved", "provider", w.today - 3, OFFICE)
    for payee in ("provider", "suspended"):
        submit("pending", payee, w.today - 4, MRI)
        submit("denied", payee, w.today - 5, COSMETIC)
    claims.setAdjuster(suspended, True, sender=insurer)
    # The suspended participant (an insurer too) has its own funded plan.
    tx = claims.createPlan(_plan_terms(w).as_tuple(), sender=suspended)
    w.plans = {"insurer": w.plan, "suspended": int(tx.events.filter(claims.PlanCreated)[0].planId)}
    token.approve(claims, 100_000 * USD, sender=suspended)
    claims.fund(w.plans["suspended"], 10 * USD, sender=suspended)
    _rules_in_force(chain, claims, suspended, w.plans["suspended"])
    w.now = int(chain.pending_timestamp)
    claims.enrol(*w.enrolment(w.plans["suspended"], VOIDABLE), sender=suspended)
    # Rule table 2 of the insurer's plan waits for its start: setCoverage may still fill it.
    w.pending_version = 2
    claims.scheduleRules(w.plan, int(chain.pending_timestamp) + 60 * DAY, KEY.key_id, sender=insurer)

    directory.suspend(suspended, REASON, sender=admin)
    # The lab's key is being rotated to the unregistered account: only that key may accept.
    directory.proposeRotation(addr["lab"], addr["unregistered"], sender=admin)
    w.gov = gov_matrix.build(project, chain, directory, admin, cast, w.fresh, addr["lab"])
    w.contracts |= w.gov.contracts
    w.now = int(chain.pending_timestamp)
    return w


# ---------------------------------------------------------------------------- calling


def _calldata(fn: dict[str, Any], args: tuple[Any, ...]) -> bytes:
    types = [collapse_if_tuple(i) for i in fn["inputs"]]
    return function_abi_to_4byte_selector(fn) + abi_encode(types, list(args))


def _revert_data(exc: Exception) -> str | None:
    if isinstance(exc, TransactionFailed):  # Ape's embedded chain: "execution reverted: b'...'"
        text = str(exc).split("execution reverted: ")[-1]
        return "0x" + literal_eval(text).hex() if text.startswith(("b'", 'b"')) else None
    data = getattr(exc, "data", None)
    if isinstance(data, str):
        return data
    if isinstance(data, dict):  # some backends wrap it: {"data": "0x..."}
        inner = data.get("data")
        return inner if isinstance(inner, str) else None
    return None


def observe(chain: Any, w: World, rows: dict[str, dict[str, Any]], decoder: ErrorDecoder) -> dict[str, dict[str, str]]:
    """``row -> role -> "ok" | error name`` for every row and role."""
    web3 = chain.provider.web3
    out: dict[str, dict[str, str]] = {}
    for row, fn in rows.items():
        contract = w.contracts[row.split(".", 1)[0]]
        out[row] = {}
        for role in ROLES:
            data = _calldata(fn, ARGS[row](w, role))
            try:
                web3.eth.call({"from": w.addr[role], "to": contract.address, "data": data})
                out[row][role] = "ok"
            except (TransactionFailed, ContractCustomError, ContractPanicError, ContractLogicError) as exc:
                name, _ = decoder.decode(_revert_data(exc))
                out[row][role] = name or f"undecoded revert ({exc})"
    return out


def classify(outcome: str) -> str:
    return "deny" if outcome in ACCESS_ERRORS else "allow"


# ---------------------------------------------------------------------------- tests


def test_matrix_doc_has_a_row_for_every_state_changing_function():
    rows = state_changing_rows(suite_abis())
    doc = read_expectations()
    missing = sorted(set(rows) - set(doc))
    stale = sorted(set(doc) - set(rows))
    assert not missing, f"state-changing functions without a row in {MATRIX_DOC.name}: {missing}"
    assert not stale, f"rows in {MATRIX_DOC.name} for functions that no longer exist: {stale}"


def test_argument_table_covers_every_state_changing_function():
    rows = state_changing_rows(suite_abis())
    assert not sorted(set(rows) - set(ARGS)), f"no arguments for {sorted(set(rows) - set(ARGS))}"
    assert not sorted(set(ARGS) - set(rows)), f"arguments for unknown functions {sorted(set(ARGS) - set(rows))}"


def test_suite_includes_every_deployed_contract():
    types = json.loads(BUILD.read_text())["contractTypes"]
    suite = set(suite_abis())
    deployed = _deploy_plugin_contracts(set(types))
    assert {"ParticipantDirectory", "ConsentRegistry", "ProvenanceRegistry"} <= deployed
    assert deployed <= suite


def test_access_matrix_matches_doc(chain, world):
    abis = suite_abis()
    rows = state_changing_rows(abis)
    undeployed = {r.split(".", 1)[0] for r in rows} - set(world.contracts)
    assert not undeployed, f"deploy these in the `world` fixture: {sorted(undeployed)}"
    decoder = ErrorDecoder.from_abis(abis.values())
    observed = observe(chain, world, rows, decoder)
    expected = read_expectations()

    problems: list[str] = []
    for row, outcomes in observed.items():
        for role, outcome in outcomes.items():
            got = classify(outcome)
            want = expected.get(row, {}).get(role)
            if got != want:
                problems.append(f"{row} as {role}: expected {want}, observed {got} ({outcome})")
            elif got == "allow" and outcome != "ok" and (row, role) not in DOMAIN_ERROR_CELLS:
                problems.append(f"{row} as {role}: allowed, but reverted with the domain error {outcome}: fix ARGS")
    if _DUMP:
        for row, outcomes in observed.items():
            print("| `" + row + "` | " + " | ".join(f"{classify(o)} {o}" for o in outcomes.values()) + " |")
    assert not problems, "access matrix differs from docs/access-matrix.md:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------- the emergency pause

PAUSE_DOC = ROOT / "docs" / "governance.md"
PAUSE_ROW = re.compile(r"^\|\s*`(?P<fn>[^`]+)`\s*\|\s*(?P<state>stops|continues)\s*\|")


# Rows no role may call in the matrix world, with the test that plays them while paused.
PAUSE_NOT_OBSERVABLE = {
    "ConsentRegistry.retirePatient(address,address)": (
        "tests/consent/test_recovery.py::test_pause_lets_a_recovery_retire_but_not_move (through ConsentRecovery)"
    ),
    "ConsentRegistry.moveConsent(address,address,uint256)": (
        "tests/consent/test_recovery.py::test_pause_lets_a_recovery_retire_but_not_move (through ConsentRecovery)"
    ),
    "ClaimSettlement.succeedInsurer(uint32)": "tests/claims/test_claims_key_rotation.py (a rotated insurer)",
}


def read_pause_table(path: Path = PAUSE_DOC) -> dict[str, str]:
    """``"Contract.fn(types)" -> "stops" | "continues"`` from docs/governance.md."""
    table: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = PAUSE_ROW.match(line.strip())
        if m:
            assert m["fn"] not in table, f"duplicate pause row {m['fn']}"
            table[m["fn"]] = m["state"]
    return table


def test_pause_table_matches_doc(chain, world, admin):
    """Pause the three domain contracts in the matrix world, then call every state-changing
    function as a caller the matrix allows: a function the table says stops must revert with
    EnforcedPause(); one that continues must still succeed."""
    abis = suite_abis()
    rows = {
        r: fn
        for r, fn in state_changing_rows(abis).items()
        if r.split(".", 1)[0] in PAUSABLE and fn["name"] not in ("pause", "unpause")
    }
    table = read_pause_table()
    assert set(table) == set(rows), (
        f"pause table in {PAUSE_DOC.name}: missing {sorted(set(rows) - set(table))}, "
        f"stale {sorted(set(table) - set(rows))}"
    )
    expected = read_expectations()
    decoder = ErrorDecoder.from_abis(abis.values())
    web3 = chain.provider.web3
    snapshot = chain.snapshot()
    try:
        for name in PAUSABLE:
            world.contracts[name].pause(sender=admin)
            assert world.contracts[name].paused()
        problems: list[str] = []
        for row, fn in rows.items():
            role = next((r for r in ROLES if expected[row][r] == "allow"), None)
            if role is None:
                assert row in PAUSE_NOT_OBSERVABLE, f"{row}: no caller is allowed in the matrix world"
                continue
            data = _calldata(fn, ARGS[row](world, role))
            contract = world.contracts[row.split(".", 1)[0]]
            try:
                web3.eth.call({"from": world.addr[role], "to": contract.address, "data": data})
                outcome = "ok"
            except (TransactionFailed, ContractCustomError, ContractPanicError, ContractLogicError) as exc:
                outcome = decoder.decode(_revert_data(exc))[0] or f"undecoded revert ({exc})"
            got = "stops" if outcome == "EnforcedPause" else "continues"
            if got != table[row]:
                problems.append(f"{row} as {role}: the table says {table[row]}, observed {outcome}")
            elif got == "continues" and outcome != "ok" and (row, role) not in DOMAIN_ERROR_CELLS:
                problems.append(f"{row} as {role}: continues, but reverted with {outcome}: fix ARGS")
        assert not problems, "pause table differs from the contracts:\n" + "\n".join(problems)
    finally:
        chain.restore(snapshot)
