"""Claims through the SDK send path (:mod:`careledger.sender`).

Every ``submitBatch``, ``submit`` and ``payBatch`` becomes one :class:`~careledger.sender.Operation`
whose id is derived from the deployment (genesis hash and contract address) and from the
claim ids it carries. The sender journals each signed transaction before it is broadcast, so a
re-run with the same claims (after Ctrl-C, a crash, a dropped transaction or a reorg) re-uses
the journalled transaction: a claim is never sent twice, and a signed but unsent one is
re-broadcast with the same nonce and bytes.

:class:`Settler` streams claims a window at a time (submit and pay, then check every receipt:
each claim adjudicated APPROVED by the rules and paid), holding nothing per claim beyond the
window, which is what a long run (``make soak``) needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from careledger.claims.client import MAX_BATCH, ClaimRequest, ClaimsClient
from careledger.claims.types import ClaimStatus
from careledger.errors import ChainRefused, InvalidInput, SettleFailed
from careledger.rpc import RpcClient, RpcError
from careledger.sender import Operation, Outcome, Sender

__all__ = ["ClaimOps", "GasLimits", "SettleFailed", "Settler", "WindowReport", "refusal", "sender_for"]


def sender_for(client: ClaimsClient, journal: Path | None = None) -> Sender:
    """A :class:`Sender` for the client's signer on the client's node (default journal: one per
    chain under ``.careledger/``)."""
    account = client.chain._require_account()
    url = getattr(client.chain.w3.provider, "endpoint_uri", None)
    if not url:
        raise InvalidInput("the claims client's node has no HTTP endpoint to send through")
    return Sender(RpcClient(str(url)), account, journal=journal)


def refusal(client: ClaimsClient, exc: RpcError, what: str) -> ChainRefused:
    """An ``eth_estimateGas`` refusal from the sender as :class:`ChainRefused` with the decoded
    custom error (what :meth:`careledger.chain.Chain.send` raises for the same refusal)."""
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    return client.chain.decoder.refusal(data if isinstance(data, str) else None, what)


def _abi_claim(
    r: ClaimRequest,
) -> tuple[bytes, bytes, int, bytes, int, bytes, list[tuple[bytes, int, int, bytes, list[bytes]]]]:
    """``ClaimInput`` for eth_abi with addresses as 20 raw bytes: the same encoding as
    :meth:`ClaimRequest.as_tuple`, without checksumming each address twice per claim."""
    return (
        bytes.fromhex(r.member[2:]),
        bytes.fromhex(r.payee[2:]),
        r.service_period,
        r.episode,
        r.resubmission,
        r.fhir_claim,
        [ln.as_tuple() for ln in r.sorted_lines],
    )


class ClaimOps:
    """Operations of one ClaimSettlement deployment, with ids unique to that deployment."""

    def __init__(self, client: ClaimsClient) -> None:
        self.client = client
        self.to = str(client.contract.address)
        genesis = client.deployment.genesis.removeprefix("0x")[:16]
        self.namespace = f"claims@{genesis}:{self.to.lower()}"
        abi = client.abi
        self._submit_batch, self._submit, self._pay_batch = (
            abi.function("submitBatch"),
            abi.function("submit"),
            abi.function("payBatch"),
        )
        #: Topics of the events a settled claim's receipts carry (0x-hex, as JSON-RPC gives them).
        self.adjudicated = abi.event("ClaimAdjudicated").topic_hex
        self.paid = abi.event("ClaimPaid").topic_hex

    @staticmethod
    def digest(cids: Sequence[bytes]) -> str:
        return keccak(b"".join(cids)).hex()

    def submit_batch(
        self, requests: Sequence[ClaimRequest], gas: int | None = None, cids: Sequence[bytes] | None = None
    ) -> Operation:
        """``submitBatch(requests)``; ``cids`` (the requests' claim ids) when already known."""
        if not 1 <= len(requests) <= MAX_BATCH:
            raise InvalidInput(f"a batch holds 1..{MAX_BATCH} claims (got {len(requests)})")
        data = self._submit_batch.calldata([_abi_claim(r) for r in requests])
        ids = cids if cids is not None else [r.claim_id for r in requests]
        return Operation(f"{self.namespace}:submitBatch:{self.digest(ids)}", self.to, "0x" + data.hex(), gas=gas)

    def submit_one(self, request: ClaimRequest, gas: int | None = None) -> Operation:
        data = self._submit.calldata(_abi_claim(request))
        return Operation(f"{self.namespace}:submit:{request.claim_id.hex()}", self.to, "0x" + data.hex(), gas=gas)

    def pay_batch(self, cids: Sequence[bytes], gas: int | None = None) -> Operation:
        if not 1 <= len(cids) <= MAX_BATCH:
            raise InvalidInput(f"a payout batch holds 1..{MAX_BATCH} claims (got {len(cids)})")
        data = self._pay_batch.calldata(list(cids))
        return Operation(f"{self.namespace}:payBatch:{self.digest(cids)}", self.to, "0x" + data.hex(), gas=gas)


@dataclass(frozen=True)
class GasLimits:
    """Gas limits for pre-built batches, from the first batch of a run (the dearest one: it
    writes the member's accumulators and the payee's token balance for the first time).
    ``gasUsed`` is net of refunds (a payout clears slots), hence the headroom."""

    submit: int
    pay: int

    @classmethod
    def from_first(cls, submit_used: int, pay_used: int) -> GasLimits:
        return cls(submit_used * 13 // 10, pay_used * 15 // 10)


@dataclass(frozen=True)
class WindowReport:
    claims: int
    transactions: int
    resent: int


def _check_settled(
    receipt: dict[str, Any] | None, cids: Sequence[bytes], topic: str, what: str, adjudicated: str
) -> None:
    """Every claim of ``cids`` has a ``topic`` event in ``receipt``; an adjudication
    (``adjudicated``, the topic of ``ClaimAdjudicated``) must have approved it."""
    if not isinstance(receipt, dict) or int(receipt.get("status", "0x0"), 16) != 1:
        raise SettleFailed(f"{what}: transaction failed or has no receipt")
    want = {"0x" + c.hex() for c in cids}
    got: set[str] = set()
    for log in receipt.get("logs", []):
        topics = log.get("topics") or []
        if len(topics) < 2 or topics[0] != topic:
            continue
        if topic == adjudicated and int(log["data"][2:66], 16) != ClaimStatus.APPROVED:
            raise SettleFailed(f"{what}: claim {topics[1]} adjudicated {ClaimStatus(int(log['data'][2:66], 16)).name}")
        got.add(topics[1])
    if got != want:
        raise SettleFailed(f"{what}: {len(want - got)} of {len(want)} claims missing from the receipt's events")


class Settler:
    """Submits and pays claims, one batch per ``submitBatch`` and ``payBatch``, a window of
    batches per call of :meth:`careledger.sender.Sender.submit`, and checks every receipt.

    The window defaults to what fits one block by gas: anvil's automine, handed more than a
    block's worth at once, was seen leaving the rest pending or dropping it (the sender then
    recovers, but only after its drop check), so a burst is kept to one block.

    The signer submits as the payee (a provider) and then triggers the payout, which anyone may
    do. Use claims the rules approve without review (under the plan's auto-approve limit)."""

    def __init__(self, client: ClaimsClient, sender: Sender, *, window: int | None = None) -> None:
        self.client = client
        self.sender = sender
        self.ops = ClaimOps(client)
        self.window = window
        self.gas: GasLimits | None = None

    @staticmethod
    def chunk_for(batch: int) -> int:
        """Transactions per JSON-RPC batch: about 800 claims of calldata per HTTP request (a
        100-claim submitBatch is ~45 kB of hex; nodes cap a request's body)."""
        return max(2, min(500, 800 // batch))

    def calibrate(self, first: Sequence[ClaimRequest]) -> WindowReport:
        """Send the first batch with estimated gas (submit, then pay once it is mined), check
        it, and derive :class:`GasLimits` and the window for the rest. Idempotent like every
        send here: on a re-run it finds both in the journal."""
        cids = [r.claim_id for r in first]
        chunk = self.chunk_for(len(first))
        try:
            submit = self.sender.submit([self.ops.submit_batch(first, cids=cids)], chunk=chunk)[0]
            pay = self.sender.submit([self.ops.pay_batch(cids)], chunk=chunk)[0]
        except RpcError as exc:
            raise refusal(self.client, exc, "first claims batch") from None
        self._verify([(submit, cids, self.ops.adjudicated), (pay, cids, self.ops.paid)], chunk)
        self.gas = GasLimits.from_first(submit.gas_used or 0, pay.gas_used or 0)
        if self.window is None:
            block = self.sender.rpc.call("eth_getBlockByNumber", ["latest", False])
            self.window = max(1, int(block["gasLimit"], 16) // (self.gas.submit + self.gas.pay))
        return WindowReport(len(first), 2, submit.resent + pay.resent)

    def settle(self, batches: Iterable[Sequence[ClaimRequest]]) -> Iterator[WindowReport]:
        """Submit and pay ``batches`` (the first one calibrates unless :meth:`calibrate` ran), a
        window at a time; yields a report per window once its receipts were checked."""
        it = iter(batches)
        if self.gas is None:
            first = next(it, None)
            if first is None:
                return
            yield self.calibrate(first)
        pending: list[Sequence[ClaimRequest]] = []
        for batch in it:
            pending.append(batch)
            if len(pending) >= (self.window or 1):
                yield self._window(pending)
                pending = []
        if pending:
            yield self._window(pending)

    def _window(self, batches: Sequence[Sequence[ClaimRequest]]) -> WindowReport:
        assert self.gas is not None
        ops: list[Operation] = []
        checks: list[tuple[list[bytes], str]] = []
        for batch in batches:
            cids = [r.claim_id for r in batch]
            ops.append(self.ops.submit_batch(batch, gas=self.gas.submit, cids=cids))
            ops.append(self.ops.pay_batch(cids, gas=self.gas.pay))
            checks += [(cids, self.ops.adjudicated), (cids, self.ops.paid)]
        chunk = self.chunk_for(max(len(b) for b in batches))
        outcomes = self.sender.submit(ops, chunk=chunk)
        self._verify([(o, cids, topic) for o, (cids, topic) in zip(outcomes, checks, strict=True)], chunk)
        return WindowReport(sum(len(b) for b in batches), len(ops), sum(o.resent for o in outcomes))

    def _verify(self, items: Sequence[tuple[Outcome, Sequence[bytes], str]], chunk: int) -> None:
        bad = [o for o, _, _ in items if not o.ok]
        if bad:
            raise SettleFailed(f"operation {bad[0].op_id} {bad[0].status} (transaction {bad[0].tx_hash})")
        receipts = self.sender.rpc.batch([("eth_getTransactionReceipt", [o.tx_hash]) for o, _, _ in items], chunk=chunk)
        for (o, cids, topic), receipt in zip(items, receipts, strict=True):
            _check_settled(receipt, cids, topic, f"operation {o.op_id}", self.ops.adjudicated)
