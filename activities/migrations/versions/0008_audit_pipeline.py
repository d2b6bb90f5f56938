"""audit pipeline: dead-letter table for entries the writer cannot write

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stream", "entry_id", name="uq_audit_dead_letters_entry"),
    )
    with op.batch_alter_table("audit_dead_letters", schema=None) as batch_op:
        batch_op.create_index("ix_audit_dead_letters_activity", ["activity_id"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_dead_letters")
