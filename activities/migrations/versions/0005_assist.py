"""friend assist: initiatives, helps and outcomes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assist_initiatives",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("initiative_id", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("initiator", sa.String(length=64), nullable=False),
        sa.Column("needed", sa.Integer(), nullable=False),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("deadline_ms", sa.BigInteger(), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=True),
        sa.Column("floor_cents", sa.BigInteger(), nullable=True),
        sa.Column("cuts", sa.Text(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("stream_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("initiative_id"),
    )
    with op.batch_alter_table("assist_initiatives", schema=None) as batch_op:
        batch_op.create_index("ix_assist_initiatives_activity_initiator", ["activity_id", "initiator"], unique=False)

    op.create_table(
        "assist_helps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("help_id", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("initiative_id", sa.String(length=40), nullable=False),
        sa.Column("helper", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("cut_cents", sa.BigInteger(), nullable=True),
        sa.Column("price_after_cents", sa.BigInteger(), nullable=True),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("helper_reward", sa.Boolean(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("help_id"),
        sa.UniqueConstraint("initiative_id", "helper", name="uq_assist_helps_initiative_helper"),
        sa.UniqueConstraint("initiative_id", "number", name="uq_assist_helps_initiative_number"),
    )
    with op.batch_alter_table("assist_helps", schema=None) as batch_op:
        batch_op.create_index("ix_assist_helps_activity_day", ["activity_id", "day"], unique=False)
        batch_op.create_index("ix_assist_helps_activity_helper", ["activity_id", "helper"], unique=False)

    op.create_table(
        "assist_outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("initiative_id", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("initiative_id"),
    )
    with op.batch_alter_table("assist_outcomes", schema=None) as batch_op:
        batch_op.create_index("ix_assist_outcomes_activity", ["activity_id"], unique=False)


def downgrade() -> None:
    op.drop_table("assist_outcomes")
    op.drop_table("assist_helps")
    op.drop_table("assist_initiatives")
