"""Following the chain into the store: by block ranges sized to the node, resumable, reorg-safe.

One round (:meth:`Follower.step`):

1. the head (less ``confirmations``) is read;
2. the cursor's block is compared with the chain's block of that number; when the hashes differ
   (a reorg, or a node that lost blocks) the store rolls back to the highest stored block the
   chain still has (the common ancestor), in one transaction;
3. ``eth_getLogs`` over the next range for every suite contract. A node that refuses the range
   ("range too large", "too many results", "limit exceeded", a suggested range) gets half of it
   (or the range it suggested), down to one block; after a run of successes the span grows back;
4. the headers of the blocks with logs, and of the range's first and last blocks, in one batch:
   every log must carry its block's hash, and the first block's parent must be the cursor,
   else the range is fetched again in the next round (the chain moved under us);
5. rows, the range's first and last block headers and the cursor are written in one transaction
   (the ancestor search walks those; a reorg inside a range rolls back to the range before it).
   While catching up, consecutive ranges are written together (up to ``batch_events`` events or
   ``batch_seconds`` of fetching: one commit, and one write of each index page, for many ranges
   of the node's size); the batch is written as soon as the head is reached, the chain moves, or
   the sync stops (an error, Ctrl-C).

The store thus holds only blocks that were canonical when written, and :meth:`Follower.verify_tip`
(run before every query the API or the CLI serves) rolls back any the chain no longer has.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from careledger.artifacts import Artifacts
from careledger.deployments import Deployment
from careledger.errors import InvalidInput, NodeFailed, SuiteNotDeployed
from careledger.exactjson import dumps
from careledger.index.decode import LogDecoder
from careledger.index.store import Block, Cursor, Store
from careledger.rpc import RpcClient, RpcError

__all__ = ["Follower", "SyncReport", "is_range_error"]

_RANGE_PATTERNS = re.compile(
    r"range|too many|too large|limit|exceed|more than \d+|response size|timeout|query returned",
    re.IGNORECASE,
)
MAX_MOVES = 20
_SUGGESTED = re.compile(r"\[\s*(0x[0-9a-fA-F]+)\s*,\s*(0x[0-9a-fA-F]+)\s*\]")


def is_range_error(exc: RpcError) -> bool:
    """Whether a node refused ``eth_getLogs`` because of the size of the range or the answer
    (providers word it differently; -32005 is the common "limit exceeded" code)."""
    return exc.code == -32005 or bool(_RANGE_PATTERNS.search(exc.message))


@dataclass
class _Batch:
    """Ranges fetched and checked but not yet written: their rows, the blocks kept, where the
    cursor goes, and the ranges (for ``on_range``)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    cursor: Cursor | None = None
    ranges: list[tuple[int, int, int]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)


@dataclass
class SyncReport:
    start: int | None = None
    cursor: int | None = None
    head: int = 0
    events: int = 0
    ranges: int = 0
    narrowed: int = 0
    reorgs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.start,
            "cursor": self.cursor,
            "head": self.head,
            "events": self.events,
            "ranges": self.ranges,
            "narrowed": self.narrowed,
            "reorgs": self.reorgs,
            "seconds": round(self.seconds, 3),
        }


def _meta_of(decoder: LogDecoder, chain_id: int, artifacts: Artifacts) -> dict[str, str]:
    contracts = {
        name: {
            "address": decoder.address_of[name],
            "block": decoder.deployment.contracts[name].block,
            "abiHash": artifacts[name].abi_hash,
        }
        for _, name in decoder.contracts
    }
    return {"chainId": str(chain_id), "contracts": dumps(contracts, indent=None, sort_keys=True)}


