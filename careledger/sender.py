"""The send path: local signing, one persisted nonce manager per key, idempotent operations,
JSON-RPC batches, efficient receipts, confirmations and reorg handling.

Every logical operation carries its own id (``op_id``). Before anything is broadcast, the signed
transaction is written to a journal (SQLite, write-ahead). So:

- a retry of the same ``op_id`` never signs a second transaction: it re-uses the journalled one;
- "already known" / "nonce too low" for *our own* hash means "sent", never "send again";
- a dropped transaction is re-broadcast with the same nonce and bytes (it can only land once);
- after a crash, journalled transactions the chain has not mined are re-broadcast first, so a
  reserved nonce never stays a gap;
- after a reorg (a receipt's block hash changed) the receipt is looked up again and, if the
  transaction is gone, the same signed bytes are re-broadcast.

Nonces: the next nonce is ``max(chain pending count, highest journalled nonce + 1)``, reserved
under an in-process lock and an ``fcntl`` file lock, so concurrent threads and processes sharing a
key and a journal never collide.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from careledger._paths import project_root
from careledger.errors import (
    ChainChanged,
    EnvironmentProblem,
    InvalidInput,
    NodeFailed,
    NodeUnreachable,
    SendIncomplete,
    TransactionRejected,
)
from careledger.rpc import GAS_MARGIN_PCT, RpcClient, RpcError, nudge_devnet, unwedge_devnet

__all__ = ["Operation", "Outcome", "SendIncomplete", "Sender", "batch_call", "default_journal", "safe_block"]

_KNOWN = (
    "already known",
    "known transaction",
    "already imported",
    "nonce too low",
    "transaction already exists",
    "replacement transaction underpriced",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ops (
    op_id      TEXT NOT NULL,
    chain_id   INTEGER NOT NULL,
    sender     TEXT NOT NULL,
    nonce      INTEGER NOT NULL,
    tx_hash    TEXT NOT NULL,
    raw_tx     TEXT NOT NULL,
    status     TEXT NOT NULL,          -- signed | sent | mined | reverted
    block      INTEGER,
    block_hash TEXT,
    gas_used   INTEGER,
    resent     INTEGER NOT NULL DEFAULT 0,
    reorged    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chain_id, sender, op_id),
    UNIQUE (chain_id, sender, nonce)
);
-- What repair() looks for on every submission: rows not yet mined. Without it, every call
-- scanned the whole journal (and every raw transaction in it).
CREATE INDEX IF NOT EXISTS ops_open ON ops (chain_id, sender, status);
"""


def default_journal(rpc: RpcClient, chain_id: int) -> Path:
    """``journal-<chain id>-<genesis hash prefix>.sqlite`` in ``.careledger/`` (or
    ``$CARELEDGER_JOURNAL_DIR``): one journal per chain.

    Keyed by the chain id alone, a journal would outlive a wiped local devnet (same id, new
    chain, nonces from 0 again) and :meth:`Sender.repair` would re-broadcast the old chain's
    transactions onto the new one."""
    genesis = rpc.call("eth_getBlockByNumber", ["0x0", False]) or {}
    tag = str(genesis.get("hash") or "0x")[2:10] or "unknown"
    env = os.environ.get("CARELEDGER_JOURNAL_DIR")
    folder = Path(env) if env else project_root() / ".careledger"
    return folder / f"journal-{chain_id}-{tag}.sqlite"


@dataclass(frozen=True)
class Operation:
    """One logical operation: a call of ``to`` with ``data``. ``op_id`` makes it idempotent."""

    op_id: str
    to: str
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


@dataclass
class _Row:
    op_id: str
    nonce: int
    tx_hash: str
    raw_tx: str
    status: str
    block: int | None
    block_hash: str | None
    gas_used: int | None
    resent: int
    reorged: int
    sent_at: float = field(default=0.0)


