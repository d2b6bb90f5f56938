"""lottery_rules: pity and unlock tiers (issue 15)

A lottery's pity rule (`activities.pity_after`, and `prizes.pity` on the prizes it picks from),
a prize's unlock tier (`prizes.unlock_after_draws`), and whether a draw was the pity rule's
(`draws.pity`). See lottery/odds.py.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

MAX_COUNT = 1_000_000_000  # activities.model.MAX_COUNT, frozen here as migrations must be


def upgrade() -> None:
    # `activities` gets its column in place (batch mode would recreate it, which the prizes'
    # foreign keys refuse: see 0007); `prizes` is recreated for the CHECK of its new integer.
    op.add_column("activities", sa.Column("pity_after", sa.Integer(), nullable=True))
    with op.batch_alter_table("prizes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unlock_after_draws", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pity", sa.Boolean(), server_default=sa.false(), nullable=False))
        column = "unlock_after_draws"
        batch_op.create_check_constraint(
            f"ck_prizes_{column}_bounded_integer",
            f"{column} BETWEEN 0 AND {MAX_COUNT} AND {column} = CAST({column} AS INTEGER)",
        )
    op.add_column("draws", sa.Column("pity", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column("draws", "pity")
    with op.batch_alter_table("prizes", schema=None) as batch_op:
        batch_op.drop_constraint("ck_prizes_unlock_after_draws_bounded_integer", type_="check")
        batch_op.drop_column("pity")
        batch_op.drop_column("unlock_after_draws")
    op.drop_column("activities", "pity_after")
