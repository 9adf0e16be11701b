"""A seeded random run of the whole suite on a devnet, through the SDK clients.

Every action is one a participant of the suite could take, chosen by ``random.Random(seed)``:
patients grant (from a FHIR ``Consent`` imported by the SDK), grant by signature through the
relayer (direct or via the relay app), modify, revoke, set a patient-wide deny and appoint
delegates; providers record accesses (to records kept encrypted in the SDK's record store) and
break the glass; the insurer funds plans, enrols members (a FHIR ``Coverage`` committed), sets
adjusters, reviews claims, withdraws free funds; providers and the pharmacy submit claims (a
FHIR ``Claim`` committed; one at a time or from a claims file), withdraw and resubmit them,
appeal denials; anyone adjudicates queued claims and pays approved ones; the manufacturer
commissions batches (one expiring within a day), the trading partners ship, accept, reject and
dispense, the regulator quarantines, lifts and recalls; the consortium registers, suspends and
reinstates participants, changes roles and credentials, appoints a second registrar; and time
passes past consent, batch and appeal expiries.

The off-chain inputs are real: the FHIR resources and records carry the synthetic patients'
names, dates of birth, record text and member numbers (:data:`IDENTITIES`), and only salted
commitments of them may reach the chain.

Parameters are picked from what the chain holds now, mostly so that actions can succeed, and
some on purpose so that they cannot (a stranger withdrawing a claim, shipping to oneself, a
replayed signature, ...). Those are checked to be refused, with the named error where the
contract's order of checks makes it certain. Every write is sent with a fixed gas limit (see
:class:`MinedChain`), so a refusal is mined as a reverted transaction, its calldata on chain
like any other, rather than stopped by the SDK's gas estimate. ``expected`` collects the
entities the successful actions created, for the audit to compare with the indexer's rebuilt
state: nothing a refused action attempted may appear there.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_account.hdaccount.mnemonic import Mnemonic
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from fastapi.testclient import TestClient
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.coverage import Coverage
from test_cross_contract_state_machine import DRUG as SM_DRUG
from test_cross_contract_state_machine import OFFICE as SM_OFFICE
from test_cross_contract_state_machine import RULES as SM_RULES
from test_cross_contract_state_machine import TERMS as PLAN2_TERMS
from test_cross_contract_state_machine import batch_expiry
from web3 import Web3
from web3.types import TxReceipt

from careledger.abi import type_string as _type_string
from careledger.accounts import DEV_MNEMONIC, PersonIdentity, dev_account, dev_person
from careledger.artifacts import Artifacts
from careledger.chain import Chain, ErrorDecoder
from careledger.claims.batchfile import load_rows, run_batch_file
from careledger.claims.client import ClaimRequest, ClaimsClient, fhir_commitment
from careledger.claims.demo import DEMO_RULES, DEMO_TERMS, DRUG, MRI, OFFICE, USD
from careledger.claims.fhir import describe_code
from careledger.claims.keys import PlanContext
from careledger.claims.types import ClaimStatus, CodeKey, Decision, Line, day_of, service_code
from careledger.codes import Category, Purpose, Role
from careledger.consent.client import ConsentClient, SignedAction
from careledger.consent.fhir import ADDRESS_SYSTEM, DOCUMENT_SYSTEM, import_consent
from careledger.consent.records import RecordStore
from careledger.consent.relay import RateLimiter, RelayPolicy, create_app
from careledger.consent.terms import ALL_CATEGORIES, GRANTABLE_PURPOSES, DelegateKind, ModifyTerms, mask
from careledger.demo.phi import CONSENT_STORY_PHI, DEMO_PHI, all_demo_phi
from careledger.deployments import Deployment
from careledger.directory.client import EMERGENCY_ROLE, REGISTRAR_ROLE, DirectoryClient, credential_commitment
from careledger.errors import ChainRefused, InvalidInput
from careledger.provenance.client import BatchStatus, Parcel, ProvenanceClient, code32
from careledger.provenance.gs1 import expiry_after
from careledger.provenance.ids import unit_id
from careledger.provenance.store import BatchFile, build_batch
from careledger.rpc import RpcClient
from careledger.sender import batch_call

SEED = 13  # with STEPS actions it covers every kind of action (see MUST_SUCCEED); issue #8 chose 8,
# issue #15 (pairwise pseudonyms change which payment consents exist) moved to 11; after the v2
# merges (#13, #14, #15) 11 missed a successful provenance.lift and 12 covered every kind; with
# claims v2's terminate, void, redirect, release and rule rotation in the mix, 12 missed a queued
# claim's adjudication and a recalled-batch refusal, and 13 covers every kind
STEPS = 800
LAB = "CPT:80053"  # in no plan's table: not covered, denied by the rules
PLAN2_RULES = {"CPT:99213": SM_RULES[SM_OFFICE], "NDC:0002-1433-80": SM_RULES[SM_DRUG]}  # readable codes
GTIN = 9506000134352
FAR_EXPIRY_DAYS = 3 * 365  # a batch that does not expire during the run: about three years out
ZERO32 = DEFAULT_ADMIN_ROLE = b"\0" * 32

PATIENTS = ("patient", "patient2", "patient3")
FUNDED_PATIENTS = ("patient", "patient2")  # patient3 holds no ether: signed actions only
PROVIDERS = ("clinic", "lab", "er", "clinic2")
PAYEES = ("clinic", "lab", "er", "clinic2", "pharmacy")
TRADERS = ("manufacturer", "distributor", "pharmacy")
SUSPENDABLE = ("clinic", "lab", "er", "insurer", "manufacturer", "distributor", "pharmacy", "regulator", "relayer")
CATEGORY_CLASS = {
    Category.OBSERVATION: "Observation",
    Category.CONDITION: "Condition",
    Category.MEDICATION: "MedicationRequest",
    Category.FINANCIAL: "Claim",
}
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
WAITS = ((30, 3), (600, 3), (3 * 3600, 3), (11 * 3600, 2), (2 * 86_400, 1), (8 * 86_400, 1))


@dataclass(frozen=True)
class Identity:
    """A synthetic patient's health data: lives only off chain."""

    name: str
    birth_date: str
    mrn: str
    member_number: str
    diagnosis: str
    record_text: str
    address: str

    def phi(self, who: str) -> dict[str, str]:
        return {f"{who}.{k}": v for k, v in asdict(self).items()}


IDENTITIES: dict[str, Identity] = {
    # the demo's patient (careledger.demo.phi)
    "patient": Identity(
        DEMO_PHI["patient_name"],
        DEMO_PHI["date_of_birth"],
        DEMO_PHI["mrn"],
        DEMO_PHI["member_number"],
        DEMO_PHI["diagnosis"],
        DEMO_PHI["record_text"],
        DEMO_PHI["address"],
    ),
    # the consent story's patient (careledger.consent.demo), with a member number of her own
    "patient2": Identity(
        CONSENT_STORY_PHI["patient_name"],
        CONSENT_STORY_PHI["date_of_birth"],
        CONSENT_STORY_PHI["mrn"],
        "HHI-55512-02",
        CONSENT_STORY_PHI["diagnosis"],
        f"{CONSENT_STORY_PHI['lab_result']} on 2026-11-02; {CONSENT_STORY_PHI['medication']} daily",
        "9 Mill Street, Port Ellis",
    ),
    "patient3": Identity(
        "Tomasz Wojcik-Ibarra",
        "1979-11-23",
        "MRN-7781-0032",
        "HHI-88120-07",
        "Asthma, moderate persistent",
        "FEV1 68% predicted on 2026-10-14; budesonide-formoterol 160/4.5 two puffs twice daily",
        "4 Quarry Row, Eastmere",
    ),
}


def phi_to_scan() -> dict[str, str]:
    """Every health datum of the demo and the random run: what must never be on chain."""
    out = all_demo_phi()
    for who, ident in IDENTITIES.items():
        out |= ident.phi(who)
    return out


class MinedChain(Chain):
    """The SDK's chain, sending with a fixed gas limit instead of estimating first: the SDK would
    stop a transaction its estimate sees revert, so a refusal here is mined (status 0) and its
    calldata lands on chain, where the audit must find it, and no trace of it, in the state."""

    GAS = 3_000_000

    def send(self, fn: Any, what: str, value: int = 0, gas: int | None = None) -> TxReceipt:
        return super().send(fn, what, value, self.GAS if gas is None else gas)


@dataclass
class Outcome:
    step: int
    action: str
    actor: str
    ok: bool
    error: str | None = None
    tx: str | None = None  # the mined transaction of a refusal, when the SDK reported it

    def __str__(self) -> str:
        verdict = "ok" if self.ok else f"refused {self.error}" + (f" (mined {self.tx})" if self.tx else "")
        return f"#{self.step} {self.action} by {self.actor}: {verdict}"


