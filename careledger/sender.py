"""The send path: local signing, one nonce authority per key, idempotent operations,
JSON-RPC batches, efficient receipts, confirmations and reorg handling.

Every logical operation carries its own id (``op_id``). Before anything is broadcast, the signed
transaction is written to a journal (:mod:`careledger.journal`, SQLite, write-ahead). So:

- a retry of the same ``op_id`` never signs a second transaction: it re-uses the journalled one;
- "already known" / "nonce too low" for *our own* hash means "sent", never "send again";
- a dropped transaction is re-broadcast with the same nonce and bytes (it can only land once);
- after a crash, journalled transactions the chain has not mined are re-broadcast first, so a
  reserved nonce never stays a gap;
- after a reorg (a receipt's block hash changed) the receipt is looked up again and, if the
  transaction is gone, the same signed bytes are re-broadcast.

Nonces: the next nonce is ``max(chain pending count, highest journalled nonce + 1)``, reserved
under an in-process lock and an ``fcntl`` file lock per key and chain (:func:`nonce_lock_path`,
whatever the journal), held until the new transactions have been handed to the node. So every
sender of one key on one machine, :class:`careledger.chain.Chain`'s (a façade over this one)
included, takes its nonces from one authority and never collides: the node's pending count read
under the lock already counts every transaction signed before.

Whatever the node software needs beyond JSON-RPC (mining on request, a pool to unstick) is a
:class:`~careledger.rpc.NodeHook`: none on a real network, the devnet's own on a recognised
devnet (:func:`careledger.devchain.node_hook`), or the one passed in.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from careledger.errors import (
    ChainChanged,
    InvalidInput,
    NodeFailed,
    NodeUnreachable,
    SendIncomplete,
    TransactionPending,
    TransactionRejected,
)
from careledger.journal import Entry, Journal, default_journal
from careledger.rpc import GAS_MARGIN_PCT, Node, NodeHook, RpcClient, RpcError, receipt_timeout_default

# default_journal lives in careledger.journal; importable from here too, as before.
__all__ = [
    "Operation",
    "Outcome",
    "SendIncomplete",
    "Sender",
    "batch_call",
    "default_journal",
    "nonce_lock_path",
    "safe_block",
]

_KNOWN = (
    "already known",
    "known transaction",
    "already imported",
    "nonce too low",
    "transaction already exists",
    "replacement transaction underpriced",
)

# Threads of one process share a key's lock object, so that two senders of one key in one
# process (a Chain's and a pipeline's) take turns before the file lock is even tried.
_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def nonce_lock_path(chain_id: int, address: str) -> Path:
    """The file every sender of ``address`` on chain ``chain_id`` locks while it reserves nonces
    and hands the new transactions to the node (``$TMPDIR/careledger-nonces-<uid>/``: one
    folder per user, so that another user's lock file never stands in the way)."""
    folder = f"careledger-nonces-{os.getuid()}"
    return Path(tempfile.gettempdir()) / folder / f"{chain_id}-{address.lower()}.lock"


def _thread_lock(path: Path) -> threading.Lock:
    with _THREAD_LOCKS_GUARD:
        return _THREAD_LOCKS.setdefault(path, threading.Lock())


@dataclass(frozen=True)
class Operation:
    """One logical operation: a call of ``to`` with ``data`` (``to`` None: a contract creation,
    ``data`` its init code). ``op_id`` makes it idempotent."""

    op_id: str
    to: str | None
    data: str
    value: int = 0
    gas: int | None = None


@dataclass
class Outcome:
    op_id: str
    nonce: int
    tx_hash: str
    status: str
    block: int | None = None
    gas_used: int | None = None
    resent: int = 0
    reorged: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "mined"


def _outcome(e: Entry) -> Outcome:
    return Outcome(e.op_id, e.nonce, e.tx_hash, e.status, e.block, e.gas_used, e.resent, bool(e.reorged))


class Sender:
    """Sends operations for one key over ``rpc`` (an :class:`~careledger.rpc.RpcClient`, a URL,
    or any :class:`~careledger.rpc.Node`), journalled in ``journal`` (a path or a
    :class:`~careledger.journal.Journal`; default: :func:`~careledger.journal.default_journal`).
    ``hook``: what to do for a node that needs a hand (default: resolved from the chain, see the
    module docstring). ``receipt_timeout`` defaults to ``$CARELEDGER_RECEIPT_TIMEOUT``, else 120 s."""

    def __init__(
        self,
        rpc: Node | str,
        account: LocalAccount,
        *,
        journal: Path | Journal | None = None,
        confirmations: int = 0,
        receipt_timeout: float | None = None,
        drop_check_after: float = 2.0,
        hook: NodeHook | None = None,
        chain_id: int | None = None,
    ) -> None:
        self.rpc: Node = RpcClient(rpc) if isinstance(rpc, str) else rpc
        self.account = account
        self.address = account.address
        self.confirmations = confirmations
        self.receipt_timeout = receipt_timeout if receipt_timeout is not None else receipt_timeout_default()
        self.drop_check_after = drop_check_after
        self.chain_id = chain_id if chain_id is not None else _chain_id(self.rpc)
        if not isinstance(journal, Journal):
            journal = Journal(journal or default_journal(self.rpc, self.chain_id))
        self.journal = journal
        self.journal_path = journal.path
        self._rows = journal.key(self.chain_id, self.address)
        self._lock_path = nonce_lock_path(self.chain_id, self.address)
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread_lock = _thread_lock(self._lock_path)
        self._hook = hook

    def close(self) -> None:
        """Close this thread's journal connection (another step opens a new one)."""
        self.journal.close()

    def node_hook(self) -> NodeHook:
        """The hook in use: the one passed in, else the devnet's own on a recognised devnet
        (:func:`careledger.devchain.node_hook`, asked once), else one that does nothing."""
        if self._hook is None:
            from careledger.devchain import node_hook, recognise_genesis

            genesis = self.rpc.call("eth_getBlockByNumber", ["0x0", False]) or {}
            self._hook = node_hook(recognise_genesis(str(genesis.get("hash") or "")))
        return self._hook

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """The key's nonce lock: threads of this process, then other processes (any journal)."""
        with self._thread_lock, open(self._lock_path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ public

    def submit(self, ops: Sequence[Operation], *, chunk: int = 500) -> list[Outcome]:
        """Sign (once per op id), broadcast, and wait for every receipt (and confirmations).

        Returns outcomes in the order of ``ops``. Raises :class:`SendIncomplete` if the node stays
        unreachable or a receipt does not come in time; calling again with the same ops finishes
        the job without doubling any."""
        ids = [op.op_id for op in ops]
        if len(set(ids)) != len(ids):
            raise InvalidInput("duplicate op_id in one submission")
        try:
            self.repair()
            # New ops are signed and handed to the node here; journalled ones were by repair().
            self._sign_and_send(ops, chunk)
            self._await_receipts(ids, chunk)
            if self.confirmations:
                self._confirm(ids, chunk)
        except (NodeUnreachable, TransactionPending) as exc:
            final = self._rows.entries(ids)
            done = [i for i in ids if i in final and final[i].status in ("mined", "reverted")]
            pending = [i for i in ids if i not in done]
            signed = sum(1 for i in pending if i in final)
            raise SendIncomplete(
                f"{exc.message}; {len(done)} of {len(ids)} operations have receipts, {signed} are signed and "
                f"journalled, {len(pending) - signed} not yet signed (re-run with the same operation ids to "
                "finish them; none will be sent twice)",
                done,
                pending,
                cause=exc,
            ) from None
        final = self._rows.entries(ids)
        return [_outcome(final[i]) for i in ids]

    def repair(self) -> int:
        """Make the journal agree with the chain, then finish what it holds. Any journalled
        transaction whose nonce the chain has not used yet cannot be mined (a crash before it
        was sent, a drop, a node restarted from an older snapshot, a reorg): it is re-broadcast
        with its original bytes, in nonce order, so no gap remains. Returns how many."""
        mined_count = int(self.rpc.call("eth_getTransactionCount", [self.address, "latest"]), 16)
        stale = self._rows.open_or_from(mined_count)
        # A receipt we recorded is no longer on this chain.
        self._rows.mark_reorged(
            [r.op_id for r in stale if r.nonce >= mined_count and r.status in ("mined", "reverted")]
        )
        if not stale:
            return 0
        todo = [r for r in stale if r.nonce >= mined_count]
        self._broadcast(todo, 500, resend=True)
        self._await_receipts([r.op_id for r in stale], 500)
        return len(todo)

    def reconfirm(self, op_ids: Sequence[str], confirmations: int | None = None) -> list[Outcome]:
        """Check again that these operations' receipts are canonical (after a suspected reorg);
        re-send any that fell out. Returns their outcomes."""
        saved = self.confirmations
        self.confirmations = max(confirmations if confirmations is not None else saved, 0)
        try:
            self.repair()
            self._confirm(op_ids, 500)
        finally:
            self.confirmations = saved
        return [o for o in (self.outcome(i) for i in op_ids) if o is not None]

    def forget_unsent(self, op_id: str) -> bool:
        """Drop ``op_id``'s journalled transaction if the node never took it and nothing was
        signed after it (its nonce is free again), so that it is not re-broadcast by a later
        :meth:`repair`. For a caller whose operation failed before it reached the node and that
        will not retry it by the same id (a :class:`careledger.chain.Chain` send). True when dropped."""
        with self._exclusive():
            entry = self._rows.entries([op_id]).get(op_id)
            if entry is None or entry.status != "signed" or self._rows.top_nonce() != entry.nonce:
                return False
            self._rows.forget(op_id)
            return True

    # ------------------------------------------------------------------ steps

    def _fees(self, total_gas: int) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for a submission of ``total_gas``.

        Every full block raises the base fee by 12.5 % (EIP-1559), and a large submission fills
        blocks itself: a cap of twice today's base fee strands the tail of a big batch. The cap
        here covers the base fee after every block the submission can fill, plus one, times two.
        It is only a cap: a transaction pays the base fee of its block plus the tip."""
        block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        base = int(block.get("baseFeePerGas", "0x0"), 16)
        gas_limit = max(int(block.get("gasLimit", "0x1c9c380"), 16), 1)
        try:
            tip = int(self.rpc.call("eth_maxPriorityFeePerGas"), 16)
        except RpcError:
            tip = 1_000_000_000
        full_blocks = -(-total_gas // gas_limit) + 1
        headroom = 1.125**full_blocks
        return int(base * headroom * 2) + tip, tip

    def _sign_and_send(self, ops: Sequence[Operation], chunk: int) -> dict[str, Entry]:
        """Journal a signed transaction for every op not journalled yet, and hand those to the
        node, all under the key's nonce lock (so the next reservation, by any sender of the key,
        reads a pending count that includes them)."""
        with self._exclusive():
            existing = self._rows.entries([op.op_id for op in ops])
            new = [op for op in ops if op.op_id not in existing]
            if not new:
                return existing
            chain_next = int(self.rpc.call("eth_getTransactionCount", [self.address, "pending"]), 16)
            top = self._rows.top_nonce()
            nonce = max(chain_next, (top + 1) if top is not None else 0)
            need_gas = [op for op in new if op.gas is None]
            gas_for: dict[str, int] = {}
            if need_gas:
                estimates = self.rpc.batch(
                    [
                        ("eth_estimateGas", [{"from": self.address, "data": op.data, "value": hex(op.value)} | _to(op)])
                        for op in need_gas
                    ]
                )
                for op, est in zip(need_gas, estimates, strict=True):
                    if isinstance(est, RpcError):
                        raise est
                    gas_for[op.op_id] = int(est, 16) * GAS_MARGIN_PCT // 100
            max_fee, tip = self._fees(sum(op.gas or gas_for[op.op_id] for op in new))
            signed_rows: list[tuple[str, int, str, str]] = []
            for op in new:
                tx: dict[str, Any] = {
                    "type": 2,
                    "chainId": self.chain_id,
                    "nonce": nonce,
                    "data": op.data,
                    "value": op.value,
                    "gas": op.gas or gas_for[op.op_id],
                    "maxFeePerGas": max_fee,
                    "maxPriorityFeePerGas": tip,
                    **_to(op),
                }
                signed = self.account.sign_transaction(tx)
                signed_rows.append((op.op_id, nonce, signed.hash.to_0x_hex(), signed.raw_transaction.to_0x_hex()))
                nonce += 1
            self._rows.record_signed(signed_rows)
            rows = self._rows.entries([op.op_id for op in ops])
            self._broadcast([rows[op.op_id] for op in new], chunk)
            return self._rows.entries([op.op_id for op in ops])

    def _broadcast(self, rows: Sequence[Entry], chunk: int, *, resend: bool = False) -> None:
        if not rows:
            return
        replies = self.rpc.batch([("eth_sendRawTransaction", [r.raw_tx]) for r in rows], chunk=chunk)
        taken: list[str] = []
        try:
            for row, reply in zip(rows, replies, strict=True):
                if isinstance(reply, RpcError) and not any(k in reply.message.lower() for k in _KNOWN):
                    self._refused(row, reply, first=not resend)
                # A "known"/"nonce too low" reply is fine: our own signed bytes are on their
                # way or already mined; the receipt lookup tells which.
                taken.append(row.op_id)
        finally:
            self._rows.mark_sent(taken, resent=resend)

    def _await_receipts(self, ids: Sequence[str], chunk: int) -> None:
        deadline = time.monotonic() + self.receipt_timeout
        delay = 0.002
        last_drop_check = time.monotonic()
        while True:
            waiting = [r for r in self._rows.entries(ids).values() if r.status in ("signed", "sent")]
            if not waiting:
                return
            receipts = self.rpc.batch([("eth_getTransactionReceipt", [r.tx_hash]) for r in waiting], chunk=chunk)
            found = [
                (r, rc)
                for r, rc in zip(waiting, receipts, strict=True)
                if isinstance(rc, dict) and rc.get("blockNumber")
            ]
            self._rows.mark_receipts(
                [
                    (
                        r.op_id,
                        rc.get("status") == "0x1",
                        int(rc["blockNumber"], 16),
                        rc["blockHash"],
                        int(rc["gasUsed"], 16),
                    )
                    for r, rc in found
                ]
            )
            done = {r.op_id for r, _ in found}
            still = [r for r in waiting if r.op_id not in done]
            if not still:
                return
            if time.monotonic() - last_drop_check > self.drop_check_after:
                self._rebroadcast_dropped(still, chunk)
                hook = self.node_hook()
                if hook.wedged(self.rpc.call, self.address):
                    self._rebroadcast_open(chunk)
                hook.stalled(self.rpc.call)
                last_drop_check = time.monotonic()
            if time.monotonic() > deadline:
                raise TransactionPending(
                    f"{len(still)} transactions still without a receipt after {self.receipt_timeout:g} s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _refused(self, row: Entry, reply: RpcError, *, first: bool) -> None:
        """The node would not take one of our transactions: :class:`ChainChanged` when it is now
        another chain, else :class:`TransactionRejected` naming the transaction and the reason.
        A transaction refused at its first broadcast with nothing signed after it is dropped
        from the journal (the node never had it; its nonce is free again). Other rows stay
        journalled; the next run re-checks them against the chain."""
        now = _chain_id(self.rpc)
        if now != self.chain_id:
            raise ChainChanged(
                f"the node at {self.rpc.url} is now chain {now}, not chain {self.chain_id}: nothing more is sent"
            )
        if first and self._rows.top_nonce() == row.nonce:
            self._rows.forget(row.op_id)
        raise TransactionRejected(
            f"the node refused transaction {row.tx_hash} (operation {row.op_id!r}, nonce {row.nonce}): {reply.message}",
            tx_hash=row.tx_hash,
            reason=reply.message,
        )

    def _rebroadcast_open(self, chunk: int) -> None:
        """Every journalled transaction the chain has not mined, sent again in nonce order (after
        the node's pool let go of them: :meth:`careledger.rpc.NodeHook.wedged`)."""
        mined = int(self.rpc.call("eth_getTransactionCount", [self.address, "latest"]), 16)
        self._broadcast(self._rows.unmined_from(mined), chunk, resend=True)

    def _rebroadcast_dropped(self, rows: Sequence[Entry], chunk: int) -> None:
        """A transaction the node no longer knows (dropped from its pool) is sent again, same bytes."""
        known = self.rpc.batch([("eth_getTransactionByHash", [r.tx_hash]) for r in rows], chunk=chunk)
        gone = [r for r, k in zip(rows, known, strict=True) if k is None]
        if gone:
            self._broadcast(gone, chunk, resend=True)

    def _confirm(self, ids: Sequence[str], chunk: int) -> None:
        """Wait for ``confirmations`` blocks on top, then check every receipt's block is still
        canonical. A reorged-out transaction is re-broadcast (same nonce, same bytes)."""
        deadline = time.monotonic() + self.receipt_timeout
        while True:
            rows = [r for r in self._rows.entries(ids).values() if r.block is not None]
            head = int(self.rpc.call("eth_blockNumber"), 16)
            target = max((r.block or 0) for r in rows) + self.confirmations if rows else head
            if head < target:
                if time.monotonic() > deadline:
                    raise NodeUnreachable(f"chain stalled at block {head}, waiting for {target}")
                time.sleep(0.05)
                continue
            blocks = sorted({r.block for r in rows if r.block is not None})
            canon = self.rpc.batch([("eth_getBlockByNumber", [hex(b), False]) for b in blocks], chunk=chunk)
            hash_at = {b: (c or {}).get("hash") for b, c in zip(blocks, canon, strict=True)}
            moved = [r for r in rows if hash_at.get(r.block or -1) != r.block_hash]
            if not moved:
                return
            self._rows.mark_reorged([r.op_id for r in moved])
            # Re-included elsewhere? The receipt lookup finds it; otherwise re-send the same bytes.
            self._rebroadcast_dropped(moved, chunk)
            self._await_receipts([r.op_id for r in moved], chunk)

    # ------------------------------------------------------------------ reads

    def outcome(self, op_id: str) -> Outcome | None:
        entry = self._rows.entries([op_id]).get(op_id)
        return None if entry is None else _outcome(entry)


def _to(op: Operation) -> dict[str, str]:
    return {} if op.to is None else {"to": op.to}


def _chain_id(rpc: Node) -> int:
    value = rpc.call("eth_chainId")
    try:
        return int(str(value), 16)
    except ValueError:
        raise NodeFailed(f"{rpc.url} answered eth_chainId with {value!r}, not a chain id") from None


def batch_call(rpc: Node, calls: Sequence[tuple[str, str]], block: str = "latest", chunk: int = 500) -> list[Any]:
    """Many ``eth_call`` reads in JSON-RPC batches: ``[(to, data), ...]`` -> results (hex
    strings, or :class:`RpcError` for a call that reverted)."""
    return rpc.batch([("eth_call", [{"to": to, "data": data}, block]) for to, data in calls], chunk=chunk)


def safe_block(rpc: Node, confirmations: int) -> int:
    """The newest block a read that gates an off-chain action (releasing a record) should use:
    the node's ``safe`` block where it has one distinct from the head, else head − confirmations."""
    head = int(rpc.call("eth_blockNumber"), 16)
    try:
        safe = rpc.call("eth_getBlockByNumber", ["safe", False])
        if safe and int(safe["number"], 16) < head:
            return int(safe["number"], 16)
    except RpcError:
        pass
    return max(head - confirmations, 0)
