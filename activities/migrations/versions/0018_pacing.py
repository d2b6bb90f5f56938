"""pacing: paced release and budgets (issue 18)

A prize's release plan (prizes.release, JSON), an activity's budget (activities.budget_cny) and
what each draw or grant spent of it (draws.cost_fen, integer fen): see lottery/pacing.py.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35 drops columns natively): a batch copy of `activities`
    # would drop a table other tables' foreign keys point at.
    op.add_column("prizes", sa.Column("release", sa.JSON(), nullable=True))
    op.add_column("activities", sa.Column("budget_cny", sa.Numeric(14, 2), nullable=True))
    op.add_column("draws", sa.Column("cost_fen", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("draws", "cost_fen")
    op.drop_column("activities", "budget_cny")
    op.drop_column("prizes", "release")
