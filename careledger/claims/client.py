"""Typed client of the ClaimSettlement contract (plans, enrolment, pool, claims, payouts).

Every write goes through :meth:`careledger.chain.Chain.send`, so a refusal arrives as
:class:`careledger.errors.ChainRefused` carrying the decoded custom error. Reads that need a
claim's lines (review, adjudicate, FHIR export) take them from the claim's events: the chain
holds only a hash of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.types import TxReceipt

from careledger.abi import ContractAbi
from careledger.abi import contract as contract_abi
from careledger.artifacts import load_artifacts
from careledger.chain import Chain, checksum
from careledger.claims.types import (
    Adjudication,
    ClaimStatus,
    CoverageRule,
    Decision,
    Line,
    LineAdjudication,
    PlanTerms,
    claim_id,
)
from careledger.deployments import Deployment
from careledger.errors import InvalidInput
from careledger.exactjson import quantity, uint_id

__all__ = [
    "ClaimInfo",
    "ClaimRequest",
    "ClaimsClient",
    "PoolState",
    "SubmitResult",
    "fhir_commitment",
    "payment_token_name",
]

CONTRACT = "ClaimSettlement"
DEVNET_TOKEN = "DevnetTestUSD"
ZERO32 = b"\0" * 32
MAX_BATCH = 100


def payment_token_name() -> str:
    """The deployments key of the payment token (the devnet test token's artifact name)."""
    return DEVNET_TOKEN


def fhir_commitment(document: bytes, salt: bytes) -> bytes:
    """Salted commitment to an off-chain FHIR document: keccak256(salt || document bytes).

    The salt (>= 16 random bytes, kept with the document) stops anyone from confirming a guess
    of the document's content."""
    if len(salt) < 16:
        raise InvalidInput("a commitment salt must be at least 16 bytes")
    return keccak(salt + document)


@dataclass(frozen=True)
class ClaimRequest:
    """A claim to submit (``ClaimInput``)."""

    member: str
    payee: str
    service_period: int
    episode: bytes
    lines: tuple[Line, ...]
    fhir_claim: bytes
    resubmission: int = 0

    def __post_init__(self) -> None:
        if not self.lines:
            raise InvalidInput("a claim needs at least one line")
        if len(self.fhir_claim) != 32:
            raise InvalidInput("the FHIR Claim commitment must be 32 bytes")
        if len(self.episode) != 32:
            raise InvalidInput("the episode digest must be 32 bytes")
        if self.service_period < 0 or self.service_period >= 2**32:
            raise InvalidInput(f"service period {self.service_period} is out of range")

    @property
    def sorted_lines(self) -> tuple[Line, ...]:
        """Lines in code order, as the contract requires."""
        return tuple(sorted(self.lines, key=lambda ln: ln.code))

    @property
    def claim_id(self) -> bytes:
        return claim_id(self.member, self.payee, self.service_period, self.episode, self.resubmission)

    def as_tuple(self) -> tuple[str, str, int, bytes, int, bytes, list[tuple[bytes, int, int, bytes, list[bytes]]]]:
        return (
            to_checksum_address(self.member),
            to_checksum_address(self.payee),
            self.service_period,
            self.episode,
            self.resubmission,
            self.fhir_claim,
            [ln.as_tuple() for ln in self.sorted_lines],
        )


@dataclass(frozen=True)
class SubmitResult:
    claim_id: bytes
    status: ClaimStatus
    amount: int
    tx: str
    gas_used: int

    def to_json(self) -> dict[str, Any]:
        return {
            "claimId": "0x" + self.claim_id.hex(),
            "status": self.status.name,
            "amount": quantity(self.amount),
            "tx": self.tx,
            "gasUsed": self.gas_used,
        }


@dataclass(frozen=True)
class PoolState:
    deposited: int
    withdrawn: int
    funded: int
    paid: int
    owed: int
    free: int

    @property
    def balanced(self) -> bool:
        return self.funded == self.paid + self.owed + self.free

    def to_json(self) -> dict[str, Any]:
        return {  # token amounts: decimal strings (docs/json.md)
            "deposited": quantity(self.deposited),
            "withdrawn": quantity(self.withdrawn),
            "funded": quantity(self.funded),
            "paid": quantity(self.paid),
            "owed": quantity(self.owed),
            "free": quantity(self.free),
            "identityHolds": self.balanced,
        }


@dataclass
class ClaimInfo:
    """A claim rebuilt from its events (what the chain stores, plus lines and decisions)."""

    claim_id: bytes
    status: ClaimStatus
    member: str = ""
    payee: str = ""
    plan_id: int = 0
    submitter: str = ""
    consent_id: int = 0
    service_period: int = 0
    version: int = 0
    episode: bytes = ZERO32
    fhir_claim: bytes = ZERO32
    lines: tuple[Line, ...] = ()
    amount: int = 0
    deductible: int = 0
    reason: int = 0
    adjuster: str | None = None
    line_adjudications: tuple[LineAdjudication, ...] = ()
    paid: int | None = None
    decision: ClaimStatus | None = None  # the last decision (kept when the claim is then paid)
    appealed: bool = False
    history: list[tuple[str, int]] = field(default_factory=list)  # (event, block)

    def to_json(self) -> dict[str, Any]:
        return {
            "claimId": "0x" + self.claim_id.hex(),
            "status": self.status.name,
            "member": self.member,
            "payee": self.payee,
            "planId": self.plan_id,
            "submitter": self.submitter,
            "consentId": uint_id(self.consent_id),
            "servicePeriod": self.service_period,
            "rulesVersion": self.version,
            "lines": [
                {
                    "code": "0x" + ln.code.hex(),
                    "units": ln.units,
                    "billed": quantity(ln.billed),
                    "unitIds": ["0x" + u.hex() for u in ln.unit_ids],
                }
                for ln in self.lines
            ],
            "amount": quantity(self.amount),
            "deductible": quantity(self.deductible),
            "reason": self.reason,
            "adjuster": self.adjuster,
            "paid": None if self.paid is None else quantity(self.paid),
            "decision": self.decision.name if self.decision is not None else None,
            "appealed": self.appealed,
            "history": [{"event": e, "block": b} for e, b in self.history],
        }


def _values(t: Any, names: Sequence[str]) -> list[Any]:
    """A decoded struct's fields in order, whether web3 gave a tuple or a named mapping."""
    if isinstance(t, Mapping):
        return [t[n] for n in names]
    return list(t)


def _line(t: Any) -> Line:
    v = _values(t, ("code", "units", "billed", "gtinSalt", "unitIds"))
    return Line(bytes(v[0]), int(v[1]), int(v[2]), bytes(v[3]), tuple(bytes(u) for u in v[4]))


def _line_adjudication(t: Any) -> LineAdjudication:
    return LineAdjudication.from_tuple(
        _values(t, ("eligible", "deductible", "copay", "coinsurance", "benefit", "reason"))
    )


class ClaimsClient:
    """Calls of one ClaimSettlement deployment, signed by ``chain``'s account."""

    NAME = CONTRACT

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        artifacts = load_artifacts()
        self.contract: Contract = chain.contract(deployment.address(self.NAME), artifacts[self.NAME].abi)
        self.deploy_block = deployment.contracts[self.NAME].block
        token_address = self.chain.call(self.contract.functions.wiring(), "read wiring")[3]
        self.token: Contract = chain.contract(token_address, artifacts[DEVNET_TOKEN].abi)
        #: Selectors, topics and calldata of the contract, from the build (careledger.abi).
        self.abi: ContractAbi = contract_abi(self.NAME, artifacts)
        self._topics: dict[bytes, str] = {t: ev.name for t, ev in self.abi.by_topic.items()}

    # ------------------------------------------------------------------ helpers

    def _events(self, receipt: TxReceipt, name: str) -> list[Any]:
        event = self.contract.events[name]()
        out = []
        address = self.contract.address.lower()
        for log in receipt["logs"]:
            if str(log["address"]).lower() != address or not log["topics"]:
                continue
            if self._topics.get(bytes(log["topics"][0])) == name:
                out.append(event.process_log(log)["args"])
        return out

    # ------------------------------------------------------------------ plans

    def create_plan(self, terms: PlanTerms) -> tuple[int, TxReceipt]:
        receipt = self.chain.send(self.contract.functions.createPlan(terms.as_tuple()), "create plan")
        return int(self._events(receipt, "PlanCreated")[0]["planId"]), receipt

    def schedule_rules(self, plan_id: int, effective_from: int, code_key_id: bytes) -> tuple[int, TxReceipt]:
        """A new rule table of ``plan_id``, in force from ``effective_from``; returns its version."""
        receipt = self.chain.send(
            self.contract.functions.scheduleRules(plan_id, effective_from, code_key_id),
            f"schedule rules of plan {plan_id}",
        )
        return int(self._events(receipt, "RulesScheduled")[0]["version"]), receipt

    def set_coverage(
        self,
        plan_id: int,
        version: int,
        rules: dict[bytes, CoverageRule],
        gtin_bindings: Mapping[bytes, bytes] | None = None,
    ) -> TxReceipt:
        """Rules (code digest -> rule) of rule table ``version``, before it takes effect."""
        if not rules or len(rules) > MAX_BATCH:
            raise InvalidInput(f"a coverage table holds 1..{MAX_BATCH} codes (got {len(rules)})")
        codes = list(rules)
        bindings = [gtin_bindings.get(c, ZERO32) for c in codes] if gtin_bindings else []
        return self.chain.send(
            self.contract.functions.setCoverage(
                plan_id, version, codes, [rules[c].as_tuple() for c in codes], bindings
            ),
            f"set coverage of plan {plan_id} v{version}",
        )

    def schedule_rules_now(self, plan_id: int, code_key_id: bytes, lead: int = 30) -> tuple[int, int]:
        """A rule table in force ``lead`` seconds (plus the plan's notice) from the latest block:
        time to set its rules first. Returns (version, effective time)."""
        now = int(self.chain.w3.eth.get_block("latest")["timestamp"])
        effective = now + self.plan(plan_id)[1].rule_notice + lead
        version, _ = self.schedule_rules(plan_id, effective, code_key_id)
        return version, effective

    def coverage_now(
        self,
        plan_id: int,
        code_key_id: bytes,
        rules: dict[bytes, CoverageRule],
        gtin_bindings: Mapping[bytes, bytes] | None = None,
        *,
        wait: bool = True,
    ) -> tuple[int, int, TxReceipt]:
        """The next rule table of ``plan_id`` (code key ``code_key_id``), in force as soon as the
        plan's notice allows: scheduled, its ``rules`` set and, with ``wait``, waited into force
        (:meth:`wait_until`). What a new plan's first table needs, for the CLI, the demo, the
        web seed and the bench alike. Returns (version, effective time, the coverage receipt)."""
        version, effective = self.schedule_rules_now(plan_id, code_key_id)
        receipt = self.set_coverage(plan_id, version, rules, gtin_bindings)
        if wait:
            self.wait_until(effective)
        return version, effective, receipt

    def wait_until(self, timestamp: int, poll: float = 0.5) -> None:
        """Until the chain's time reaches ``timestamp``: a devnet is moved there (a block mined
        at that time); any other chain is waited for."""
        import time

        w3 = self.chain.w3
        if int(w3.eth.get_block("latest")["timestamp"]) >= timestamp:
            return
        if self.chain.is_devnet():
            w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            return
        while int(w3.eth.get_block("latest")["timestamp"]) < timestamp:
            time.sleep(poll)

    def rules_in_force(self, plan_id: int) -> tuple[int, int]:
        """(version in force now, latest version) of ``plan_id``."""
        v, latest = self.chain.call(self.contract.functions.rulesInForce(plan_id), "read rule versions")
        return int(v), int(latest)

    def code_key_id(self, plan_id: int, version: int) -> bytes | None:
        """The code key id rule table ``version`` of ``plan_id`` was scheduled with (its
        ``RulesScheduled`` event), or None when there is no such table."""
        event = self.contract.events.RulesScheduled()
        for log in event.get_logs(
            from_block=self.deploy_block, argument_filters={"planId": plan_id, "version": version}
        ):
            return bytes(log["args"]["codeKeyId"])
        return None

    def period_at(self, plan_id: int, timestamp: int) -> int:
        return int(self.chain.call(self.contract.functions.periodAt(plan_id, timestamp), "read plan period"))

    def set_adjuster(self, adjuster: str, allowed: bool = True) -> TxReceipt:
        return self.chain.send(self.contract.functions.setAdjuster(checksum(adjuster), allowed), "set adjuster")

    def enrolment_nonce(self, member: str) -> int:
        return int(self.chain.call(self.contract.functions.nonces(checksum(member, "member")), "read nonce"))

    def sign_enrolment(
        self,
        key: LocalAccount,
        plan_id: int,
        member_record: bytes,
        from_period: int,
        to_period: int,
        deadline: int,
    ) -> bytes:
        """The member's side of :meth:`enrol`: ``key`` (the plan pseudonym's, which holds no
        ether: signing is off chain) signs its agreement to be enrolled in ``plan_id`` for plan
        years ``from_period``..``to_period``, under its current enrolment nonce
        (:func:`careledger.claims.enrolment.enrolment_typed_data`)."""
        from careledger.claims.enrolment import enrolment_typed_data
        from careledger.consent import eip712

        typed = enrolment_typed_data(
            plan_id,
            key.address,
            member_record,
            from_period,
            to_period,
            self.enrolment_nonce(key.address),
            deadline,
            chain_id=self.chain.chain_id,
            contract=self.contract.address,
        )
        return eip712.sign(key, typed)

    def enrol(
        self,
        plan_id: int,
        member: str,
        member_record: bytes,
        from_period: int,
        to_period: int,
        deadline: int,
        signature: bytes,
    ) -> tuple[int, TxReceipt]:
        """Enrols ``member`` (a plan pseudonym) with the member's signature over the enrolment
        (:func:`careledger.claims.enrolment.enrolment_typed_data`)."""
        receipt = self.chain.send(
            self.contract.functions.enrol(
                plan_id, checksum(member, "member"), member_record, from_period, to_period, deadline, signature
            ),
            f"enrol {member} in plan {plan_id}",
        )
        return int(self._events(receipt, "MemberEnrolled")[0]["enrolment"]), receipt

    def enrolment(self, member: str, enrolment: int) -> tuple[int, int, int, bool, bytes, int]:
        """(planId, fromPeriod, toPeriod, voided, memberRecord, the member's enrolment count)."""
        e, count = self.chain.call(
            self.contract.functions.enrolmentOf(checksum(member, "member"), enrolment), "read enrolment"
        )
        v = _values(e, ("planId", "fromPeriod", "toPeriod", "voided", "memberRecord"))
        return int(v[0]), int(v[1]), int(v[2]), bool(v[3]), bytes(v[4]), int(count)

    def cover(self, member: str, period: int) -> tuple[int, int]:
        """(planId, enrolment) covering ``member`` in plan period ``period`` ((0, 0): none)."""
        c = self.chain.call(self.contract.functions.coverOf(checksum(member, "member"), period), "read cover")
        v = _values(c, ("planId", "enrolment", "deductibleMet", "benefitPaid", "voided"))
        return (0, 0) if bool(v[4]) else (int(v[0]), int(v[1]))

    def terminate(self, member: str, enrolment: int, last_period: int) -> TxReceipt:
        """The plan's insurer ends enrolment ``enrolment`` of ``member`` after ``last_period``
        (shorter only, never into the past: ``InvalidTermination``)."""
        return self.chain.send(
            self.contract.functions.terminate(checksum(member, "member"), enrolment, last_period),
            f"terminate enrolment {enrolment} of {member}",
        )

    def void_enrolment(self, member: str, enrolment: int) -> TxReceipt:
        """A directory registrar voids an enrolment whose insurer is suspended
        (``InsurerStillActive`` otherwise)."""
        return self.chain.send(
            self.contract.functions.voidEnrolment(checksum(member, "member"), enrolment),
            f"void enrolment {enrolment} of {member}",
        )

    # ------------------------------------------------------------------ pool

    def fund(self, plan_id: int, amount: int) -> TxReceipt:
        """Approve (when needed) and fund; raises ChainRefused with TokenFeeOnTransfer etc."""
        owner = self.chain._require_account().address
        allowance = int(self.chain.call(self.token.functions.allowance(owner, self.contract.address), "allowance"))
        if allowance < amount:
            self.chain.send(self.token.functions.approve(self.contract.address, amount), "approve pool funding")
        return self.chain.send(self.contract.functions.fund(plan_id, amount), f"fund plan {plan_id}")

    def withdraw_free(self, plan_id: int, amount: int, to: str) -> TxReceipt:
        return self.chain.send(
            self.contract.functions.withdrawFree(plan_id, amount, checksum(to)),
            f"withdraw {amount} from plan {plan_id}",
        )

    def pool(self, plan_id: int) -> PoolState:
        v = self.chain.call(self.contract.functions.poolOf(plan_id), f"read pool of plan {plan_id}")
        return PoolState(*(int(x) for x in v))

    def mint_test_tokens(self, to: str, amount: int) -> TxReceipt:
        """Devnet only (:meth:`careledger.chain.Chain.is_devnet`): DevnetTestUSD's open faucet."""
        from careledger.devchain import require_devnet

        require_devnet(self.chain.is_devnet(), "test tokens", self.chain.chain_id, "fund the pool in the real token")
        return self.chain.send(self.token.functions.mint(checksum(to), amount), "mint devnet test tokens")

    def balance_of(self, account: str) -> int:
        return int(self.chain.call(self.token.functions.balanceOf(checksum(account)), "token balance"))

    # ------------------------------------------------------------------ claims

    def submit(self, request: ClaimRequest) -> SubmitResult:
        receipt = self.chain.send(self.contract.functions.submit(request.as_tuple()), "submit claim")
        return self._result(request.claim_id, receipt)

    def submit_batch(self, requests: Sequence[ClaimRequest]) -> tuple[list[SubmitResult], TxReceipt]:
        if not requests or len(requests) > MAX_BATCH:
            raise InvalidInput(f"a batch holds 1..{MAX_BATCH} claims (got {len(requests)})")
        receipt = self.chain.send(
            self.contract.functions.submitBatch([r.as_tuple() for r in requests]), f"submit {len(requests)} claims"
        )
        return [self._result(r.claim_id, receipt) for r in requests], receipt

    def check_submit(self, request: ClaimRequest) -> None:
        """Dry-run a submission as the signer (eth_call); raises ChainRefused with the reason."""
        acct = self.chain._require_account()
        fn = self.contract.functions.submit(request.as_tuple())
        try:
            fn.call({"from": acct.address})
        except Exception as exc:  # noqa: BLE001 - decoded below into ChainRefused
            from careledger.chain import _revert_data

            raise self.chain.decoder.refusal(_revert_data(exc), "submit claim") from None

    def _result(self, cid: bytes, receipt: TxReceipt) -> SubmitResult:
        status = ClaimStatus.SUBMITTED
        amount = 0
        for name in ("ClaimPendingReview", "ClaimAdjudicated", "ClaimPaid"):
            for ev in self._events(receipt, name):
                if bytes(ev["claimId"]) != cid:
                    continue
                if name == "ClaimPendingReview":
                    status = ClaimStatus.PENDING_REVIEW
                elif name == "ClaimAdjudicated":
                    status, amount = ClaimStatus(int(ev["status"])), int(ev["amount"])
                else:
                    status = ClaimStatus.PAID
        return SubmitResult(cid, status, amount, receipt["transactionHash"].to_0x_hex(), int(receipt["gasUsed"]))

    def adjudicate(self, cid: bytes) -> TxReceipt:
        lines = [ln.as_tuple() for ln in self.info(cid).lines]
        return self.chain.send(self.contract.functions.adjudicate(cid, lines), "adjudicate claim")

    def review(self, cid: bytes, decision: Decision, amount: int = 0, reason: int = 0) -> TxReceipt:
        lines = [ln.as_tuple() for ln in self.info(cid).lines]
        return self.chain.send(
            self.contract.functions.review(cid, lines, int(decision), amount, reason),
            f"review claim ({decision.name.lower()})",
        )

    def withdraw(self, cid: bytes) -> TxReceipt:
        return self.chain.send(self.contract.functions.withdraw(cid), "withdraw claim")

    def appeal(self, cid: bytes) -> TxReceipt:
        return self.chain.send(self.contract.functions.appeal(cid), "appeal claim")

    def pay(self, cid: bytes) -> TxReceipt:
        return self.chain.send(self.contract.functions.pay(cid), "pay claim")

    def pay_batch(self, cids: Sequence[bytes]) -> tuple[int, TxReceipt]:
        if not cids or len(cids) > MAX_BATCH:
            raise InvalidInput(f"a payout batch holds 1..{MAX_BATCH} claims (got {len(cids)})")
        receipt = self.chain.send(self.contract.functions.payBatch(list(cids)), f"pay {len(cids)} claims")
        return len(self._events(receipt, "ClaimPaid")), receipt

    def redirect_payout(self, cid: bytes, to: str) -> TxReceipt:
        """The payee of an approved, unpaid claim names another address to be paid."""
        return self.chain.send(self.contract.functions.redirectPayout(cid, checksum(to)), "redirect payout")

    def release_lapsed(self, cid: bytes) -> TxReceipt:
        """The plan's insurer returns an unreceivable payout to the pool's free funds, once its
        first failed transfer is ``PAYOUT_TIMEOUT`` old and the payee did not redirect it."""
        return self.chain.send(self.contract.functions.releaseLapsed(cid), "release lapsed payout")

    # ------------------------------------------------------------------ reads

    def status(self, cid: bytes) -> ClaimStatus:
        c = self.chain.call(self.contract.functions.claimOf(cid), "read claim")
        return ClaimStatus(int(c[1]))

    def quote(self, member: str, service_period: int, lines: Iterable[Line]) -> Adjudication:
        ordered = sorted(lines, key=lambda ln: ln.code)
        a = self.chain.call(
            self.contract.functions.quote(checksum(member), service_period, [ln.as_tuple() for ln in ordered]),
            "quote claim",
        )
        return Adjudication(
            int(a[0]),
            int(a[1]),
            int(a[2]),
            bool(a[3]),
            bool(a[4]),
            bool(a[5]),
            bool(a[6]),
            tuple(_line_adjudication(x) for x in a[7]),
        )

    def plan(self, plan_id: int) -> tuple[str, PlanTerms]:
        insurer, t = self.chain.call(self.contract.functions.planOf(plan_id), f"read plan {plan_id}")
        return str(insurer), PlanTerms(*(int(x) for x in t))

    def info(self, cid: bytes) -> ClaimInfo:
        """The claim rebuilt from its events (raises InvalidInput for an unknown id)."""
        status = self.status(cid)
        if status == ClaimStatus.NONE:
            raise InvalidInput(f"no claim 0x{cid.hex()} on this deployment")
        info = ClaimInfo(cid, status)
        logs = self.chain.w3.eth.get_logs(
            {
                "address": self.contract.address,
                "fromBlock": self.deploy_block,
                "toBlock": "latest",
                "topics": [None, "0x" + cid.hex()],
            }
        )
        for log in logs:
            name = self._topics.get(bytes(log["topics"][0]))
            if name is None:
                continue
            args = self.contract.events[name]().process_log(log)["args"]
            info.history.append((name, int(log["blockNumber"])))
            if name == "ClaimSubmitted":
                info.member, info.payee = str(args["member"]), str(args["payee"])
                info.plan_id, info.submitter = int(args["planId"]), str(args["submitter"])
                info.consent_id = int(args["consentId"])
                info.service_period, info.version = int(args["servicePeriod"]), int(args["version"])
                info.episode, info.fhir_claim = bytes(args["episode"]), bytes(args["fhirClaim"])
                info.lines = tuple(_line(t) for t in args["lines"])
            elif name == "ClaimAdjudicated":
                info.decision = ClaimStatus(int(args["status"]))
                info.amount, info.deductible = int(args["amount"]), int(args["deductible"])
                info.reason = int(args["reason"])
                adjuster = str(args["adjuster"])
                info.adjuster = None if int(adjuster, 16) == 0 else adjuster
                info.line_adjudications = tuple(_line_adjudication(x) for x in args["lines"])
            elif name == "ClaimPaid":
                info.paid = int(args["amount"])
            elif name == "ClaimAppealed":
                info.appealed = True
            elif name == "PayoutRedirected":
                info.payee = str(args["to"])
        return info

    # ------------------------------------------------------------------ raw calldata (bench fast path)

    def submit_batch_calldata(self, requests: Sequence[ClaimRequest]) -> bytes:
        """ABI-encoded ``submitBatch`` call, built without a node round trip."""
        return self.abi.calldata("submitBatch", [r.as_tuple() for r in requests])

    def pay_batch_calldata(self, cids: Sequence[bytes]) -> bytes:
        return self.abi.calldata("payBatch", list(cids))
