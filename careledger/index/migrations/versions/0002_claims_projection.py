"""The claims projection (``index_claims``): one row per claim for the insurer report's totals,
filled from the events an existing index already holds.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from careledger._extras import needs_extra

with needs_extra("index", "the index store's migrations"):
    import sqlalchemy as sa
    from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_claims",
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
    )
    op.create_index("ix_index_claims_plan_ts", "index_claims", ["plan_id", "submitted_ts"])
    from careledger.index.reports.claims import rebuild_projection

    rebuild_projection(op.get_bind())  # an index made before this revision: fill it from its events


def downgrade() -> None:
    op.drop_table("index_claims")
