"""buckets: bucketed stock (issue 17)

How many Redis slots an activity's live state spreads over (`activities.buckets`: a lottery's
`stock_buckets`, lottery/buckets.py); NULL: one, as before.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, as in 0018: a batch copy of `activities` would drop a table other
    # tables' foreign keys point at.
    op.add_column("activities", sa.Column("buckets", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("activities", "buckets")
