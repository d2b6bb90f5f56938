"""analytics: rollup tables kept by the audit writer (issue 14), and the guards of counted facts

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COUNTS = {
    "analytics_daily": [
        *("actions", "participants", "first_timers", "wins", "cost_cents", "points_spent", "points_granted"),
        *("draws", "signins", "makeups", "initiatives", "helps", "helpers_new", "completions", "assist_expiries"),
        *("reservations", "redemptions", "cancellations", "reservation_expiries", "winners", "helper_initiators"),
    ],
    "analytics_prizes": ["wins", "cost_cents"],
    "analytics_details": ["count", "total_ms"],
}


def _counts(table: str) -> list[sa.Column[int]]:
    return [sa.Column(name, sa.BigInteger(), nullable=False, server_default="0") for name in _COUNTS[table]]


def upgrade() -> None:
    op.add_column("activities", sa.Column("experiment", sa.JSON(), nullable=True))  # A/B variants
    op.add_column("draws", sa.Column("channel", sa.String(length=16), nullable=True))
    op.add_column("draws", sa.Column("source", sa.String(length=64), nullable=True))
    op.add_column("draws", sa.Column("variant", sa.String(length=16), nullable=True))
    op.create_table("increment_guards", sa.Column("guard", sa.String(length=255), primary_key=True))
    key = ("activity_id", "day", "channel", "source", "variant")
    op.create_table(
        "analytics_daily",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        *_counts("analytics_daily"),
        sa.UniqueConstraint(*key, name="uq_analytics_daily_key"),
    )
    op.create_table(
        "analytics_prizes",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("prize_id", sa.Integer(), nullable=False),
        *_counts("analytics_prizes"),
        sa.UniqueConstraint("activity_id", "day", "variant", "prize_id", name="uq_analytics_prizes_key"),
    )
    op.create_table(
        "analytics_details",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        *_counts("analytics_details"),
        sa.UniqueConstraint("activity_id", "day", "variant", "kind", "item", name="uq_analytics_details_key"),
    )

    op.create_table(
        "analytics_visitors",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("visitors", sa.BigInteger(), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("activity_id", "day", "channel", name="uq_analytics_visitors_key"),
    )


def downgrade() -> None:
    for table in ("analytics_visitors", "analytics_details", "analytics_prizes", "analytics_daily", "increment_guards"):
        op.drop_table(table)
    op.drop_column("activities", "experiment")
    for column in ("variant", "source", "channel"):
        op.drop_column("draws", column)  # SQLite >= 3.35 drops a column in place