class Sender:
    def __init__(
        self,
        rpc: RpcClient | str,
        account: LocalAccount,
        *,
        journal: Path | None = None,
        confirmations: int = 0,
        receipt_timeout: float = 60.0,
        drop_check_after: float = 2.0,
    ) -> None:
        self.rpc = RpcClient(rpc) if isinstance(rpc, str) else rpc
        self.account = account
        self.address = account.address
        self.confirmations = confirmations
        self.receipt_timeout = receipt_timeout
        self.drop_check_after = drop_check_after
        self.chain_id = _chain_id(self.rpc)
        self.journal_path = journal or default_journal(self.rpc, self.chain_id)
        try:
            self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            folder = self.journal_path.parent
            raise EnvironmentProblem(f"cannot create the send journal's folder {folder}: {exc}") from None
        self._lock_path = self.journal_path.with_suffix(f".{self.address.lower()}.lock")
        self._thread_lock = threading.Lock()
        self._local = threading.local()
        with self._db() as db:
            db.executescript(_SCHEMA)

    # ------------------------------------------------------------------ storage

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection to the journal, opened once and kept: opening and closing
        one per step made SQLite checkpoint the write-ahead log at every close, which grew with
        the journal. A step that fails inside a transaction rolls it back."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.journal_path, timeout=30, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise EnvironmentProblem(f"cannot open the send journal {self.journal_path}: {exc}") from None
            self._local.db = db
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close this thread's journal connection (another step opens a new one)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Both locks: threads of this process, then other processes sharing the journal."""
        with self._thread_lock, open(self._lock_path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _rows(self, db: sqlite3.Connection, op_ids: Sequence[str]) -> dict[str, _Row]:
        rows: dict[str, _Row] = {}
        for start in range(0, len(op_ids), 500):
            part = list(op_ids[start : start + 500])
            marks = ",".join("?" * len(part))
            cur = db.execute(
                "SELECT op_id, nonce, tx_hash, raw_tx, status, block, block_hash, gas_used, resent, reorged FROM ops "
                f"WHERE chain_id=? AND sender=? AND op_id IN ({marks})",
                [self.chain_id, self.address, *part],
            )
            for r in cur.fetchall():
                rows[r[0]] = _Row(*r)
        return rows

    # ------------------------------------------------------------------ public

    def submit(self, ops: Sequence[Operation], *, chunk: int = 500) -> list[Outcome]:
        """Sign (once per op id), broadcast, and wait for every receipt (and confirmations).

        Returns outcomes in the order of ``ops``. Raises :class:`SendIncomplete` if the node stays
        unreachable; calling again with the same ops finishes the job without doubling any."""
        ids = [op.op_id for op in ops]
        if len(set(ids)) != len(ids):
            raise InvalidInput("duplicate op_id in one submission")
        try:
            self.repair()
            rows = self._sign_missing(ops)
            self._broadcast([rows[i] for i in ids if rows[i].status in ("signed", "sent")], chunk)
            self._await_receipts(ids, chunk)
            if self.confirmations:
                self._confirm(ids, chunk)
        except NodeUnreachable as exc:
            with self._db() as db:
                final = self._rows(db, ids)
            done = [i for i in ids if i in final and final[i].status in ("mined", "reverted")]
            pending = [i for i in ids if i not in done]
            signed = sum(1 for i in pending if i in final)
            raise SendIncomplete(
                f"{exc.message}; {len(done)} of {len(ids)} operations have receipts, {signed} are signed and "
                f"journalled, {len(pending) - signed} not yet signed (re-run with the same operation ids to "
                "finish them; none will be sent twice)",
                done,
                pending,
            ) from None
        with self._db() as db:
            final = self._rows(db, ids)
        return [
            Outcome(i, r.nonce, r.tx_hash, r.status, r.block, r.gas_used, r.resent, bool(r.reorged))
            for i, r in ((i, final[i]) for i in ids)
        ]

    def repair(self) -> int:
        """Make the journal agree with the chain, then finish what it holds. Any journalled
        transaction whose nonce the chain has not used yet cannot be mined (a crash before it
        was sent, a drop, a node restarted from an older snapshot, a reorg): it is re-broadcast
        with its original bytes, in nonce order, so no gap remains. Returns how many."""
        mined_count = int(self.rpc.call("eth_getTransactionCount", [self.address, "latest"]), 16)
        columns = "op_id, nonce, tx_hash, raw_tx, status, block, block_hash, gas_used, resent, reorged"
        with self._db() as db:
            # Two indexed lookups (an OR of the two made SQLite scan the whole journal).
            key = [self.chain_id, self.address]
            found = {
                r[0]: _Row(*r)
                for query, params in (
                    (f"SELECT {columns} FROM ops WHERE chain_id=? AND sender=? AND nonce>=?", [*key, mined_count]),
                    (f"SELECT {columns} FROM ops WHERE chain_id=? AND sender=? AND status IN ('signed','sent')", key),
                )
                for r in db.execute(query, params).fetchall()
            }
            stale = sorted(found.values(), key=lambda r: r.nonce)
            lost = [r for r in stale if r.nonce >= mined_count and r.status in ("mined", "reverted")]
            for r in lost:  # a receipt we recorded is no longer on this chain
                db.execute(
                    "UPDATE ops SET status='sent', block=NULL, block_hash=NULL, reorged=1 "
                    "WHERE chain_id=? AND sender=? AND op_id=?",
                    [self.chain_id, self.address, r.op_id],
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

    def _sign_missing(self, ops: Sequence[Operation]) -> dict[str, _Row]:
        with self._exclusive(), self._db() as db:
            existing = self._rows(db, [op.op_id for op in ops])
            new = [op for op in ops if op.op_id not in existing]
            if not new:
                return existing
            chain_next = int(self.rpc.call("eth_getTransactionCount", [self.address, "pending"]), 16)
            top = db.execute(
                "SELECT MAX(nonce) FROM ops WHERE chain_id=? AND sender=?", [self.chain_id, self.address]
            ).fetchone()[0]
            nonce = max(chain_next, (top + 1) if top is not None else 0)
            need_gas = [op for op in new if op.gas is None]
            gas_for: dict[str, int] = {}
            if need_gas:
                estimates = self.rpc.batch(
                    [
                        (
                            "eth_estimateGas",
                            [{"from": self.address, "to": op.to, "data": op.data, "value": hex(op.value)}],
                        )
                        for op in need_gas
                    ]
                )
                for op, est in zip(need_gas, estimates, strict=True):
                    if isinstance(est, RpcError):
                        raise est
                    gas_for[op.op_id] = int(est, 16) * GAS_MARGIN_PCT // 100
            max_fee, tip = self._fees(sum(op.gas or gas_for[op.op_id] for op in new))
            db.execute("BEGIN IMMEDIATE")
            try:
                for op in new:
                    tx: dict[str, Any] = {
                        "type": 2,
                        "chainId": self.chain_id,
                        "nonce": nonce,
                        "to": op.to,
                        "data": op.data,
                        "value": op.value,
                        "gas": op.gas or gas_for[op.op_id],
                        "maxFeePerGas": max_fee,
                        "maxPriorityFeePerGas": tip,
                    }
                    signed = self.account.sign_transaction(tx)
                    db.execute(
                        "INSERT INTO ops (op_id, chain_id, sender, nonce, tx_hash, raw_tx, status) "
                        "VALUES (?,?,?,?,?,?, 'signed')",
                        [
                            op.op_id,
                            self.chain_id,
                            self.address,
                            nonce,
                            signed.hash.to_0x_hex(),
                            signed.raw_transaction.to_0x_hex(),
                        ],
                    )
                    nonce += 1
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return self._rows(db, [op.op_id for op in ops])

    def _broadcast(self, rows: Sequence[_Row], chunk: int, *, resend: bool = False) -> None:
        if not rows:
            return
        replies = self.rpc.batch([("eth_sendRawTransaction", [r.raw_tx]) for r in rows], chunk=chunk)
        with self._db() as db:
            for row, reply in zip(rows, replies, strict=True):
                if isinstance(reply, RpcError) and not any(k in reply.message.lower() for k in _KNOWN):
                    self._refused(row, reply)
                # A "known"/"nonce too low" reply is fine: our own signed bytes are on their
                # way or already mined; the receipt lookup tells which.
                db.execute(
                    "UPDATE ops SET status=CASE WHEN status='signed' THEN 'sent' ELSE status END, "
                    "resent=resent+? WHERE chain_id=? AND sender=? AND op_id=?",
                    [1 if resend else 0, self.chain_id, self.address, row.op_id],
                )

    def _await_receipts(self, ids: Sequence[str], chunk: int) -> None:
        deadline = time.monotonic() + self.receipt_timeout
        delay = 0.002
        last_drop_check = time.monotonic()
        while True:
            with self._db() as db:
                rows = self._rows(db, ids)
            waiting = [r for r in rows.values() if r.status in ("signed", "sent")]
            if not waiting:
                return
            receipts = self.rpc.batch([("eth_getTransactionReceipt", [r.tx_hash]) for r in waiting], chunk=chunk)
            with self._db() as db:
                db.execute("BEGIN")
                for row, rc in zip(waiting, receipts, strict=True):
                    if isinstance(rc, dict) and rc.get("blockNumber"):
                        db.execute(
                            "UPDATE ops SET status=?, block=?, block_hash=?, gas_used=? "
                            "WHERE chain_id=? AND sender=? AND op_id=?",
                            [
                                "mined" if rc.get("status") == "0x1" else "reverted",
                                int(rc["blockNumber"], 16),
                                rc["blockHash"],
                                int(rc["gasUsed"], 16),
                                self.chain_id,
                                self.address,
                                row.op_id,
                            ],
                        )
                db.execute("COMMIT")
            still = [
                r
                for r, rc in zip(waiting, receipts, strict=True)
                if not (isinstance(rc, dict) and rc.get("blockNumber"))
            ]
            if not still:
                return
            if time.monotonic() - last_drop_check > self.drop_check_after:
                self._rebroadcast_dropped(still, chunk)
                if unwedge_devnet(self.rpc.call, self.chain_id, self.address):
                    self._rebroadcast_open(chunk)
                nudge_devnet(self.rpc.call, self.chain_id)
                last_drop_check = time.monotonic()
            if time.monotonic() > deadline:
                raise NodeUnreachable(
                    f"{len(still)} transactions still without a receipt after {self.receipt_timeout:.0f} s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _refused(self, row: _Row, reply: RpcError) -> None:
        """The node would not take one of our transactions: :class:`ChainChanged` when it is now
        another chain, else :class:`TransactionRejected` naming the transaction and the reason.
        Rows already sent stay journalled; the next run re-checks them against the chain."""
        now = _chain_id(self.rpc)
        if now != self.chain_id:
            raise ChainChanged(
                f"the node at {self.rpc.url} is now chain {now}, not chain {self.chain_id}: nothing more is sent"
            )
        raise TransactionRejected(
            f"the node refused transaction {row.tx_hash} (operation {row.op_id!r}, nonce {row.nonce}): {reply.message}",
            tx_hash=row.tx_hash,
        )

    def _rebroadcast_open(self, chunk: int) -> None:
        """Every journalled transaction the chain has not mined, sent again in nonce order (after
        a local dev chain's pool let go of them: :func:`careledger.rpc.unwedge_devnet`)."""
        mined = int(self.rpc.call("eth_getTransactionCount", [self.address, "latest"]), 16)
        with self._db() as db:
            rows = [
                _Row(*r)
                for r in db.execute(
                    "SELECT op_id, nonce, tx_hash, raw_tx, status, block, block_hash, gas_used, resent, reorged "
                    "FROM ops WHERE chain_id=? AND sender=? AND nonce>=? AND status IN ('signed','sent') "
                    "ORDER BY nonce",
                    [self.chain_id, self.address, mined],
                ).fetchall()
            ]
        self._broadcast(rows, chunk, resend=True)

    def _rebroadcast_dropped(self, rows: Sequence[_Row], chunk: int) -> None:
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
            with self._db() as db:
                rows = [r for r in self._rows(db, ids).values() if r.block is not None]
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
            with self._db() as db:
                for r in moved:
                    db.execute(
                        "UPDATE ops SET status='sent', block=NULL, block_hash=NULL, reorged=1 "
                        "WHERE chain_id=? AND sender=? AND op_id=?",
                        [self.chain_id, self.address, r.op_id],
                    )
            # Re-included elsewhere? The receipt lookup finds it; otherwise re-send the same bytes.
            self._rebroadcast_dropped(moved, chunk)
            self._await_receipts([r.op_id for r in moved], chunk)

    # ------------------------------------------------------------------ reads

    def outcome(self, op_id: str) -> Outcome | None:
        with self._db() as db:
            r = self._rows(db, [op_id]).get(op_id)
        if r is None:
            return None
        return Outcome(r.op_id, r.nonce, r.tx_hash, r.status, r.block, r.gas_used, r.resent, bool(r.reorged))


def _chain_id(rpc: RpcClient) -> int:
    value = rpc.call("eth_chainId")
    try:
        return int(str(value), 16)
    except ValueError:
        raise NodeFailed(f"{rpc.url} answered eth_chainId with {value!r}, not a chain id") from None


def batch_call(rpc: RpcClient, calls: Sequence[tuple[str, str]], block: str = "latest", chunk: int = 500) -> list[Any]:
    """Many ``eth_call`` reads in JSON-RPC batches: ``[(to, data), ...]`` -> results (hex
    strings, or :class:`RpcError` for a call that reverted)."""
    return rpc.batch([("eth_call", [{"to": to, "data": data}, block]) for to, data in calls], chunk=chunk)


def safe_block(rpc: RpcClient, confirmations: int) -> int:
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
