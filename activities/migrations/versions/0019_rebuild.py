"""rebuild: aggregates for a cold rebuild (issue 17)

A lottery's activity-level counters (draws since the start and per day, units granted per prize
since the start and per day) are read at a rebuild from `lottery_counts`, one row per activity,
local day and prize, kept by triggers on `draws` in the transaction that writes (or deletes) the
draw: the count of the rows actually stored, whoever writes them (the audit writer's
INSERT ... ON CONFLICT DO NOTHING skips a second delivery, and its trigger does not fire). A
rebuild then reads a few hundred rows instead of grouping millions of draws.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_SQLITE = [
    """CREATE TRIGGER tr_draws_count AFTER INSERT ON draws BEGIN
      INSERT INTO lottery_counts (activity_id, day, prize_id, draws, units, last_ms)
      VALUES (NEW.activity_id, NEW.day, NEW.prize_id, NEW.kind <> 'grant', 1, NEW.drawn_at_ms)
      ON CONFLICT (activity_id, day, prize_id) DO UPDATE SET
        draws = draws + excluded.draws, units = units + 1, last_ms = max(last_ms, excluded.last_ms);
    END""",
    """CREATE TRIGGER tr_draws_uncount AFTER DELETE ON draws BEGIN
      UPDATE lottery_counts SET draws = draws - (OLD.kind <> 'grant'), units = units - 1
      WHERE activity_id = OLD.activity_id AND day = OLD.day AND prize_id = OLD.prize_id;
    END""",
]

_POSTGRESQL = [
    """CREATE FUNCTION lottery_count_draw() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO lottery_counts (activity_id, day, prize_id, draws, units, last_ms)
        VALUES (NEW.activity_id, NEW.day, NEW.prize_id, CASE WHEN NEW.kind <> 'grant' THEN 1 ELSE 0 END, 1,
                NEW.drawn_at_ms)
        ON CONFLICT (activity_id, day, prize_id) DO UPDATE SET
          draws = lottery_counts.draws + EXCLUDED.draws, units = lottery_counts.units + 1,
          last_ms = GREATEST(lottery_counts.last_ms, EXCLUDED.last_ms);
        RETURN NEW;
      END IF;
      UPDATE lottery_counts SET draws = draws - CASE WHEN OLD.kind <> 'grant' THEN 1 ELSE 0 END, units = units - 1
      WHERE activity_id = OLD.activity_id AND day = OLD.day AND prize_id = OLD.prize_id;
      RETURN OLD;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER tr_draws_count AFTER INSERT OR DELETE ON draws
      FOR EACH ROW EXECUTE FUNCTION lottery_count_draw()""",
]


def upgrade() -> None:
    op.create_table(
        "lottery_counts",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),  # the activity's local day
        sa.Column("prize_id", sa.Integer(), nullable=False),
        sa.Column("draws", sa.BigInteger(), nullable=False),  # draws (kind draw or chance) that won it
        sa.Column("units", sa.BigInteger(), nullable=False),  # units handed out: draws and grants
        sa.Column("last_ms", sa.BigInteger(), nullable=False),  # the newest drawn_at_ms counted
        sa.PrimaryKeyConstraint("activity_id", "day", "prize_id"),
    )
    op.execute(
        "INSERT INTO lottery_counts (activity_id, day, prize_id, draws, units, last_ms) "
        "SELECT activity_id, day, prize_id, SUM(CASE WHEN kind <> 'grant' THEN 1 ELSE 0 END), COUNT(*), "
        "MAX(drawn_at_ms) FROM draws GROUP BY activity_id, day, prize_id"
    )
    for statement in _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tr_draws_count ON draws")
        op.execute("DROP FUNCTION IF EXISTS lottery_count_draw()")
    else:
        op.execute("DROP TRIGGER IF EXISTS tr_draws_count")
        op.execute("DROP TRIGGER IF EXISTS tr_draws_uncount")
    op.drop_table("lottery_counts")
