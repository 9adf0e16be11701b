"""The index's tables (SQLAlchemy Core), shared by the store and the Alembic migrations.

- ``index_meta``: what the index was built from (chain id, the deployment's contracts and ABI
  hashes); a store built for another chain or another build is refused, never mixed.
- ``index_cursor``: the last block fully indexed and its hash (one row). Everything up to it is
  in the store; it moves in the same transaction as the rows of its range.
- ``index_blocks``: number, hash, parent hash and timestamp of each indexed range's first and
  last block (what reorg detection compares with the chain).
- ``index_events``: one row per log. ``id`` is ``block << 20 | log_index`` (chain order, unique,
  so a range written twice cannot double). ``k1``..``k3`` hold the indexed (topic) arguments in
  their exact JSON form, ``k4`` one more argument a domain's report module names (e.g. a claim's
  plan), ``args`` every argument as exact JSON. Block ranges are id ranges (no block index);
  each key is indexed with the event name (``k3`` and ``k4`` where they hold a value), so "this
  patient's accesses" is one index range however many other events name the same address.
- ``index_claims`` (revision 0002): one row per claim (plan, member, submission time, state,
  billed / approved / paid as decimal text, appealed), kept by the claims report module in the
  same transaction as the events, so an insurer's totals over a month are a range scan, not a
  fold of thousands of claims' events.
- ``index_state``: each domain's derived state (what ``careledger/<domain>/replay.py`` rebuilds),
  as tagged JSON, at a block; a reorg drops the snapshots above the common ancestor.
"""

from __future__ import annotations

from careledger._extras import needs_extra

with needs_extra("index", "the persistent indexer"):
    import sqlalchemy as sa

__all__ = ["LOG_INDEX_BITS", "blocks", "claims", "cursor", "events", "meta", "metadata", "state"]

LOG_INDEX_BITS = 20

metadata = sa.MetaData()

meta = sa.Table(
    "index_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

cursor = sa.Table(
    "index_cursor",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("block", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(66), nullable=False),
)

blocks = sa.Table(
    "index_blocks",
    metadata,
    sa.Column("number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(66), nullable=False),
    sa.Column("parent_hash", sa.String(66), nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
)

events = sa.Table(
    "index_events",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("block", sa.BigInteger, nullable=False),
    sa.Column("log_index", sa.Integer, nullable=False),
    sa.Column("tx_hash", sa.String(66), nullable=False),
    sa.Column("contract", sa.String(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("k1", sa.String(80)),
    sa.Column("k2", sa.String(80)),
    sa.Column("k3", sa.String(80)),
    sa.Column("k4", sa.String(80)),
    sa.Column("args", sa.Text, nullable=False),
    sa.Index("ix_index_events_k1", "k1", "name"),
    sa.Index("ix_index_events_k2", "k2", "name"),
    sa.Index(
        "ix_index_events_k3",
        "k3",
        "name",
        sqlite_where=sa.text("k3 IS NOT NULL"),
        postgresql_where=sa.text("k3 IS NOT NULL"),
    ),
    sa.Index(
        "ix_index_events_k4",
        "k4",
        "name",
        sqlite_where=sa.text("k4 IS NOT NULL"),
        postgresql_where=sa.text("k4 IS NOT NULL"),
    ),
    sa.Index("ix_index_events_name_ts", "name", "ts"),
)

state = sa.Table(
    "index_state",
    metadata,
    sa.Column("domain", sa.String(32), primary_key=True),
    sa.Column("block", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("state", sa.Text, nullable=False),
)

claims = sa.Table(
    "index_claims",
    metadata,
    sa.Column("claim_id", sa.String(66), primary_key=True),
    sa.Column("plan_id", sa.BigInteger, nullable=False),
    sa.Column("member", sa.String(42), nullable=False),
    sa.Column("submitted_ts", sa.BigInteger, nullable=False),
    sa.Column("submitted_id", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("billed", sa.Text, nullable=False),
    sa.Column("approved", sa.Text, nullable=False),
    sa.Column("paid", sa.Text, nullable=False),
    sa.Column("appealed", sa.Integer, nullable=False),
    sa.Index("ix_index_claims_plan_ts", "plan_id", "submitted_ts"),
)
