"""sign-in activities: activity config, draw kinds, draw chances, sign-ins and their rewards

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("config", sa.JSON(), nullable=True))
    with op.batch_alter_table("draws", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=10), server_default="draw", nullable=False))
        batch_op.create_index("ix_draws_idempotency_key", ["idempotency_key"], unique=False)

    op.create_table(
        "chance_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    with op.batch_alter_table("chance_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_chance_ledger_activity_user", ["activity_id", "user_id"], unique=False)

    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mark_id", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("cycle_start", sa.String(length=10), nullable=False),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("cumulative", sa.Integer(), nullable=False),
        sa.Column("rewards", sa.String(length=200), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mark_id"),
        sa.UniqueConstraint("activity_id", "user_id", "day", name="uq_checkins_activity_user_day"),
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index("ix_checkins_activity_cycle", ["activity_id", "cycle_start"], unique=False)

    op.create_table(
        "checkin_rewards",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("mark_id", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("reward_index", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("coupon", sa.String(length=64), nullable=True),
        sa.Column("lottery_id", sa.Integer(), nullable=True),
        sa.Column("prize_id", sa.Integer(), nullable=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    with op.batch_alter_table("checkin_rewards", schema=None) as batch_op:
        batch_op.create_index("ix_checkin_rewards_type_at", ["type", "at_ms"], unique=False)
        batch_op.create_index("ix_checkin_rewards_activity_user", ["activity_id", "user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("checkin_rewards")
    op.drop_table("checkins")
    op.drop_table("chance_ledger")
    with op.batch_alter_table("draws", schema=None) as batch_op:
        batch_op.drop_index("ix_draws_idempotency_key")
        batch_op.drop_column("kind")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_column("config")