@dataclass
class Expected:
    """Entities the successful actions touched, in the indexer's keys."""

    participants: set[str] = field(default_factory=set)
    role_members: set[tuple[bytes, str]] = field(default_factory=set)
    consents: set[tuple[str, str]] = field(default_factory=set)
    deny: set[str] = field(default_factory=set)
    delegates: set[tuple[str, str]] = field(default_factory=set)
    glass: set[tuple[str, str]] = field(default_factory=set)
    accesses: int = 0
    batches: set[bytes] = field(default_factory=set)
    units: set[bytes] = field(default_factory=set)
    custody: set[tuple[bytes, str]] = field(default_factory=set)
    plans: set[int] = field(default_factory=set)
    rules: set[tuple[int, bytes]] = field(default_factory=set)
    adjusters: set[tuple[str, str]] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    claims: set[bytes] = field(default_factory=set)
    token_holders: set[str] = field(default_factory=set)
    anchors: set[bytes] = field(default_factory=set)

    def differences(self, states: dict[str, dict[str, Any]]) -> list[str]:
        """What the indexer's rebuilt ``states`` hold that no successful action made, and what
        a successful action made that they lack, entity by entity."""
        d, c, p, cl = (states[k] for k in ("directory", "consent", "provenance", "claims"))
        kinds: list[tuple[str, set[Any], set[Any]]] = [
            ("participants", self.participants, set(d.get("participants", {}))),
            ("directory role members", self.role_members, set(d.get("role_members", {}))),
            ("consents (patient, grantee)", self.consents, set(c.get("consents", {}))),
            ("patient-wide denies", self.deny, set(c.get("deny", {}))),
            ("delegates (patient, delegate)", self.delegates, set(c.get("delegates", {}))),
            ("break-glass windows (patient, provider)", self.glass, set(c.get("glass", {}))),
            ("batches", self.batches, set(p.get("batches", {}))),
            ("dispensed units", self.units, set(p.get("units", {}))),
            ("custody (batch, party)", self.custody, set(p.get("custody", {}))),
            ("plans", self.plans, set(cl.get("plans", {}))),
            ("coverage rules (plan, code)", self.rules, set(cl.get("rules", {}))),
            ("adjusters (insurer, adjuster)", self.adjusters, set(cl.get("adjusters", {}))),
            ("enrolled members", self.members, set(cl.get("latest", {}))),
            ("claims", self.claims, set(cl.get("claims", {}))),
            ("token holders", self.token_holders, set(cl.get("token", {}).get("balances", {}))),
            ("record anchors", self.anchors, set(states.get("gateway", {}).get("anchors", {}))),
        ]
        out = []
        for what, made, rebuilt in kinds:
            if made - rebuilt:
                out.append(f"{what}: the log lacks {_show(made - rebuilt)}")
            if rebuilt - made:
                out.append(f"{what}: the log has {_show(rebuilt - made)}, which no successful action made")
        if c.get("accesses", 0) != self.accesses:
            out.append(f"accesses: {self.accesses} recorded, the log holds {c.get('accesses', 0)}")
        return out


PAYMENT = 1 << Purpose.HPAYMT  # a payment-only consent: the plan relationship


def _person_of(actor: str) -> str:
    """``patient@clinic`` (a pseudonym in the run's tables) -> ``patient``."""
    return actor.split("@", 1)[0]


def _show(items: set[Any]) -> str:
    def one(x: Any) -> str:
        if isinstance(x, tuple):
            return "(" + ", ".join(one(v) for v in x) + ")"
        return "0x" + x.hex() if isinstance(x, bytes) else str(x)

    return ", ".join(sorted(one(x) for x in items))


