"""The first index schema: meta, cursor, blocks, events (with their key indexes), derived state.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from careledger._extras import needs_extra

with needs_extra("index", "the index store's migrations"):
    import sqlalchemy as sa
    from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "index_cursor",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("block", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(66), nullable=False),
    )
    op.create_table(
        "index_blocks",
        sa.Column("number", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(66), nullable=False),
        sa.Column("parent_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "index_events",
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
    )
    for col in ("k1", "k2"):
        op.create_index(f"ix_index_events_{col}", "index_events", [col, "name"])
    for col in ("k3", "k4"):  # often empty: indexed where they hold a value
        where = sa.text(f"{col} IS NOT NULL")
        op.create_index(
            f"ix_index_events_{col}", "index_events", [col, "name"], sqlite_where=where, postgresql_where=where
        )
    op.create_index("ix_index_events_name_ts", "index_events", ["name", "ts"])
    op.create_table(
        "index_state",
        sa.Column("domain", sa.String(32), primary_key=True),
        sa.Column("block", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("state", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("index_state", "index_events", "index_blocks", "index_cursor", "index_meta"):
        op.drop_table(table)
