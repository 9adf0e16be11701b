"""The index store: SQLite by default (a file, zero set-up), PostgreSQL for a ``postgresql://`` URL.

The schema is created and upgraded by Alembic (``careledger/index/migrations``) when the store is
opened. Every write the follower makes for one block range (its events, its blocks, the cursor)
is one transaction, and so is every rollback: a process killed at any instant leaves the store at
the end of a range, never inside one.
"""

from __future__ import annotations

import json
import operator
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careledger._extras import needs_extra
from careledger.errors import EnvironmentProblem, InvalidInput
from careledger.index import schema as t

with needs_extra("index", "the persistent indexer"):
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

__all__ = ["Block", "Cursor", "EventRow", "Store", "open_store", "store_url"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_EVENT_COLUMNS = tuple(c.name for c in t.events.columns)
_EVENT_VALUES = operator.itemgetter(*_EVENT_COLUMNS)


@dataclass(frozen=True)
class Cursor:
    block: int
    hash: str


@dataclass(frozen=True)
class Block:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


@dataclass(frozen=True)
class EventRow:
    id: int
    block: int
    log_index: int
    tx_hash: str
    contract: str
    name: str
    ts: int
    args: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "block": self.block,
            "logIndex": self.log_index,
            "tx": self.tx_hash,
            "contract": self.contract,
            "event": self.name,
            "timestamp": self.ts,
            "args": self.args,
        }


def store_url(target: str | Path) -> str:
    """A SQLAlchemy URL for ``target``: a ``postgresql://`` URL (driven by psycopg 3), a
    ``sqlite:///`` URL, or a file path (SQLite)."""
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if text.startswith(("postgresql+", "sqlite:")):
        return text
    if "://" in text:
        raise InvalidInput(f"unsupported index database {text!r}: give a file path or a postgresql:// URL")
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _projections() -> tuple[Any, ...]:
    """The report modules that keep a table of their own beside the events (written in the
    same transactions: see careledger/index/reports)."""
    from careledger.index.reports import PROJECTIONS

    return PROJECTIONS


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers (the API) never block the writer; synchronous=NORMAL is durable across a
    # killed process (only an OS crash can lose the last commits, never tear one).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages (more did not index faster at 1M events)
    cur.close()