class RandomRun:
    def __init__(self, w3: Web3, deployment: Deployment, artifacts: Artifacts, workdir: Path, seed: int = SEED) -> None:
        self.w3, self.deployment, self.workdir, self.seed = w3, deployment, workdir, seed
        self.rpc = RpcClient(str(w3.provider.endpoint_uri))  # type: ignore[attr-defined]
        self.rng = random.Random(seed)
        self.decoder = ErrorDecoder.from_abis(artifacts.all_abis())
        self.keys: dict[str, LocalAccount] = {a.name: a.account for a in map(dev_account, range(12))}
        # One more provider, registered during the run, and a patient without ether.
        self.keys["clinic2"] = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/12")
        self.keys["patient3"] = Account.from_key(keccak(text=f"careledger random run patient3 {seed}"))
        self.addr = {name: key.address for name, key in self.keys.items()}
        self.name_of = {a: n for n, a in self.addr.items()}
        self._clients: dict[tuple[str, str], Any] = {}
        self.records = RecordStore(workdir / "records", passphrase="random run: throwaway store")
        self._anchor_abi = artifacts["RecordAnchor"].abi
        self.outcomes: list[Outcome] = []
        self.expected = Expected()
        self.step = 0
        # what the run knows (ids it was given), to pick parameters
        self.consent_ids: dict[tuple[str, str], int] = {}
        self.signed: list[SignedAction] = []  # relayed signed actions (replayed later: refused)
        self.batches: dict[bytes, BatchFile] = {}
        self.lots = 0
        self.claims: dict[bytes, ClaimRequest] = {}
        self.plan_of: dict[str, int] = {}
        self.ctx: dict[int, PlanContext] = {}  # each plan's terms and code key (the network's side)
        # A rule table scheduled under a rotated key, per plan: (effective from, its context). Claims
        # use it from then on; claims submitted before keep their table and key.
        self.next_ctx: dict[int, tuple[int, PlanContext]] = {}
        self.rotations = 0
        self.redirected: dict[bytes, str] = {}  # claim id -> the payee it now pays (redirectPayout)
        self.code_text: dict[bytes, str] = {}  # digest -> readable code, as a key holder maps it
        # The relay app with its abuse limits out of the way (this run plays a patient population, not
        # an attack; tests/consent/test_relay_load.py plays those) and nothing cached across steps,
        # so every outcome depends on the chain alone, the same on any day.
        policy = RelayPolicy(client_limit=10**9, client_failures=10**9, fact_ttl=0.0, block_ttl=0.0)
        self.relay = TestClient(
            create_app(self.client("consent", "relayer"), RateLimiter(limit=10_000, window=60.0), policy)
        )

    # ------------------------------------------------------------------ plumbing

    def summary(self) -> str:
        """What the run did, in a few lines (printed by the test; ``pytest -rP`` shows it)."""
        ok = sum(o.ok for o in self.outcomes)
        mined = sum(bool(o.tx) for o in self.outcomes)
        kinds = {family(o.action) for o in self.outcomes}
        domains = Counter(o.action.split(".")[0] for o in self.outcomes)
        reasons = {o.error for o in self.outcomes if not o.ok}
        return (
            f"seed {self.seed}: {len(self.outcomes)} actions ({ok} succeeded, {len(self.outcomes) - ok} refused, "
            f"{mined} of them mined as reverted transactions), {len(kinds)} kinds, by "
            f"{len({o.actor for o in self.outcomes} - {'-'})} actors; per domain {dict(sorted(domains.items()))}; "
            f"{len(reasons)} distinct refusal reasons"
        )

    def client(self, kind: str, who: str) -> Any:
        key = (kind, who)
        if key not in self._clients:
            chain = MinedChain(self.w3, self.decoder, self.keys[who])
            make = {
                "consent": ConsentClient,
                "claims": ClaimsClient,
                "provenance": ProvenanceClient,
                "directory": DirectoryClient,
            }[kind]
            self._clients[key] = make(chain, self.deployment)
        return self._clients[key]

    def read(self, fns: Any) -> list[Any]:
        """Several contract reads in one JSON-RPC batch (the SDK's ``batch_call``): what the run
        looks at to pick its next parameters. Each result as web3 would give it."""
        fns = list(fns)
        raw = batch_call(self.rpc, [(fn.address, fn._encode_transaction_data()) for fn in fns])
        out = []
        for fn, result in zip(fns, raw, strict=True):
            assert isinstance(result, str), f"read {fn.fn_name} failed: {result}"
            values = abi_decode([_type_string(o) for o in fn.abi["outputs"]], bytes.fromhex(result[2:]))
            out.append(values[0] if len(values) == 1 else values)
        return out

    def fns(self, kind: str) -> Any:
        return self.client(kind, "regulator").contract.functions

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def today(self) -> int:
        return day_of(self.now())

    def do(
        self, action: str, actor: str, fn: Callable[[], Any], *, refused: bool = False, error: tuple[str, ...] = ()
    ) -> Any:
        """Run one action. ``refused``: it must be refused (by the chain with one of ``error``
        when given). Returns the action's result, or None when it was refused."""
        self.step += 1
        refusal: Outcome | None = None
        reason: str | None = None  # the chain's decoded error (None: the SDK refused it unsent)
        try:
            result = fn()
        except ChainRefused as exc:
            reason = exc.error_name
            refusal = Outcome(self.step, action, actor, False, exc.error_name or exc.message, exc.tx_hash)
        except InvalidInput as exc:
            refusal = Outcome(self.step, action, actor, False, f"SDK: {exc.message}")
        if refusal is not None:
            self.outcomes.append(refusal)
            assert not error or reason in error, f"seed {self.seed} {refusal}; expected one of {error}"
            return None
        out = Outcome(self.step, action, actor, True)
        self.outcomes.append(out)
        assert not refused, f"seed {self.seed} {out}, but it must be refused ({' or '.join(error) or 'any error'})"
        return result if result is not None else True

    def pick(self, items: Any) -> Any:
        # A dict in the order its entries were made (ids hash the dates, so sorting them would
        # make the choice depend on the day the chain started); a set sorted.
        seq = sorted(items) if isinstance(items, set) else list(items)
        return self.rng.choice(seq)

    # ------------------------------------------------------------------ the run

    def setup(self) -> None:
        """A flow under way, so the random steps soon reach the interesting interleavings: two
        plans with their rules, pools and members (patient3 in the second), and two batches at
        the pharmacy, one of which expires within a day."""
        self.w3.provider.make_request("anvil_setBalance", [self.addr["clinic2"], hex(100 * 10**18)])  # type: ignore[arg-type]
        self.expected.participants |= {self.addr[a.name] for a in map(dev_account, range(12)) if a.role}
        # the directory's constructor makes the admin its admin and first registrar
        self.expected.role_members |= {
            (DEFAULT_ADMIN_ROLE, self.addr["admin"]),
            (REGISTRAR_ROLE, self.addr["admin"]),
            (EMERGENCY_ROLE, self.addr["admin"]),  # a single-key devnet: the deployer suspends too
        }
        insurer = self.client("claims", "insurer")
        for n, (plan_terms, rules, members) in enumerate(
            (
                (DEMO_TERMS, DEMO_RULES, ("patient", "patient2")),
                (PLAN2_TERMS, PLAN2_RULES, ("patient3",)),
            )
        ):
            terms = replace(plan_terms, period_start=(self.today() - 30) * 86_400)
            plan_id, _ = self.do("claims.create_plan", "insurer", lambda t=terms: insurer.create_plan(t))
            self.expected.plans.add(plan_id)
            ctx = PlanContext(plan_id, CodeKey(keccak(text=f"careledger random run plan key {n} {self.seed}")), terms)
            self.ctx[plan_id] = ctx
            self.code_text |= ctx.codes_of([OFFICE, MRI, DRUG, LAB])
            effective = self.now() + 3
            version, _ = self.do(
                "claims.schedule_rules",
                "insurer",
                lambda p=plan_id, k=ctx.key.key_id, e=effective: insurer.schedule_rules(p, e, k),
            )
            table = {ctx.code(c): r for c, r in rules.items()}
            bindings = {ctx.code(DRUG): ctx.key.gtin_binding(plan_id, DRUG, GTIN)}
            self.do(
                "claims.set_coverage",
                "insurer",
                lambda p=plan_id, v=version, t=table, b=bindings: insurer.set_coverage(p, v, t, b),
            )
            self.expected.rules |= {(plan_id, version, code) for code in table}
            while self.now() < effective:
                self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            for member in members:
                self.plan_of[member] = plan_id
                self.enrol(member)
        self.do("claims.mint", "insurer", lambda: insurer.mint_test_tokens(self.addr["insurer"], 1_000_000 * USD))
        self.expected.token_holders.add(self.addr["insurer"])
        for plan_id in sorted(self.expected.plans):
            self.fund(plan_id, 300 * USD)
        # two batches already on their way to the pharmacy; one of them expires within a day
        for near in (False, True):
            self.commission(near_expiry=near)
            b = self.batches[list(self.batches)[-1]]
            for src, dst, quantity in (("manufacturer", "distributor", 5), ("distributor", "pharmacy", 4)):
                doc = code32(keccak(text=f"TI/TS document {b.lot} {src}"))
                self.do(
                    "provenance.ship",
                    src,
                    lambda b=b, d=dst, q=quantity, doc=doc, s=src: self.client("provenance", s).ship(
                        b.batch_id, self.addr[d], q, doc, start=0
                    ),
                )
                self.expected.custody.add((b.batch_id, self.addr[dst]))
                self.do("provenance.accept", dst, lambda b=b, d=dst: self.client("provenance", d).accept(b.batch_id, 0))
        refused = [str(o) for o in self.outcomes if not o.ok]
        assert not refused, f"the setup was refused: {refused}"

    def run(self, steps: int) -> None:
        actions = [(getattr(self, name), weight) for name, weight in ACTIONS.items()]
        fns, weights = zip(*actions, strict=True)
        target = self.step + steps
        while self.step < target:
            self.rng.choices(fns, weights)[0]()
        self.anchor_records()

    def anchor_records(self) -> None:
        """The record gateway's anchors, after the random steps (no draw from the random stream,
        so the steps before stay as they were): two providers anchor a salted record commitment
        each (refused only if the run left one suspended), and the pharmacy is refused."""
        from careledger.gateway.deploy import ANCHOR

        for who in ("clinic", "lab", "pharmacy"):
            # The directory answers for a suspended account first (a suspended pharmacy is refused
            # as suspended, an active one for lacking the provider role).
            suspended = bool(self.read([self.fns("directory").participant(self.addr[who])])[0][1])
            ident = IDENTITIES[_person_of("patient")]
            commitment = self._store(f"Patient {ident.name}, {ident.mrn}. {ident.record_text}. Held by {who}.")
            chain = MinedChain(self.w3, self.decoder, self.keys[who])
            anchor = chain.contract(self.deployment.address(ANCHOR), self._anchor_abi)
            if self.do(
                "gateway.anchor",
                who,
                lambda a=anchor, c=chain, m=commitment: c.send(a.functions.anchor(m), "anchor a record"),
                refused=who == "pharmacy",
                error=("ParticipantIsSuspended",) if suspended or who != "pharmacy" else ("ParticipantLacksRole",),
            ):
                self.expected.anchors.add(commitment)

    # ------------------------------------------------------------------ off-chain documents

    def _store(self, text: str) -> bytes:
        return self.records.store(text.encode()).commitment

    def fhir_consent(self, patient: str, grantee: str, categories: int, purposes: int, until: int) -> dict[str, Any]:
        ident = IDENTITIES[_person_of(patient)]
        text = (
            f"Consent to share records. Patient: {ident.name} (DOB {ident.birth_date}, {ident.mrn}), "
            f"{ident.address}. I allow {dev_label(grantee)} to use my records until "
            f"{dt.datetime.fromtimestamp(until, dt.UTC).date()}."
        )
        return {
            "resourceType": "Consent",
            "status": "active",
            "scope": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]
            },
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"identifier": {"system": ADDRESS_SYSTEM, "value": self.addr[patient]}, "display": ident.name},
            "identifier": [
                {"system": DOCUMENT_SYSTEM, "value": "0x" + self._store(text).hex()},
                {"system": "urn:careledger:mrn", "value": ident.mrn},
            ],
            "sourceAttachment": {
                "contentType": "text/plain",
                "title": f"Consent of {ident.name}, born {ident.birth_date}",
            },
            "provision": {
                "type": "permit",
                "actor": [
                    {
                        "role": {
                            "coding": [
                                {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}
                            ]
                        },
                        "reference": {"identifier": {"system": ADDRESS_SYSTEM, "value": self.addr[grantee]}},
                    }
                ],
                "period": {"end": dt.datetime.fromtimestamp(until, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
                "purpose": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": p.name}
                    for p in Purpose
                    if purposes >> int(p) & 1
                ],
                "class": [
                    {"system": "http://hl7.org/fhir/resource-types", "code": name}
                    for c, name in CATEGORY_CLASS.items()
                    if categories >> int(c) & 1
                ],
            },
        }

    def fhir_claim(self, member: str, payee: str, day: int, lines: tuple[Line, ...]) -> bytes:
        """The FHIR ``Claim`` the payee keeps; the chain gets its salted commitment."""
        ident = IDENTITIES[member]
        service = dt.date(1970, 1, 1) + dt.timedelta(days=day)
        resource = {
            "resourceType": "Claim",
            "status": "active",
            "use": "claim",
            "contained": [
                {
                    "resourceType": "Patient",
                    "id": "p",
                    "name": [{"text": ident.name}],
                    "birthDate": ident.birth_date,
                    "identifier": [{"value": ident.mrn}],
                    "address": [{"text": ident.address}],
                }
            ],
            "type": {"coding": [{"system": CLAIM_TYPE, "code": "pharmacy" if payee == "pharmacy" else "professional"}]},
            "patient": {"reference": "#p"},
            "created": service.isoformat(),
            "provider": {"display": dev_label(payee)},
            "priority": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]
            },
            "insurance": [
                {
                    "sequence": 1,
                    "focal": True,
                    "coverage": {"display": f"{dev_label('insurer')} member {ident.member_number}"},
                }
            ],
            "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"text": ident.diagnosis}}],
            "supportingInfo": [{"sequence": 1, "category": {"text": "note"}, "valueString": ident.record_text}],
            "item": [
                {
                    "sequence": i + 1,
                    "productOrService": {"coding": [describe_code(service_code(self.code_text[ln.code]))]},
                    "servicedDate": service.isoformat(),
                    "net": {"value": ln.billed / USD, "currency": "USD"},
                }
                for i, ln in enumerate(lines)
            ],
        }
        Claim.model_validate(resource)  # a real FHIR R4 Claim
        return fhir_commitment(json.dumps(resource).encode(), self.rng.randbytes(16))

    def coverage(self, member: str) -> bytes:
        ident = IDENTITIES[member]
        resource = {
            "resourceType": "Coverage",
            "status": "active",
            "subscriberId": ident.member_number,
            "beneficiary": {"display": f"{ident.name}, born {ident.birth_date}"},
            "payor": [{"display": dev_label("insurer")}],
        }
        Coverage.model_validate(resource)
        return fhir_commitment(json.dumps(resource).encode(), self.rng.randbytes(16))

    # ------------------------------------------------------------------ directory

    def toggle_suspension(self) -> None:
        """Suspend a participant, or reinstate one (suspensions stay short and few, so that the
        flows they interrupt go on)."""
        states = self.read(self.fns("directory").participant(self.addr[w]) for w in SUSPENDABLE)
        out = [w for w, p in zip(SUSPENDABLE, states, strict=True) if p[1]]
        who = self.pick(out) if out and (len(out) >= 2 or self.rng.random() < 0.6) else self.pick(SUSPENDABLE)
        registrar = self.pick(("admin", "admin", "regulator"))
        d = self.client("directory", registrar)
        is_registrar = d.is_registrar(self.addr[registrar])
        suspended = who in out
        if not is_registrar:
            self.do(
                "directory.suspend",
                registrar,
                lambda: d.suspend(self.addr[who], "AUDIT"),
                refused=True,
                error=("AccessControlUnauthorizedAccount",),
            )
        elif suspended:
            self.do("directory.reinstate", registrar, lambda: d.reinstate(self.addr[who]))
        elif self.rng.random() < 0.2:
            self.do(
                "directory.reinstate",
                registrar,
                lambda: d.reinstate(self.addr[who]),
                refused=True,
                error=("ParticipantNotSuspended",),
            )
        else:
            self.do("directory.suspend", registrar, lambda: d.suspend(self.addr[who], "LICENCE-REVIEW"))

    def register(self) -> None:
        d = self.client("directory", "admin")
        commitment = credential_commitment(f"NPI-{self.rng.randrange(10**9):09d}", self.rng.randbytes(16))
        if self.addr["clinic2"] in self.expected.participants:
            who = self.pick(("clinic2", "patient3"))
            if who == "clinic2":
                self.do(
                    "directory.register",
                    "admin",
                    lambda: d.register(self.addr[who], Role.PROVIDER, commitment),
                    refused=True,
                    error=("ParticipantAlreadyRegistered",),
                )
                return
            # patients are people, never registered: suspending one is refused
            self.do(
                "directory.suspend",
                "admin",
                lambda: d.suspend(self.addr[who], "NOT-VETTED"),
                refused=True,
                error=("ParticipantNotRegistered",),
            )
            return
        if self.do("directory.register", "admin", lambda: d.register(self.addr["clinic2"], Role.PROVIDER, commitment)):
            self.expected.participants.add(self.addr["clinic2"])

    def update_credential(self) -> None:
        who = self.pick(SUSPENDABLE)
        commitment = credential_commitment(f"GLN-{self.rng.randrange(10**12):012d}", self.rng.randbytes(16))
        d = self.client("directory", "admin")
        self.do("directory.update_credential", "admin", lambda: d.update_credential(self.addr[who], commitment))

    def toggle_registrar(self) -> None:
        d = self.client("directory", "admin")
        regulator = self.addr["regulator"]
        if d.is_registrar(regulator):
            ok = self.do("directory.revoke_registrar", "admin", lambda: d.revoke_registrar(regulator))
        else:
            ok = self.do("directory.grant_registrar", "admin", lambda: d.grant_registrar(regulator))
        if ok:
            self.expected.role_members.add((REGISTRAR_ROLE, regulator))

    def toggle_er_pharmacy_role(self) -> None:
        d = self.client("directory", "admin")
        er = self.addr["er"]
        roles = Role(d.get(er).roles)
        new = Role.PROVIDER if Role.PHARMACY in roles else Role.PROVIDER | Role.PHARMACY
        self.do("directory.set_roles", "admin", lambda: d.set_roles(er, new))

    def wait(self) -> None:
        seconds = self.rng.choices([w for w, _ in WAITS], [n for _, n in WAITS])[0]

        def advance() -> None:
            # An exact step from the last block (evm_increaseTime would add to a clock that also
            # runs with the wall clock, and does nothing when block times are fixed).
            at = self.now() + seconds
            self.w3.provider.make_request("evm_setNextBlockTimestamp", [at])  # type: ignore[arg-type]
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

        self.do(f"time.wait {seconds} s", "-", advance)

    # ------------------------------------------------------------------ consent

    def actor(self, patient: str, grantee: str, purposes: int) -> str:
        """Who a patient acts as toward ``grantee`` (issue #15): a payment-only consent belongs to
        the plan relationship, whose member address the claims use, so it comes from the
        patient's own address; any other consent from the patient's pairwise pseudonym for that
        grantee (``patient@grantee`` in the run's tables), so no address joins two organisations
        or a care relationship and the claims."""
        if purposes == PAYMENT:
            return patient
        name = f"{patient}@{grantee}"
        if name not in self.keys:
            key = self._person(patient).pseudonym(self.addr[grantee])
            self.keys[name], self.addr[name], self.name_of[key.address] = key, key.address, name
            if patient in FUNDED_PATIENTS:  # gas credited by the node: no transfer links the pseudonym
                self.w3.provider.make_request("anvil_setBalance", [key.address, hex(10**20)])  # type: ignore[arg-type]
        return name

    def _person(self, patient: str) -> PersonIdentity:
        if patient in ("patient", "patient2"):
            return dev_person(patient)
        entropy = keccak(text=f"careledger random run {patient} secret {self.seed}")[:16]
        return PersonIdentity(Mnemonic("english").to_mnemonic(entropy))

    def _terms(self, patient: str, grantee: str, *, payment: bool = False) -> tuple[str, Any]:
        """(the acting name, terms imported from a FHIR Consent of that address)."""
        categories = mask(self.rng.sample(sorted(CATEGORY_CLASS), self.rng.randint(1, 3)))
        if self.rng.random() < 0.6:  # usually what a claim needs too
            categories |= mask([Category.FINANCIAL])
        drawn = self.pick([mask([Purpose.TREAT]), PAYMENT, mask([Purpose.TREAT, Purpose.HPAYMT])])
        # (drawn either way, so the run's random sequence stays.) With pairwise pseudonyms a
        # "treatment and payment" consent is the plan's: payment from the member address, which
        # the claims use; treatment goes to the pseudonym in a consent of its own.
        purposes = PAYMENT if payment or drawn & PAYMENT else drawn
        until = self.now() + self.pick([600, 7200, 3 * 86_400, 30 * 86_400])
        actor = self.actor(patient, grantee, purposes)
        got_patient, terms = import_consent(self.fhir_consent(actor, grantee, categories, purposes, until))
        assert got_patient == self.addr[actor]
        return actor, terms

    def _granted(self, patient: str, grantee: str, cid: int | None) -> None:
        if cid is not None:
            self.consent_ids[(patient, grantee)] = cid
            self.expected.consents.add((self.addr[patient], self.addr[grantee]))

    def grant(self) -> None:
        patient, grantee = self.pick(FUNDED_PATIENTS), self.pick((*PROVIDERS, "pharmacy"))
        patient, terms = self._terms(patient, grantee)
        c = self.client("consent", patient)
        out = self.do("consent.grant", patient, lambda: c.grant(terms, require_vetted=self.rng.random() < 0.5))
        self._granted(patient, grantee, out[0] if out else None)

    def _relay(self, signed: SignedAction, patient: str) -> dict[str, Any] | None:
        """Submit a signed action: through the relay app, or straight from the relayer's client."""
        if self.rng.random() < 0.5:

            def via_app() -> dict[str, Any]:
                resp = self.relay.post("/actions", json=signed.to_json())
                body: dict[str, Any] = resp.json()
                if resp.status_code != 200:
                    raise ChainRefused(str(body.get("error")), error_name=body.get("customError") or "RelayRefused")
                return body

            body = self.do(f"consent.{signed.action}_signed(relay app)", patient, via_app)
        else:
            relayer = self.client("consent", "relayer")
            receipt = self.do(f"consent.{signed.action}_signed", patient, lambda: relayer.submit(signed))
            body = None if receipt is None else {"receipt": receipt}
            if receipt is not None and signed.action == "grant":
                body["consentId"] = hex(relayer.granted_id(receipt))
        if body is not None:
            self.signed.append(signed)
        return body

    def grant_signed(self) -> None:
        patient, grantee = self.pick(PATIENTS), self.pick((*PROVIDERS, "pharmacy"))
        if self.signed and self.rng.random() < 0.15:  # a signature already used: its nonce is spent
            old = self.pick(self.signed)
            relayer = self.client("consent", "relayer")
            self.do(
                f"consent.{old.action}_signed(replayed)",
                self.name_of.get(old.signer, "?"),
                lambda: relayer.submit(old),
                refused=True,
                error=("InvalidSignature", "SignatureExpired", "ParticipantIsSuspended"),
            )
            return
        patient, terms = self._terms(patient, grantee)
        c = self.client("consent", "relayer")
        if self.rng.random() < 0.1:  # signed with a deadline already passed
            late = c.sign(self.keys[patient], "grant", terms=terms, deadline=self.now() - 1)
            self.do(
                "consent.grant_signed(expired)",
                patient,
                lambda: c.submit(late),
                refused=True,
                error=("SignatureExpired",),
            )
            return
        signed = c.sign(self.keys[patient], "grant", terms=terms)
        body = self._relay(signed, patient)
        self._granted(patient, grantee, int(body["consentId"], 16) if body else None)

    def _pair(self) -> tuple[str, str, int]:
        if self.consent_ids and self.rng.random() < 0.85:
            (patient, grantee), cid = self.pick(list(self.consent_ids.items()))
            return patient, grantee, cid
        patient, grantee = self.pick(PATIENTS), self.pick(PROVIDERS)
        return patient, grantee, self.rng.randrange(1, 2**256)

    def modify(self) -> None:
        patient, grantee, cid = self._pair()
        care = "@" in patient  # a payment consent (the patient's own address) stays one
        drawn = self.pick([mask([Purpose.TREAT]), mask([Purpose.TREAT, Purpose.HPAYMT])])
        terms = ModifyTerms(
            categories=mask([Category.OBSERVATION, Category.FINANCIAL]),
            purposes=drawn if care else PAYMENT,
            valid_until=self.now() + self.pick([3600, 5 * 86_400]),
        )
        if _person_of(patient) in FUNDED_PATIENTS and self.rng.random() < 0.5:
            c = self.client("consent", patient)
            self.do("consent.modify", patient, lambda: c.modify(self.addr[grantee], cid, terms))
            return
        signed = self.client("consent", "relayer").sign(
            self.keys[patient], "modify", grantee=self.addr[grantee], consent_id=cid, terms=terms
        )
        self._relay(signed, patient)

    def revoke(self) -> None:
        patient, grantee, cid = self._pair()
        if _person_of(patient) in FUNDED_PATIENTS and self.rng.random() < 0.5:
            c = self.client("consent", patient)
            self.do("consent.revoke", patient, lambda: c.revoke(self.addr[grantee], cid))
            return
        signed = self.client("consent", "relayer").sign(
            self.keys[patient], "revoke", grantee=self.addr[grantee], consent_id=cid
        )
        self._relay(signed, patient)

    def patient_deny(self) -> None:
        patient = self.pick(FUNDED_PATIENTS)
        c = self.client("consent", patient)
        categories, purposes = self.pick([(0, 0), (mask([Category.MEDICATION]), mask([Purpose.HPAYMT]))])
        if self.do("consent.set_patient_deny", patient, lambda: c.set_patient_deny(categories, purposes)):
            self.expected.deny.add(self.addr[patient])

    def delegate(self) -> None:
        """patient2 acts for patient (a proxy): appointed, then granting for her, then removed."""
        patient, proxy = "patient", "patient2"
        c = self.client("consent", patient)
        kind = c.delegate_kind(self.addr[patient], self.addr[proxy])
        if kind == 0:
            if self.do(
                "consent.appoint_delegate",
                patient,
                lambda: c.appoint_delegate(self.addr[proxy], DelegateKind.PROXY, ALL_CATEGORIES, GRANTABLE_PURPOSES),
            ):
                self.expected.delegates.add((self.addr[patient], self.addr[proxy]))
            return
        if self.rng.random() < 0.5:
            grantee = self.pick(PROVIDERS)
            # the proxy acts for the patient's own address: payment consents only (the plan's)
            _, terms = self._terms(patient, grantee, payment=True)
            d = self.client("consent", proxy)
            out = self.do("consent.grant(by delegate)", proxy, lambda: d.grant(terms, self.addr[patient]))
            self._granted(patient, grantee, out[0] if out else None)
            return
        self.do("consent.remove_delegate", patient, lambda: c.remove_delegate(self.addr[proxy]))

    def record_access(self) -> None:
        patient, grantee, cid = self._pair()
        category = self.pick([Category.OBSERVATION, Category.FINANCIAL, Category.IMAGING])
        purpose = self.pick([Purpose.TREAT, Purpose.HPAYMT])
        if self.rng.random() < 0.2:
            grantee = self.pick(PROVIDERS)  # perhaps not the consent's grantee at all
        elif self.rng.random() < 0.75:  # within what the consent allows
            state = self.client("consent", "regulator").consent_of(self.addr[patient], self.addr[grantee])
            categories = [c for c in CATEGORY_CLASS if state.categories >> int(c) & 1]
            purposes = [p for p in (Purpose.TREAT, Purpose.HPAYMT) if state.purposes >> int(p) & 1]
            if categories and purposes:
                category, purpose = self.pick(categories), self.pick(purposes)
        ident = IDENTITIES[_person_of(patient)]
        record = self._store(f"Patient {ident.name}, {ident.mrn}, DOB {ident.birth_date}. {ident.record_text}.")
        c = self.client("consent", grantee)
        if self.do(
            "consent.record_access",
            grantee,
            lambda: c.record_access(self.addr[patient], cid, category, purpose, record),
        ):
            self.expected.accesses += 1

    def break_glass(self) -> None:
        patient, provider = self.pick(PATIENTS), self.pick(("er", "clinic"))
        ident = IDENTITIES[patient]
        note = self._store(
            f"Unresponsive on arrival: {ident.name}, born {ident.birth_date}; history of {ident.diagnosis}."
        )
        encounter = self._store(f"Encounter of {ident.name} at {provider}, step {self.step}.")
        c = self.client("consent", provider)
        reason = self.pick([Purpose.ETREAT, Purpose.BTG])
        if self.rng.random() < 0.5:  # a colleague co-signs (needed once the daily cap is reached)
            cosigner = self.pick([p for p in ("er", "clinic", "lab", "regulator") if p != provider])
            self.do(
                "consent.co_sign_break_glass",
                cosigner,
                lambda: self.client("consent", cosigner).co_sign_break_glass(
                    self.addr[patient], self.addr[provider], encounter
                ),
            )
        out = self.do(
            "consent.break_glass", provider, lambda: c.break_glass(self.addr[patient], reason, note, encounter)
        )
        if out:
            self.expected.glass.add((self.addr[patient], self.addr[provider]))
            if self.do(
                "consent.record_access(break-glass)",
                provider,
                lambda: c.record_access(self.addr[patient], out[0], Category.MEDICATION, reason, note),
            ):
                self.expected.accesses += 1

    # ------------------------------------------------------------------ claims

    def enrol(self, member: str | None = None, years: int | None = None) -> None:
        """The insurer enrols a member with the member's signature, for this plan year (always,
        at setup) or the next (refused for a year the member is already covered in)."""
        at_setup = member is not None
        member = member or self.pick(PATIENTS)
        plan_id = self.plan_of[member]
        insurer = self.client("claims", "insurer")
        record = self.coverage(member)
        current = insurer.period_at(plan_id, self.now())
        period = current + (0 if at_setup or self.rng.random() < 0.7 else 1)
        # one plan year or two (the cap); at setup two, so the insurer has a year to terminate
        last = period + (years - 1 if years else 1 if at_setup or self.rng.random() < 0.4 else 0)
        deadline = self.now() + 7 * 86_400  # a week to collect the member's agreement
        signature = insurer.sign_enrolment(self.keys[member], plan_id, record, period, last, deadline)
        if self.do(
            "claims.enrol",
            "insurer",
            lambda: insurer.enrol(plan_id, self.addr[member], record, period, last, deadline, signature),
        ):
            self.expected.members.add(self.addr[member])

    def _insurer_active(self) -> bool:
        return bool(self.client("directory", "regulator").is_active(self.addr["insurer"], Role.INSURER))

    def _enrolments(self) -> list[tuple[str, int, int, int, int]]:
        """(member, enrolment, plan, fromPeriod, toPeriod) of every enrolment not voided."""
        f = self.fns("claims")
        counts = self.read(f.enrolmentOf(self.addr[m], 0) for m in PATIENTS)
        wanted = [(m, n) for m, (_, count) in zip(PATIENTS, counts, strict=True) for n in range(1, int(count) + 1)]
        rows = self.read(f.enrolmentOf(self.addr[m], n) for m, n in wanted)
        return [
            (m, n, int(e[0]), int(e[1]), int(e[2]))
            for (m, n), (e, _) in zip(wanted, rows, strict=True)
            if not e[3] and int(e[1]) <= int(e[2])  # not voided, not terminated before it started
        ]

    def _cover(self, member: str, period: int) -> tuple[int, int]:
        return self.client("claims", "regulator").cover(self.addr[member], period)

    def terminate(self) -> None:
        """The plan's insurer ends an enrolment early: shorter only (the cover of the later year
        goes), never before the current year, never longer (InvalidTermination)."""
        insurer = self.client("claims", "insurer")
        live = self._enrolments()
        if not live:
            return
        member, n, plan_id, first, last = self.pick(live)
        current = insurer.period_at(plan_id, self.now() + 1)
        active = self._insurer_active()
        if last > current and active and self.rng.random() < 0.7:
            if self.do("claims.terminate", "insurer", lambda: insurer.terminate(self.addr[member], n, current)):
                assert self._cover(member, last) == (0, 0), f"seed {self.seed}: {member} still covered after {current}"
                if first <= current:
                    assert self._cover(member, current) == (plan_id, n), f"seed {self.seed}: running year lost"
            return
        errors = ("InvalidTermination",) if active else ("ParticipantIsSuspended", "ParticipantNotActive")
        self.do(
            "claims.terminate",
            "insurer",
            lambda: insurer.terminate(self.addr[member], n, last),  # not shorter
            refused=True,
            error=errors,
        )

    def void_enrolment(self) -> None:
        """A registrar voids an enrolment made by a suspended insurer (the member may enrol again);
        while the insurer is active the registrar can undo nothing (InsurerStillActive)."""
        live = self._enrolments()
        if not live:
            return
        member, n, _plan, first, last = self.pick(live)
        registrar = self.client("claims", "admin")
        if self._insurer_active():
            if self.rng.random() < 0.6:
                self.do(
                    "claims.void_enrolment",
                    "admin",
                    lambda: registrar.void_enrolment(self.addr[member], n),
                    refused=True,
                    error=("InsurerStillActive",),
                )
                return
            # The consortium suspends the insurer (an audit), voids the enrolment it doubts, and
            # reinstates the insurer once the audit is over.
            d = self.client("directory", "admin")
            if not self.do("directory.suspend", "admin", lambda: d.suspend(self.addr["insurer"], "PLAN-AUDIT")):
                return
            voided = self._void(registrar, member, n, first, last)
            self.do("directory.reinstate", "admin", lambda: d.reinstate(self.addr["insurer"]))
            if voided and first <= self._current(member) <= last:
                # The voided year is free again: the member enrols anew (with its signature).
                before = len(self.outcomes)
                self.enrol(member, years=1)
                assert self.outcomes[before].ok, (
                    f"seed {self.seed}: no new enrolment after a void: {self.outcomes[before]}"
                )
            return
        self._void(registrar, member, n, first, last)

    def _current(self, member: str) -> int:
        return int(self.client("claims", "regulator").period_at(self.plan_of[member], self.now() + 1))

    def _void(self, registrar: ClaimsClient, member: str, n: int, first: int, last: int) -> bool:
        if not self.do("claims.void_enrolment", "admin", lambda: registrar.void_enrolment(self.addr[member], n)):
            return False
        for period in range(first, last + 1):
            assert self._cover(member, period)[1] != n, f"seed {self.seed}: voided enrolment still covers"
        return True

    def reschedule_rules(self) -> None:
        """The insurer schedules the next rule table of a plan under a rotated code key, in force
        from a future time; one table may wait at a time (RulesAlreadyScheduled). Claims before
        it keep their table and key (their digests keep their meaning for the old key's holders)."""
        plan_id = self.pick(sorted(self.ctx))
        insurer = self.client("claims", "insurer")
        old = self.context(plan_id)
        self.rotations += 1
        key = CodeKey(keccak(text=f"careledger random run plan {plan_id} key {self.rotations} {self.seed}"))
        ctx = PlanContext(plan_id, key, old.terms)
        effective = self.now() + self.pick([20, 600, 3 * 3600])
        out = self.do(
            "claims.schedule_rules",
            "insurer",
            lambda: insurer.schedule_rules(plan_id, effective, key.key_id),
            refused=plan_id in self.next_ctx,
            error=("RulesAlreadyScheduled", "ParticipantIsSuspended", "ParticipantNotActive"),
        )
        if not out:
            return
        version, _ = out
        rules = DEMO_RULES if plan_id == min(self.ctx) else PLAN2_RULES
        table = {ctx.code(c): r for c, r in rules.items()}
        bindings = {ctx.code(DRUG): key.gtin_binding(plan_id, DRUG, GTIN)}
        if self.do("claims.set_coverage", "insurer", lambda: insurer.set_coverage(plan_id, version, table, bindings)):
            self.expected.rules |= {(plan_id, version, code) for code in table}
        self.code_text |= ctx.codes_of([OFFICE, MRI, DRUG, LAB])
        self.next_ctx[plan_id] = (effective, ctx)

    def context(self, plan_id: int) -> PlanContext:
        """The plan's context for a claim mined in the next block: the rotated key once its table
        is in force (blocks are 1 s apart)."""
        pending = self.next_ctx.get(plan_id)
        if pending is not None and pending[0] <= self.now() + 1:
            self.ctx[plan_id] = pending[1]
            del self.next_ctx[plan_id]
        return self.ctx[plan_id]

    def payee_of(self, cid: bytes) -> str:
        return self.redirected.get(cid, self.claims[cid].payee)

    def redirect(self) -> None:
        """The payee of an approved, unpaid claim has it paid to another of its addresses' peers
        (a payee the token would refuse would do this); anyone else is refused (NotClaimParty)."""
        payable = self._claims_in(ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)
        if not payable:
            return
        cid = self.pick(payable)
        payee = self.name_of[self.payee_of(cid)]
        to = self.pick([p for p in PAYEES if p != payee])
        who = payee if self.rng.random() < 0.75 else self.pick([p for p in PAYEES if p != payee])
        c = self.client("claims", who)
        if who != payee:
            self.do("claims.redirect", who, lambda: c.redirect_payout(cid, self.addr[to]), refused=True,
                    error=("NotClaimParty",))  # fmt: skip
            return
        if self.do("claims.redirect", who, lambda: c.redirect_payout(cid, self.addr[to])):
            self.redirected[cid] = self.addr[to]
            assert c.info(cid).payee == self.addr[to]

    def release_lapsed(self) -> None:
        """The insurer may take back an owed payout only once a transfer of it failed and the
        timeout passed: the run's token refuses no payee, so every attempt is refused (the
        success is played with a blocking token in tests/claims/test_v2_powers_settlement.py)."""
        open_ = self._claims_in(ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED, ClaimStatus.PAID)
        if not open_:
            return
        cid = self.pick(open_)
        insurer = self.client("claims", "insurer")
        self.do(
            "claims.release_lapsed",
            "insurer",
            lambda: insurer.release_lapsed(cid),
            refused=True,
            error=("PayoutNotLapsed", "InvalidClaimStatus", "ParticipantIsSuspended", "ParticipantNotActive"),
        )

    def fund(self, plan_id: int | None = None, amount: int | None = None) -> None:
        plan_id = plan_id or self.pick(self.expected.plans)
        amount = amount or self.pick([50, 150, 400]) * USD
        insurer = self.client("claims", "insurer")
        if self.do("claims.fund", "insurer", lambda: insurer.fund(plan_id, amount)):
            self.expected.token_holders.add(insurer.contract.address)

    def withdraw_free(self) -> None:
        plan_id = self.pick(self.expected.plans)
        insurer = self.client("claims", "insurer")
        free = insurer.pool(plan_id).free
        amount = self.pick([max(free // 4, 1), max(free // 4, 1), free + 1])
        if self.do(
            "claims.withdraw_free", "insurer", lambda: insurer.withdraw_free(plan_id, amount, self.addr["insurer"])
        ):
            self.expected.token_holders.add(self.addr["insurer"])

    def set_adjuster(self) -> None:
        adjuster = self.pick(("lab", "er", "regulator"))
        allowed = self.rng.random() < 0.7
        insurer = self.client("claims", "insurer")
        if self.do("claims.set_adjuster", "insurer", lambda: insurer.set_adjuster(self.addr[adjuster], allowed)):
            self.expected.adjusters.add((self.addr["insurer"], self.addr[adjuster]))

    def _lines(self, payee: str, member: str) -> tuple[Line, ...]:
        ctx = self.context(self.plan_of[member])
        kinds = ["office", "office", "big", "mri", "lab", "lab+office", "drug"]
        kind = self.pick(kinds if payee != "pharmacy" else ["drug"])
        if kind == "drug":
            units = self.expected.units
            unit = (
                self.pick(units) if units and self.rng.random() < 0.8 else unit_id(GTIN, f"X{self.rng.randrange(999)}")
            )
            return (ctx.line(DRUG, 1, 30 * USD, GTIN, (unit,)),)
        return {
            "office": (ctx.line(OFFICE, 1, self.pick([80, 180, 300]) * USD),),
            "big": (ctx.line(OFFICE, 1, 650 * USD),),
            "mri": (ctx.line(MRI, 1, 1_200 * USD),),
            "lab": (ctx.line(LAB, 1, 60 * USD),),
            "lab+office": (ctx.line(LAB, 1, 60 * USD), ctx.line(OFFICE, 1, 90 * USD)),
        }[kind]

    def _request(self) -> tuple[str, ClaimRequest]:
        pairs = [(m, p) for m in PATIENTS for p in PAYEES]
        granted = [pair for pair in pairs if pair in self.consent_ids]
        f = self.fns("consent")
        allowed = self.read(
            f.canAccess(self.addr[m], self.addr[p], int(Category.FINANCIAL), int(Purpose.HPAYMT)) for m, p in granted
        )
        consented = [pair for pair, (ok, _) in zip(granted, allowed, strict=True) if ok]
        member, payee = self.pick(consented if consented and self.rng.random() < 0.75 else pairs)
        day = self.today() - self.pick([0, 1, 2, 3, 5, 8, 13])
        lines = self._lines(payee, member)
        ctx = self.context(self.plan_of[member])
        return payee, ctx.request(
            self.addr[member], self.addr[payee], day, lines, self.fhir_claim(member, payee, day, lines)
        )

    def submit(self) -> None:
        payee, req = self._request()
        c = self.client("claims", payee)
        if self.do("claims.submit", payee, lambda: c.submit(req)):
            self.claims[req.claim_id] = req
            self.expected.claims.add(req.claim_id)

    def submit_file(self) -> None:
        """A claims file of a few rows through the SDK's batch path (dry-run, then submitBatch)."""
        payee = self.pick(("clinic", "lab", "er"))
        rows = []
        reqs = []
        plan_id = self.pick(sorted(self.ctx))  # a file holds one plan's claims (one code key)
        ctx = self.context(plan_id)
        members = [m for m in PATIENTS if self.plan_of[m] == plan_id]
        for _ in range(self.rng.randint(2, 4)):
            member = self.pick(members)
            day = self.today() - self.rng.randint(0, 6)
            lines = self._lines(payee, member)
            fhir = self.fhir_claim(member, payee, day, lines)
            req = ctx.request(self.addr[member], self.addr[payee], day, lines, fhir)
            reqs.append(req)
            rows.append(
                {
                    "member": req.member,
                    "serviceDate": (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat(),
                    "fhirClaim": "0x" + req.fhir_claim.hex(),
                    "lines": [
                        {"code": self.code_text[ln.code], "units": ln.units, "billed": str(ln.billed / USD)}
                        for ln in lines
                    ],
                }
            )
        path = self.workdir / f"claims-{self.step}.json"
        path.parent.mkdir(parents=True, exist_ok=True)  # a file may come before any stored record
        path.write_text(json.dumps(rows, indent=1))
        c = self.client("claims", payee)
        results = self.do(
            "claims.submit_file", payee, lambda: run_batch_file(c, load_rows(path, c.chain.account.address, 6, ctx))
        )
        for res, req in zip(results or [], reqs, strict=False):
            if res.error is None and not res.resumed:
                assert res.claim_id == "0x" + req.claim_id.hex()
                self.claims[req.claim_id] = req
                self.expected.claims.add(req.claim_id)

    def _claims_in(self, *statuses: ClaimStatus) -> list[bytes]:
        """Of the dozen latest claims, those now in one of ``statuses``."""
        recent = list(self.claims)[-12:]
        claims = self.read(self.fns("claims").claimOf(cid) for cid in recent)
        return [cid for cid, c in zip(recent, claims, strict=True) if ClaimStatus(c[1]) in statuses]

    def adjudicate(self) -> None:
        queued = self._claims_in(ClaimStatus.SUBMITTED)
        if not queued:
            return
        cid = self.pick(queued)
        if self.rng.random() < 0.5:  # the insurer tops the pool up for the claims it queued
            plan_id = self.read([self.fns("claims").claimOf(cid)])[0][3]
            self.fund(plan_id, 1_000 * USD)
        who = self.pick(("regulator", "admin", "patient"))
        self.do("claims.adjudicate", who, lambda: self.client("claims", who).adjudicate(cid))

    def review(self) -> None:
        pending = self._claims_in(ClaimStatus.PENDING_REVIEW)
        if not pending:
            return
        cid = self.pick(pending)
        who = self.pick(("insurer",) * 4 + ("lab", "er", "regulator"))
        c = self.client("claims", who)
        decision = self.pick([Decision.APPROVE, Decision.PARTIALLY_APPROVE, Decision.DENY])
        if decision is Decision.APPROVE:
            self.do("claims.review(approve)", who, lambda: c.review(cid, decision))
        elif decision is Decision.DENY:
            self.do("claims.review(deny)", who, lambda: c.review(cid, decision, 0, 50))
        else:
            req = self.claims[cid]
            try:
                benefit = c.quote(req.member, req.service_period, req.lines).benefit
            except ChainRefused:  # the member's cover was voided since: the review is refused too
                benefit = 2
            self.do("claims.review(partial)", who, lambda: c.review(cid, decision, max(benefit // 2, 1), 50))

    def withdraw(self) -> None:
        open_ = self._claims_in(ClaimStatus.SUBMITTED, ClaimStatus.PENDING_REVIEW)
        if not open_:
            return
        cid = self.pick(open_)
        payee = self.name_of[self.claims[cid].payee]
        who = self.pick((payee, payee, "insurer", "pharmacy" if payee != "pharmacy" else "clinic"))
        c = self.client("claims", who)
        # The insurer withdraws only claims it submitted (none here: providers submit them all).
        if who == payee:
            self.do("claims.withdraw", who, lambda: c.withdraw(cid))
        else:
            self.do("claims.withdraw", who, lambda: c.withdraw(cid), refused=True, error=("NotClaimParty",))

    def resubmit(self) -> None:
        """A withdrawn claim sent again as resubmission n+1 (a new id)."""
        again = {}
        for cid in self._claims_in(ClaimStatus.WITHDRAWN):
            old = self.claims[cid]
            req = ClaimRequest(
                old.member, old.payee, old.service_period, old.episode, old.lines, old.fhir_claim, old.resubmission + 1
            )
            if req.claim_id not in self.claims:
                again[cid] = req
        if not again:
            return
        req = again[self.pick(again)]
        payee = self.name_of[req.payee]
        if self.do("claims.resubmit", payee, lambda: self.client("claims", payee).submit(req)):
            self.claims[req.claim_id] = req
            self.expected.claims.add(req.claim_id)

    def appeal(self) -> None:
        denied = self._claims_in(ClaimStatus.DENIED)
        if not denied:
            return
        cid = self.pick(denied)
        req = self.claims[cid]
        member, payee = self.name_of[req.member], self.name_of[req.payee]
        who = self.pick([w for w in (member, payee, "distributor") if w != "patient3"])
        c = self.client("claims", who)
        if who == "distributor":
            self.do("claims.appeal", who, lambda: c.appeal(cid), refused=True, error=("NotClaimParty",))
        else:
            self.do("claims.appeal", who, lambda: c.appeal(cid))

    def pay_batch(self) -> None:
        """Everything payable, in one payBatch; now and then with a paid claim in it, which the
        batch skips (``PayoutSkipped``) instead of failing as a whole."""
        payable = self._claims_in(ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)
        if not payable:
            return
        paid = self._claims_in(ClaimStatus.PAID)
        if paid and self.rng.random() < 0.3:
            payable = [*payable, self.pick(paid)]
        who = self.pick(("regulator", "insurer"))
        if self.do("claims.pay_batch", who, lambda: self.client("claims", who).pay_batch(payable)):
            self.expected.token_holders |= {self.payee_of(cid) for cid in payable}

    def pay(self) -> None:
        payable = self._claims_in(ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED)
        who = self.pick(("regulator", "clinic", "patient"))
        c = self.client("claims", who)
        if not payable and self.rng.random() < 0.7:
            return
        if not payable or self.rng.random() < 0.05:  # a claim nobody submitted, or one already paid
            cid = self.pick(self._claims_in(ClaimStatus.PAID) or [keccak(text=f"no claim {self.step}")])
            self.do("claims.pay", who, lambda: c.pay(cid), refused=True, error=("InvalidClaimStatus",))
            return
        cid = self.pick(payable)
        if self.do("claims.pay", who, lambda: c.pay(cid)):
            self.expected.token_holders.add(self.payee_of(cid))

    # ------------------------------------------------------------------ provenance

    def commission(self, near_expiry: bool | None = None) -> None:
        m = self.client("provenance", "manufacturer")
        if self.batches and self.rng.random() < 0.1:  # the same GTIN + lot again
            b = self.batches[self.pick(self.batches)]
            self.do("provenance.commission(again)", "manufacturer", lambda: m.commission(b), refused=True)
            return
        self.lots += 1
        near = self.rng.random() < 0.2 if near_expiry is None else near_expiry
        expiry = batch_expiry(self.now())[0] if near else int(expiry_after(FAR_EXPIRY_DAYS, self.now()))
        lot = f"RR{self.seed % 1000:03d}-{self.lots:03d}"
        b = build_batch(GTIN, lot, expiry, (f"R{self.lots:03d}S{i:04d}" for i in range(self.rng.randint(6, 12))))
        if self.do("provenance.commission", "manufacturer", lambda: m.commission(b)):
            self.batches[b.batch_id] = b
            self.expected.batches.add(b.batch_id)
            self.expected.custody.add((b.batch_id, self.addr["manufacturer"]))

    def _parcels(self, bid: bytes) -> list[Parcel]:
        return self.client("provenance", "regulator").parcels(bid)

    def _recent(self, n: int = 4) -> dict[bytes, tuple[BatchStatus, bool, dict[str, tuple[int, int]]]]:
        """The latest ``n`` batches: status, whether expired, and (positions held, positions in
        transit to it) of each party that trades, from the batch's parcels."""
        bids = list(self.batches)[-n:]
        parties = (*TRADERS, "er")
        f = self.fns("provenance")
        infos = self.read([f.batchInfo(bid) for bid in bids])
        now = self.now()
        out = {}
        for bid, info in zip(bids, infos, strict=True):
            parcels = self._parcels(bid)
            custody = {
                t: (
                    sum(p.size for p in parcels if p.holder == self.addr[t] and p.to is None),
                    sum(p.size for p in parcels if p.to == self.addr[t]),
                )
                for t in parties
            }
            out[bid] = (BatchStatus(info[5]), info[4] <= now, custody)
        return out

    def _held(self, bid: bytes, who: str) -> list[Parcel]:
        return [p for p in self._parcels(bid) if p.holder == self.addr[who] and p.to is None]

    def _batch(
        self, where: Callable[[dict[str, tuple[int, int]]], bool]
    ) -> tuple[BatchFile, dict[str, tuple[int, int]]] | None:
        """A batch: usually an active one of the latest few whose custody meets ``where``, now and
        then any of them."""
        recent = self._recent()
        if not recent:
            return None
        good = [
            bid for bid, (status, old, c) in recent.items() if status is BatchStatus.ACTIVE and not old and where(c)
        ]
        if not good and self.rng.random() < 0.7:
            return None
        bid = self.pick(good if good and self.rng.random() < 0.9 else recent)
        return self.batches[bid], recent[bid][2]

    def ship(self) -> None:
        found = self._batch(lambda c: any(c[t][0] for t in TRADERS))
        if found is None:
            return
        b, custody = found
        held = {t: custody[t][0] for t in TRADERS}
        recalled = [
            (bid, t)
            for bid, (status, _, c) in self._recent(len(self.batches)).items()
            if status is BatchStatus.RECALLED
            for t in TRADERS
            if c[t][0]
        ]
        if recalled and self.rng.random() < 0.15:  # goods of a recalled batch go nowhere
            bid, src = self.pick(recalled)
            dst = "distributor" if src != "distributor" else "pharmacy"
            doc = code32(keccak(text=f"TI/TS document recalled {self.step}"))
            c = self.client("provenance", src)
            start = self._held(bid, src)[0].start
            self.do(
                "provenance.ship(recalled)",
                src,
                lambda: c.ship(bid, self.addr[dst], 1, doc, start=start),
                refused=True,
                error=("BatchIsRecalled",),
            )
            return
        holders = [t for t in TRADERS if held[t]] or list(TRADERS)
        # mostly the goods move on from the furthest party downstream that has them
        src = holders[-1] if self.rng.random() < 0.7 else self.pick(holders)
        doc = code32(keccak(text=f"TI/TS document {b.lot} {self.step}"))
        c = self.client("provenance", src)
        mine = self._held(b.batch_id, src)
        # The biggest parcel it holds (a party without one names parcel 0: refused on chain).
        parcel = max(mine, key=lambda p: p.size) if mine else None
        start, size = (parcel.start, parcel.size) if parcel else (0, 0)
        if self.rng.random() < 0.1:
            self.do(
                "provenance.ship(to self)",
                src,
                lambda: c.ship(b.batch_id, self.addr[src], 1, doc, start=start),
                refused=True,
                error=("ShipToSelf",),
            )
            return
        downstream = {"manufacturer": "distributor", "distributor": "pharmacy", "pharmacy": "distributor"}[src]
        dst = downstream if self.rng.random() < 0.8 else self.pick([t for t in (*TRADERS, "er") if t != src])
        quantity = self.pick([1, 2, max(size // 2, 1), max(size, 1), size + 1])
        if self.do("provenance.ship", src, lambda: c.ship(b.batch_id, self.addr[dst], quantity, doc, start=start)):
            self.expected.custody.add((b.batch_id, self.addr[dst]))

    def _incoming(self) -> tuple[BatchFile, str, int] | None:
        recent = self._recent()
        waiting = [(bid, t) for bid, (_, _, c) in recent.items() for t, (_, incoming) in c.items() if incoming]
        if not waiting:
            return None
        bid, t = self.pick(waiting)
        start = next(p.start for p in self._parcels(bid) if p.to == self.addr[t])
        return self.batches[bid], t, start

    def accept(self) -> None:
        found = self._incoming()
        if found is not None:
            b, who, start = found
            self.do("provenance.accept", who, lambda: self.client("provenance", who).accept(b.batch_id, start))

    def reject(self) -> None:
        found = self._incoming()
        if found is not None:
            b, who, start = found
            reason = code32("DAMAGED-IN-TRANSIT")
            self.do("provenance.reject", who, lambda: self.client("provenance", who).reject(b.batch_id, reason, start))

    def _shelf_serial(self, b: BatchFile, who: str) -> str:
        """A serial from a parcel ``who`` holds (any serial of the batch when it holds none)."""
        mine = self._held(b.batch_id, who)
        if not mine:
            return str(self.pick(b.serials))
        p = self.pick(mine)
        return b.serials[self.rng.randrange(p.start, p.end)]

    def _dispense(self, c: ProvenanceClient, b: BatchFile, serial: str) -> Any:
        found = b.locate(serial)
        index, proof = found if found else (0, [])
        return c.dispense(b.gtin, b.lot, serial, index, proof)

    def dispense(self) -> None:
        bids = list(self.batches)
        f = self.fns("provenance")
        infos = self.read([f.batchInfo(bid) for bid in bids])
        now = self.now()
        expired = [
            bid
            for bid, info in zip(bids, infos, strict=True)
            if BatchStatus(info[5]) is BatchStatus.ACTIVE and info[4] <= now and self._held(bid, "pharmacy")
        ]
        if expired and self.rng.random() < 0.3:  # past its expiry date: it stays on the shelf
            b = self.batches[self.pick(expired)]
            serial = self._shelf_serial(b, "pharmacy")
            self.do(
                "provenance.dispense(expired)",
                "pharmacy",
                lambda: self._dispense(self.client("provenance", "pharmacy"), b, serial),
                refused=True,
                error=("BatchExpired",),
            )
            return
        found = self._batch(lambda c: c["pharmacy"][0] > 0)
        if found is None:
            return
        b = found[0]
        who = self.pick(("pharmacy",) * 6 + ("distributor", "er"))
        c = self.client("provenance", who)
        if self.rng.random() < 0.1:  # a counterfeit: a serial outside the batch, with a real proof
            fake = f"FAKE{self.step:05d}"
            index, proof = b.locate(self._shelf_serial(b, "pharmacy")) or (0, [])
            self.do(
                "provenance.dispense(counterfeit)",
                who,
                lambda: c.dispense(b.gtin, b.lot, fake, index, proof),
                refused=True,
            )
            return
        serial = self._shelf_serial(b, "pharmacy") if self.rng.random() < 0.9 else str(self.pick(b.serials))
        if self.do("provenance.dispense", who, lambda: self._dispense(c, b, serial)):
            self.expected.units.add(unit_id(b.gtin, serial))

    def authority(self) -> None:
        """The regulator (or the batch's manufacturer, or someone without the right) quarantines,
        lifts or recalls; a recall is rarer, it ends a batch for good."""
        if not self.batches:
            return
        b = self.batches[self.pick(self.batches)]
        who = self.pick(("regulator", "regulator", "regulator", "manufacturer", "distributor"))
        status = self.client("provenance", "regulator").batch_info(b.batch_id).status
        if status is BatchStatus.QUARANTINED:
            action = self.pick(["lift"] * 6 + ["quarantine", "recall"])
        else:
            action = self.pick(["quarantine"] * 3 + ["lift", "recall"])
        c = self.client("provenance", who)
        fn = {"quarantine": c.quarantine, "lift": c.lift_quarantine, "recall": c.recall}[action]
        reason = code32(f"{action.upper()}-{self.step}")
        self.do(f"provenance.{action}", who, lambda: fn(b.batch_id, reason))


ACTIONS: dict[str, int] = {
    # directory and time
    "toggle_suspension": 4,
    "register": 1,
    "update_credential": 1,
    "toggle_registrar": 1,
    "toggle_er_pharmacy_role": 1,
    "wait": 4,
    # consent
    "grant": 6,
    "grant_signed": 6,
    "modify": 3,
    "revoke": 3,
    "patient_deny": 1,
    "delegate": 2,
    "record_access": 6,
    "break_glass": 2,
    # claims
    "enrol": 2,
    "terminate": 1,
    "void_enrolment": 1,
    "reschedule_rules": 1,
    "fund": 2,
    "withdraw_free": 1,
    "set_adjuster": 1,
    "submit": 9,
    "submit_file": 1,
    "adjudicate": 3,
    "review": 4,
    "withdraw": 2,
    "resubmit": 2,
    "appeal": 2,
    "pay": 4,
    "pay_batch": 1,
    "redirect": 1,
    "release_lapsed": 1,
    # provenance
    "commission": 1,
    "ship": 7,
    "accept": 5,
    "reject": 2,
    "dispense": 6,
    "authority": 3,
}


def dev_label(name: str) -> str:
    try:
        return dev_account(name).label
    except KeyError:
        return "Harbourside Family Practice"


# What the run must have done, for its audit to mean anything: every kind of action succeeded at
# least once (the families of Outcome.action, i.e. the name before any "(variant)").
MUST_SUCCEED = (
    "directory.register",
    "directory.suspend",
    "directory.reinstate",
    "directory.set_roles",
    "directory.update_credential",
    "directory.grant_registrar",
    "directory.revoke_registrar",
    "consent.grant",
    "consent.grant_signed",
    "consent.modify",
    "consent.modify_signed",
    "consent.revoke",
    "consent.revoke_signed",
    "consent.set_patient_deny",
    "consent.appoint_delegate",
    "consent.remove_delegate",
    "consent.record_access",
    "consent.break_glass",
    "claims.create_plan",
    "claims.enrol",
    "claims.fund",
    "claims.withdraw_free",
    "claims.set_adjuster",
    "claims.submit",
    "claims.submit_file",
    "claims.adjudicate",
    "claims.review",
    "claims.withdraw",
    "claims.resubmit",
    "claims.appeal",
    "claims.pay",
    "claims.pay_batch",
    "claims.terminate",
    "claims.void_enrolment",
    "claims.schedule_rules",
    "claims.redirect",
    "provenance.commission",
    "provenance.ship",
    "provenance.accept",
    "provenance.reject",
    "provenance.dispense",
    "provenance.quarantine",
    "provenance.lift",
    "provenance.recall",
    "gateway.anchor",
    "time.wait",
)
# ... and was refused for these reasons at least once: time past a consent's, a batch's, a
# signature's expiry; a claim with no payment consent, a recalled batch, a suspended actor.
MUST_BE_REFUSED_WITH = (
    "ConsentExpired",
    "BatchExpired",
    "SignatureExpired",
    "NoPaymentConsent",
    "BatchIsRecalled",
    "ParticipantIsSuspended",
    "InvalidTermination",
    "InsurerStillActive",
    "PayoutNotLapsed",
    "NotClaimParty",
)


def family(action: str) -> str:
    return action.split("(")[0].split(" ")[0]


def missing_coverage(outcomes: list[Outcome]) -> list[str]:
    done = {family(o.action) for o in outcomes if o.ok}
    refused = {o.error for o in outcomes if not o.ok}
    missing = [f"no successful {a}" for a in MUST_SUCCEED if a not in done]
    missing += [f"nothing refused with {e}" for e in MUST_BE_REFUSED_WITH if e not in refused]
    return missing
