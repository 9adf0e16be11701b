"""The send journal: a write-ahead log of signed transactions, one row per logical operation.

:mod:`careledger.sender` writes a transaction here, signed, before it is broadcast, and updates
its row as the node answers (``signed`` → ``sent`` → ``mined`` or ``reverted``; back to ``sent``
after a reorg). Because the row is there first, a send survives a crash and is never signed
twice: the next run finds it and re-broadcasts the same bytes.

One journal file per chain (:func:`default_journal`: chain id and genesis hash), rows keyed by
(chain id, sender address, operation id), with one nonce per (chain id, sender). SQLite in WAL
mode; one connection per thread, kept open. :meth:`Journal.throwaway` is a journal that lives as
long as the process (the default of :class:`careledger.chain.Chain`, whose sends are not resumed
by operation id).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from careledger._paths import project_root
from careledger.errors import EnvironmentProblem
from careledger.rpc import Node

__all__ = ["Entry", "Journal", "KeyJournal", "default_journal"]

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

_COLUMNS = "op_id, nonce, tx_hash, raw_tx, status, block, block_hash, gas_used, resent, reorged"


def default_journal(rpc: Node, chain_id: int) -> Path:
    """``journal-<chain id>-<genesis hash prefix>.sqlite`` in ``.careledger/`` (or
    ``$CARELEDGER_JOURNAL_DIR``): one journal per chain.

    Keyed by the chain id alone, a journal would outlive a wiped local devnet (same id, new
    chain, nonces from 0 again) and :meth:`careledger.sender.Sender.repair` would re-broadcast the
    old chain's transactions onto the new one."""
    genesis = rpc.call("eth_getBlockByNumber", ["0x0", False]) or {}
    tag = str(genesis.get("hash") or "0x")[2:10] or "unknown"
    env = os.environ.get("CARELEDGER_JOURNAL_DIR")
    folder = Path(env) if env else project_root() / ".careledger"
    return folder / f"journal-{chain_id}-{tag}.sqlite"


@dataclass
class Entry:
    """One journalled operation: its signed transaction and what the chain has said of it."""

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