class Store:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return str(self.engine.dialect.name)

    # ------------------------------------------------------------------ meta and cursor

    def meta(self) -> dict[str, str]:
        with self.engine.connect() as c:
            return {str(k): str(v) for k, v in c.execute(sa.select(t.meta.c.key, t.meta.c.value))}

    def set_meta(self, values: Mapping[str, str]) -> None:
        with self.engine.begin() as c:
            for k, v in values.items():
                c.execute(sa.delete(t.meta).where(t.meta.c.key == k))
                c.execute(sa.insert(t.meta).values(key=k, value=v))

    def cursor(self) -> Cursor | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.cursor.c.block, t.cursor.c.hash).where(t.cursor.c.id == 1)).first()
        return Cursor(int(row[0]), str(row[1])) if row else None

    def blocks_below(self, number: int, limit: int) -> list[Block]:
        """Stored blocks under ``number``, highest first (reorg search)."""
        q = (
            sa.select(t.blocks.c.number, t.blocks.c.hash, t.blocks.c.parent_hash, t.blocks.c.timestamp)
            .where(t.blocks.c.number < number)
            .order_by(t.blocks.c.number.desc())
            .limit(limit)
        )
        with self.engine.connect() as c:
            return [Block(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in c.execute(q)]

    def block(self, number: int) -> Block | None:
        q = sa.select(t.blocks.c.number, t.blocks.c.hash, t.blocks.c.parent_hash, t.blocks.c.timestamp).where(
            t.blocks.c.number == number
        )
        with self.engine.connect() as c:
            r = c.execute(q).first()
        return Block(int(r[0]), str(r[1]), str(r[2]), int(r[3])) if r else None

    # ------------------------------------------------------------------ writes

    def write_range(self, rows: Sequence[Mapping[str, Any]], new_blocks: Iterable[Block], to: Cursor) -> None:
        """One range, atomically: its events, its blocks and the cursor at its last block."""
        block_rows = [
            {"number": b.number, "hash": b.hash, "parent_hash": b.parent_hash, "timestamp": b.timestamp}
            for b in new_blocks
        ]
        with self.engine.begin() as c:
            if block_rows:
                # blocks above the cursor never exist (a rollback drops them with the cursor)
                c.execute(sa.insert(t.blocks), block_rows)
            if rows:
                # The driver's executemany straight away: SQLAlchemy's per-row parameter
                # processing was a third of the indexing time.
                c.exec_driver_sql(self._insert_events, [_EVENT_VALUES(r) for r in rows])
                for projection in _projections():
                    projection.project(c, rows)
            self._set_cursor(c, to)

    @property
    def _insert_events(self) -> str:
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        return (
            f"INSERT INTO index_events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join([mark] * len(_EVENT_COLUMNS))})"
        )

    @staticmethod
    def _set_cursor(c: sa.Connection, to: Cursor | None) -> None:
        c.execute(sa.delete(t.cursor))
        if to is not None:
            c.execute(sa.insert(t.cursor).values(id=1, block=to.block, hash=to.hash))

    def rollback_to(self, ancestor: Cursor | None) -> int:
        """Drop everything above ``ancestor`` (all of it when None), in one transaction; returns
        the number of events dropped."""
        above = -1 if ancestor is None else ancestor.block
        with self.engine.begin() as c:
            first_gone = (above + 1) << t.LOG_INDEX_BITS
            victims = [(p, p.affected(c, first_gone)) for p in _projections()]
            dropped = c.execute(sa.delete(t.events).where(t.events.c.id >= first_gone)).rowcount
            for projection, ids in victims:
                projection.rebuild_projection(c, ids)
            c.execute(sa.delete(t.blocks).where(t.blocks.c.number > above))
            c.execute(sa.delete(t.state).where(t.state.c.block > above))
            self._set_cursor(c, ancestor)
        return int(dropped or 0)

    def reset(self) -> None:
        with self.engine.begin() as c:
            for table in (t.events, t.blocks, t.state, t.claims, t.cursor, t.meta):
                c.execute(sa.delete(table))

    # ------------------------------------------------------------------ derived state

    def latest_state(self, domain: str, at_most: int) -> tuple[int, str] | None:
        q = (
            sa.select(t.state.c.block, t.state.c.state)
            .where(t.state.c.domain == domain, t.state.c.block <= at_most)
            .order_by(t.state.c.block.desc())
            .limit(1)
        )
        with self.engine.connect() as c:
            r = c.execute(q).first()
        return (int(r[0]), str(r[1])) if r else None

    def save_state(self, domain: str, block: int, text: str, keep: int = 4) -> None:
        """Save a snapshot and keep only the ``keep`` newest of the domain (older ones are never
        needed: a reorg deeper than the newest few is rebuilt from the events)."""
        with self.engine.begin() as c:
            c.execute(sa.delete(t.state).where(t.state.c.domain == domain, t.state.c.block == block))
            c.execute(sa.insert(t.state).values(domain=domain, block=block, state=text))
            old = c.execute(
                sa.select(t.state.c.block)
                .where(t.state.c.domain == domain)
                .order_by(t.state.c.block.desc())
                .offset(keep)
            ).all()
            if old:
                c.execute(sa.delete(t.state).where(t.state.c.domain == domain, t.state.c.block <= old[0][0]))

    # ------------------------------------------------------------------ reads

    def events(
        self,
        *,
        contracts: Sequence[str] = (),
        names: Sequence[str] = (),
        keys: Mapping[str, Sequence[str]] | None = None,
        since: int | None = None,
        until: int | None = None,
        after: int = 0,
        above_block: int = -1,
        up_to_block: int | None = None,
        limit: int | None = None,
        descending: bool = False,
    ) -> list[EventRow]:
        """Events in chain order (or reverse), filtered; ``keys`` maps a key column (``k1``..``k4``)
        to the values it may hold; ``since``/``until`` bound the block time (inclusive, exclusive);
        ``after`` is a keyset cursor (an event id: the page starts after it)."""
        e = t.events.c
        q = sa.select(e.id, e.block, e.log_index, e.tx_hash, e.contract, e.name, e.ts, e.args)
        conds: list[Any] = []
        if contracts:
            conds.append(e.contract.in_(list(contracts)))
        if names:
            conds.append(e.name.in_(list(names)))
        for col, values in (keys or {}).items():
            if col not in ("k1", "k2", "k3", "k4"):
                raise InvalidInput(f"no key column {col!r} (k1..k4)")
            conds.append(getattr(e, col).in_(list(values)))
        if since is not None:
            conds.append(e.ts >= since)
        if until is not None:
            conds.append(e.ts < until)
        if after:
            conds.append(e.id < after if descending else e.id > after)
        if above_block >= 0:  # ids are block << 20 | log index: a block range is an id range
            conds.append(e.id >= (above_block + 1) << t.LOG_INDEX_BITS)
        if up_to_block is not None:
            conds.append(e.id < (up_to_block + 1) << t.LOG_INDEX_BITS)
        q = q.where(*conds).order_by(e.id.desc() if descending else e.id)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as c:
            return [
                EventRow(int(r[0]), int(r[1]), int(r[2]), str(r[3]), str(r[4]), str(r[5]), int(r[6]), json.loads(r[7]))
                for r in c.execute(q)
            ]

    def iter_events(self, *, above_block: int, up_to_block: int, page: int = 5000) -> Iterator[EventRow]:
        """Every event in ``(above_block, up_to_block]``, in chain order, a page at a time."""
        after = 0
        while True:
            rows = self.events(above_block=above_block, up_to_block=up_to_block, after=after, limit=page)
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1].id

    def distinct_keys(self, *, contract: str, name: str, where: Mapping[str, Sequence[str]], column: str) -> list[str]:
        """The distinct values of key column ``column`` among the events ``name`` of ``contract``
        whose key columns hold the given values (no argument is parsed: an index range and a key)."""
        e = t.events.c
        conds: list[Any] = [e.contract == contract, e.name == name]
        for col, values in where.items():
            conds.append(getattr(e, col).in_(list(values)))
        q = sa.select(getattr(e, column)).where(*conds).distinct()
        with self.engine.connect() as c:
            return [str(v) for (v,) in c.execute(q) if v is not None]

    def count_by_name(
        self, *, contracts: Sequence[str], names: Sequence[str], since: int | None = None, until: int | None = None
    ) -> dict[str, int]:
        """How many events of each name (of ``contracts``) fall in the period."""
        e = t.events.c
        conds: list[Any] = [e.contract.in_(list(contracts)), e.name.in_(list(names))]
        if since is not None:
            conds.append(e.ts >= since)
        if until is not None:
            conds.append(e.ts < until)
        q = sa.select(e.name, sa.func.count()).where(*conds).group_by(e.name)
        with self.engine.connect() as c:
            return {str(n): int(k) for n, k in c.execute(q)}

    def count_events(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one())

    def close(self) -> None:
        self.engine.dispose()