class Follower:
    def __init__(
        self,
        rpc: RpcClient,
        store: Store,
        deployment: Deployment,
        artifacts: Artifacts,
        *,
        max_range: int = 2000,
        confirmations: int = 0,
        on_range: Callable[[int, int, int], None] | None = None,
        batch_events: int = 10_000,
        batch_seconds: float = 1.0,
    ) -> None:
        if max_range < 1 or confirmations < 0:
            raise InvalidInput("--max-range must be at least 1 and --confirmations at least 0")
        if batch_events < 1 or batch_seconds < 0:
            raise InvalidInput("a write batch holds at least one event and lasts no less than 0 seconds")
        self.rpc = rpc
        self.store = store
        self.decoder = LogDecoder(deployment, artifacts)
        self.max_range = max_range
        self.span = max_range
        self.confirmations = confirmations
        self.on_range = on_range
        self.batch_events = batch_events
        self.batch_seconds = batch_seconds
        self._pending: _Batch | None = None
        self._streak = 0
        self._bind(deployment.chain_id, artifacts)

    def _bind(self, chain_id: int, artifacts: Artifacts) -> None:
        """Claim an empty store for this chain and build; refuse one built for another."""
        want = _meta_of(self.decoder, chain_id, artifacts)
        have = self.store.meta()
        if not have:
            self.store.set_meta(want)
            return
        if have.get("chainId") != want["chainId"]:
            raise SuiteNotDeployed(
                f"this index was built for chain {have.get('chainId')}, the node is chain {chain_id}; "
                "use another --db or 'careledger index reset'"
            )
        if have.get("contracts") != want["contracts"]:
            raise SuiteNotDeployed(
                "this index was built for other contracts or another build of them (an address, a deployment "
                "block or an ABI changed); run 'careledger index reset' and sync again"
            )

    # ------------------------------------------------------------------ chain reads

    def _head(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16) - self.confirmations

    def _headers(self, numbers: list[int]) -> dict[int, Block | None]:
        replies = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers], chunk=200)
        out: dict[int, Block | None] = {}
        for n, b in zip(numbers, replies, strict=True):
            if isinstance(b, RpcError):
                raise NodeFailed(f"block {n}: {b.message}")
            out[n] = (
                Block(n, str(b["hash"]), str(b["parentHash"]), int(b["timestamp"], 16)) if isinstance(b, dict) else None
            )
        return out

    def _logs(self, start: int, end: int) -> tuple[list[dict[str, Any]], int]:
        """Logs of ``[start, end']`` for the largest ``end' <= end`` the node accepts."""
        while True:
            try:
                logs = self.rpc.call(
                    "eth_getLogs", [{"address": self.decoder.addresses, "fromBlock": hex(start), "toBlock": hex(end)}]
                )
                return list(logs), end
            except RpcError as exc:
                if not is_range_error(exc) or end == start:
                    raise NodeFailed(f"eth_getLogs {start}..{end} refused: {exc.message}") from exc
                suggested = _SUGGESTED.search(exc.message)
                if suggested and int(suggested.group(1), 16) == start and int(suggested.group(2), 16) < end:
                    end = int(suggested.group(2), 16)
                else:
                    end = start + (end - start) // 2
                self.span = max(1, end - start + 1)
                self._streak = 0
                self.report.narrowed += 1

    # ------------------------------------------------------------------ reorgs

    def verify_tip(self) -> dict[str, Any] | None:
        """Roll back when the chain no longer has the cursor's block; returns what was rolled
        back (None when the tip is canonical or the store is empty)."""
        cur = self.store.cursor()
        if cur is None:
            return None
        now = self._headers([cur.block])[cur.block]
        if now is not None and now.hash == cur.hash:
            return None
        return self._rollback(cur)

    def _rollback(self, cur: Cursor) -> dict[str, Any]:
        ancestor: Cursor | None = None
        below = cur.block
        while ancestor is None:
            stored = self.store.blocks_below(below, 64)
            if not stored:
                break
            chain = self._headers([b.number for b in stored])
            for b in stored:  # highest first
                got = chain[b.number]
                if got is not None and got.hash == b.hash:
                    ancestor = Cursor(b.number, b.hash)
                    break
            below = stored[-1].number
        dropped = self.store.rollback_to(ancestor)
        event = {"from": cur.block, "to": None if ancestor is None else ancestor.block, "eventsDropped": dropped}
        self.report.reorgs.append(event)
        return event

    # ------------------------------------------------------------------ one round

    def step(self, head: int) -> str:
        """Index the next range up to ``head``: ``"indexed"``, ``"done"`` (nothing left), or
        ``"moved"`` (the chain changed under the request: look at the tip and the head again)."""
        cur = self._pending.cursor if self._pending is not None else self.store.cursor()
        start = self.decoder.start_block if cur is None else cur.block + 1
        if start > head:
            self.flush()
            return "done"
        end = min(start + self.span - 1, head)
        logs, end = self._logs(start, end)
        numbers = sorted({int(log["blockNumber"], 16) for log in logs} | {start, end})
        headers = self._headers(numbers)
        if any(h is None for h in headers.values()):
            self.flush()
            return "moved"  # the chain got shorter under us
        first = headers[start]
        assert first is not None
        if cur is not None and first.parent_hash != cur.hash:
            self.flush()
            return "moved"  # the cursor's block was replaced
        rows: list[dict[str, Any]] = []
        for log in logs:
            n = int(log["blockNumber"], 16)
            h = headers[n]
            assert h is not None
            if log.get("removed") or str(log.get("blockHash", h.hash)).lower() != h.hash.lower():
                self.flush()
                return "moved"  # a log of a block that is no longer the one at that height
            row = self.decoder.row(log, h.timestamp)
            if row is not None:
                rows.append(row)
        last = headers[end]
        assert last is not None
        # The range's first and last blocks are kept (reorg detection compares them with the
        # chain); the blocks between only lent their times to the events.
        kept = [first] if first.number == end else [first, last]
        batch = self._pending = self._pending or _Batch()
        batch.rows += rows
        batch.blocks += kept
        batch.cursor = Cursor(end, last.hash)
        batch.ranges.append((start, end, len(rows)))
        self.report.ranges += 1
        if len(batch.rows) >= self.batch_events or time.perf_counter() - batch.started >= self.batch_seconds:
            self.flush()
        self._streak += 1
        if self._streak >= 4 and self.span < self.max_range:
            self.span = min(self.max_range, self.span * 2)
            self._streak = 0
        return "indexed"

    def flush(self) -> None:
        """Write the ranges fetched so far (one transaction) and move the cursor past them."""
        batch, self._pending = self._pending, None
        if batch is None or batch.cursor is None:
            return
        self.store.write_range(batch.rows, batch.blocks, batch.cursor)
        self.report.events += len(batch.rows)
        self.report.cursor = batch.cursor.block
        if self.on_range is not None:
            for start, end, n in batch.ranges:
                self.on_range(start, end, n)

    def sync(
        self,
        *,
        until: int | None = None,
        follow: bool = False,
        poll: float = 1.0,
        caught_up: Callable[[], None] | None = None,
    ) -> SyncReport:
        """Index up to the head (or ``until``); with ``follow``, keep following until interrupted,
        calling ``caught_up`` each time the index reaches the head."""
        self.report = SyncReport()
        t0 = time.perf_counter()
        cur = self.store.cursor()
        self.report.start = self.decoder.start_block if cur is None else cur.block + 1
        try:
            self._follow(until, follow, poll, caught_up)
        finally:
            # What was fetched and checked is kept, whatever stopped the sync (a node error,
            # Ctrl-C); a killed process loses only the unwritten batch and resumes before it.
            self.flush()
        self.report.cursor = (self.store.cursor() or Cursor(-1, "")).block
        self.report.seconds = time.perf_counter() - t0
        return self.report

    def _follow(self, until: int | None, follow: bool, poll: float, caught_up: Callable[[], None] | None) -> None:
        moved = 0
        while True:
            self.verify_tip()
            head = self._head() if until is None else min(until, self._head())
            self.report.head = head
            progressed = False
            while (outcome := self.step(head)) == "indexed":
                progressed = True
                moved = 0
            if outcome == "moved":
                moved += 1
                if moved > MAX_MOVES:
                    raise NodeFailed(f"the chain kept changing under {MAX_MOVES} requests in a row; try again later")
                time.sleep(min(poll, 0.05 * moved))
                continue  # look at the tip (a reorg rolls back) and the head again
            if progressed and caught_up is not None:
                caught_up()
            if not follow:
                return
            time.sleep(poll)

    report: SyncReport = SyncReport()
