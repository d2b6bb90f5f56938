"""channels: channel and source on every action, share parents (issue 14)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# The tables of the actions that carry where they came from (draws got theirs in 0013).
_ORIGIN_TABLES = ("checkins", "assist_initiatives", "assist_helps", "reservations", "reservation_changes")


def upgrade() -> None:
    for table in _ORIGIN_TABLES:
        op.add_column(table, sa.Column("channel", sa.String(length=16), nullable=True))
        op.add_column(table, sa.Column("source", sa.String(length=64), nullable=True))
    op.add_column("assist_helps", sa.Column("parent", sa.String(length=64), nullable=True))  # the share tree


def downgrade() -> None:
    op.drop_column("assist_helps", "parent")  # SQLite >= 3.35 drops a column in place
    for table in reversed(_ORIGIN_TABLES):
        op.drop_column(table, "source")
        op.drop_column(table, "channel")