def _alembic_config(connection: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: sa.Engine, attempts: int = 5) -> None:
    """Bring the schema to the newest Alembic revision (creates it in an empty database).

    Two processes may open a new store at once (``index sync`` and ``index serve``): on
    PostgreSQL an advisory lock serialises them; SQLite's DDL runs in the transaction, so the
    loser's ``CREATE`` fails and it looks again once the winner has committed."""
    for attempt in range(attempts):
        try:
            with engine.begin() as connection:
                if engine.dialect.name == "postgresql":
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                cfg = _alembic_config(connection)
                head = ScriptDirectory.from_config(cfg).get_current_head()
                current = MigrationContext.configure(connection).get_current_revision()
                if current != head:
                    command.upgrade(cfg, "head")
            return
        except sa.exc.OperationalError as exc:
            if attempt == attempts - 1 or "already exists" not in str(exc.orig):
                raise
            time.sleep(0.2 * (attempt + 1))


_LOCK_KEY = 0x436172654C6564  # "CareLed": the advisory lock of index migrations


def open_store(target: str | Path, *, create: bool = True) -> Store:
    """Open (and migrate) the store at a path or URL. ``create=False`` refuses a missing SQLite
    file (a reader should not conjure an empty index)."""
    url = store_url(target)
    if url.startswith("sqlite:///") and not create:
        path = Path(url[len("sqlite:///") :])
        if not path.is_file():
            raise InvalidInput(f"no index at {path}; run 'careledger index sync --db {path}' first")
    try:
        engine = sa.create_engine(url, future=True)
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise EnvironmentProblem(f"cannot use index database {url.split('@')[-1]}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        migrate(engine)
    except sa.exc.OperationalError as exc:
        raise EnvironmentProblem(f"cannot open index database {url.split('@')[-1]}: {exc.orig}") from exc
    return Store(engine)