class Journal:
    """A journal file (created with its folder when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentProblem(f"cannot create the send journal's folder {path.parent}: {exc}") from None
        self._local = threading.local()
        with self.db() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def throwaway(cls) -> Journal:
        """A journal in a temporary folder removed when the process ends."""
        folder = Path(tempfile.mkdtemp(prefix="careledger-journal-"))
        atexit.register(shutil.rmtree, folder, True)
        return cls(folder / "journal.sqlite")

    @contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, opened once and kept: opening and closing one per step made
        SQLite checkpoint the write-ahead log at every close, which grew with the journal. A step
        that fails inside a transaction rolls it back."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise EnvironmentProblem(f"cannot open the send journal {self.path}: {exc}") from None
            self._local.db = db
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close this thread's connection (the next step opens a new one)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def key(self, chain_id: int, sender: str) -> KeyJournal:
        """The rows of one sender on one chain."""
        return KeyJournal(self, chain_id, sender)


class KeyJournal:
    """One sender's rows on one chain: the queries and updates the send path makes."""

    def __init__(self, journal: Journal, chain_id: int, sender: str) -> None:
        self.journal, self.chain_id, self.sender = journal, chain_id, sender
        self._key = [chain_id, sender]

    def entries(self, op_ids: Sequence[str]) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        with self.journal.db() as db:
            for start in range(0, len(op_ids), 500):
                part = list(op_ids[start : start + 500])
                marks = ",".join("?" * len(part))
                cur = db.execute(
                    f"SELECT {_COLUMNS} FROM ops WHERE chain_id=? AND sender=? AND op_id IN ({marks})",
                    [*self._key, *part],
                )
                for r in cur.fetchall():
                    found[r[0]] = Entry(*r)
        return found

    def open_or_from(self, nonce: int) -> list[Entry]:
        """Rows not yet mined, and rows at or above ``nonce`` (the chain's mined count: a receipt
        recorded there is no longer on the chain), in nonce order."""
        with self.journal.db() as db:
            # Two indexed lookups (an OR of the two made SQLite scan the whole journal).
            found = {
                r[0]: Entry(*r)
                for query, params in (
                    (f"SELECT {_COLUMNS} FROM ops WHERE chain_id=? AND sender=? AND nonce>=?", [*self._key, nonce]),
                    (
                        f"SELECT {_COLUMNS} FROM ops WHERE chain_id=? AND sender=? AND status IN ('signed','sent')",
                        self._key,
                    ),
                )
                for r in db.execute(query, params).fetchall()
            }
        return sorted(found.values(), key=lambda e: e.nonce)

    def unmined_from(self, nonce: int) -> list[Entry]:
        """Rows not yet mined at or above ``nonce``, in nonce order."""
        with self.journal.db() as db:
            return [
                Entry(*r)
                for r in db.execute(
                    f"SELECT {_COLUMNS} FROM ops WHERE chain_id=? AND sender=? AND nonce>=? "
                    "AND status IN ('signed','sent') ORDER BY nonce",
                    [*self._key, nonce],
                ).fetchall()
            ]

    def top_nonce(self) -> int | None:
        with self.journal.db() as db:
            top = db.execute("SELECT MAX(nonce) FROM ops WHERE chain_id=? AND sender=?", self._key).fetchone()[0]
        return None if top is None else int(top)

    def record_signed(self, rows: Sequence[tuple[str, int, str, str]]) -> None:
        """``(op_id, nonce, tx_hash, raw_tx)`` rows, all or none (one transaction)."""
        with self.journal.db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO ops (op_id, chain_id, sender, nonce, tx_hash, raw_tx, status) "
                "VALUES (?,?,?,?,?,?, 'signed')",
                [(op_id, *self._key, nonce, tx_hash, raw) for op_id, nonce, tx_hash, raw in rows],
            )
            db.execute("COMMIT")

    def mark_sent(self, op_ids: Sequence[str], *, resent: bool) -> None:
        """The node has these (or had them: a "known" reply); ``resent`` counts a re-broadcast."""
        with self.journal.db() as db:
            db.execute("BEGIN")
            db.executemany(
                "UPDATE ops SET status=CASE WHEN status='signed' THEN 'sent' ELSE status END, "
                "resent=resent+? WHERE chain_id=? AND sender=? AND op_id=?",
                [(1 if resent else 0, *self._key, op_id) for op_id in op_ids],
            )
            db.execute("COMMIT")

    def mark_receipts(self, receipts: Sequence[tuple[str, bool, int, str, int]]) -> None:
        """``(op_id, succeeded, block, block_hash, gas_used)`` for each receipt found."""
        if not receipts:
            return
        with self.journal.db() as db:
            db.execute("BEGIN")
            db.executemany(
                "UPDATE ops SET status=?, block=?, block_hash=?, gas_used=? WHERE chain_id=? AND sender=? AND op_id=?",
                [
                    ("mined" if ok else "reverted", block, block_hash, gas, *self._key, op_id)
                    for op_id, ok, block, block_hash, gas in receipts
                ],
            )
            db.execute("COMMIT")

    def mark_reorged(self, op_ids: Sequence[str]) -> None:
        """A receipt recorded for these is no longer on the chain: back to ``sent``."""
        if not op_ids:
            return
        with self.journal.db() as db:
            db.execute("BEGIN")
            db.executemany(
                "UPDATE ops SET status='sent', block=NULL, block_hash=NULL, reorged=1 "
                "WHERE chain_id=? AND sender=? AND op_id=?",
                [(*self._key, op_id) for op_id in op_ids],
            )
            db.execute("COMMIT")

    def forget(self, op_id: str) -> None:
        """Remove a row whose transaction the node refused before ever taking it (its nonce is
        free again). Only for a row nothing later depends on: see ``Sender._refused``."""
        with self.journal.db() as db:
            db.execute(
                "DELETE FROM ops WHERE chain_id=? AND sender=? AND op_id=? AND status='signed'", [*self._key, op_id]
            )
