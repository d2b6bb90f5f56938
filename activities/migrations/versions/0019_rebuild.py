"""rebuild: aggregates for a cold rebuild (issue 17)

A lottery's activity-level counters (draws since the start and per day, units granted per prize
since the start and per day) are read at a rebuild from `lottery_counts`, one row per activity,
local day and prize, kept by triggers on `draws` in the transaction that writes (or deletes) the
draw: the count of the rows actually stored, whoever writes them (the audit writer's
INSERT ... ON CONFLICT DO NOTHING skips a second delivery, and its trigger does not fire). A
rebuild then reads a few hundred rows instead of grouping millions of draws.

Sign-in activities the same way: `checkin_counts`, one row per activity, marked day and kind
(signin | makeup; "reward" rows, day "", count the rewards granted), kept by triggers on
`checkins` and `checkin_rewards`; and an index of checkins by (activity_id, kind, at_ms) for the
make-ups made today (a make-up marks a past day).

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

_SQLITE_CHECKINS = [
    """CREATE TRIGGER tr_checkins_count AFTER INSERT ON checkins BEGIN
      INSERT INTO checkin_counts (activity_id, day, kind, marks, last_ms)
      VALUES (NEW.activity_id, NEW.day, NEW.kind, 1, NEW.at_ms)
      ON CONFLICT (activity_id, day, kind) DO UPDATE SET
        marks = marks + 1, last_ms = max(last_ms, excluded.last_ms);
    END""",
    """CREATE TRIGGER tr_checkins_uncount AFTER DELETE ON checkins BEGIN
      UPDATE checkin_counts SET marks = marks - 1
      WHERE activity_id = OLD.activity_id AND day = OLD.day AND kind = OLD.kind;
    END""",
    """CREATE TRIGGER tr_checkin_rewards_count AFTER INSERT ON checkin_rewards BEGIN
      INSERT INTO checkin_counts (activity_id, day, kind, marks, last_ms)
      VALUES (NEW.activity_id, '', 'reward', 1, NEW.at_ms)
      ON CONFLICT (activity_id, day, kind) DO UPDATE SET
        marks = marks + 1, last_ms = max(last_ms, excluded.last_ms);
    END""",
    """CREATE TRIGGER tr_checkin_rewards_uncount AFTER DELETE ON checkin_rewards BEGIN
      UPDATE checkin_counts SET marks = marks - 1
      WHERE activity_id = OLD.activity_id AND day = '' AND kind = 'reward';
    END""",
]

_POSTGRESQL_CHECKINS = [
    """CREATE FUNCTION checkin_count_mark() RETURNS trigger AS $$
    DECLARE
      row_day varchar(10);
      row_kind varchar(10);
    BEGIN
      IF TG_TABLE_NAME = 'checkins' THEN
        row_day := CASE WHEN TG_OP = 'INSERT' THEN NEW.day ELSE OLD.day END;
        row_kind := CASE WHEN TG_OP = 'INSERT' THEN NEW.kind ELSE OLD.kind END;
      ELSE
        row_day := '';
        row_kind := 'reward';
      END IF;
      IF TG_OP = 'INSERT' THEN
        INSERT INTO checkin_counts (activity_id, day, kind, marks, last_ms)
        VALUES (NEW.activity_id, row_day, row_kind, 1, NEW.at_ms)
        ON CONFLICT (activity_id, day, kind) DO UPDATE SET
          marks = checkin_counts.marks + 1, last_ms = GREATEST(checkin_counts.last_ms, EXCLUDED.last_ms);
        RETURN NEW;
      END IF;
      UPDATE checkin_counts SET marks = marks - 1
      WHERE activity_id = OLD.activity_id AND day = row_day AND kind = row_kind;
      RETURN OLD;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER tr_checkins_count AFTER INSERT OR DELETE ON checkins
      FOR EACH ROW EXECUTE FUNCTION checkin_count_mark()""",
    """CREATE TRIGGER tr_checkin_rewards_count AFTER INSERT OR DELETE ON checkin_rewards
      FOR EACH ROW EXECUTE FUNCTION checkin_count_mark()""",
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
    op.create_table(
        "checkin_counts",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),  # the day marked ("" for rewards)
        sa.Column("kind", sa.String(length=10), nullable=False),  # signin | makeup | reward
        sa.Column("marks", sa.BigInteger(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),  # the newest at_ms counted
        sa.PrimaryKeyConstraint("activity_id", "day", "kind"),
    )
    op.execute(
        "INSERT INTO checkin_counts (activity_id, day, kind, marks, last_ms) "
        "SELECT activity_id, day, kind, COUNT(*), MAX(at_ms) FROM checkins GROUP BY activity_id, day, kind"
    )
    op.execute(
        "INSERT INTO checkin_counts (activity_id, day, kind, marks, last_ms) "
        "SELECT activity_id, '', 'reward', COUNT(*), MAX(at_ms) FROM checkin_rewards GROUP BY activity_id"
    )
    op.create_index("ix_checkins_activity_kind_at", "checkins", ["activity_id", "kind", "at_ms"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL + _POSTGRESQL_CHECKINS if postgresql else _SQLITE + _SQLITE_CHECKINS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, trigger in (("draws", "tr_draws_count"), ("checkins", "tr_checkins_count")):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        op.execute("DROP TRIGGER IF EXISTS tr_checkin_rewards_count ON checkin_rewards")
        op.execute("DROP FUNCTION IF EXISTS lottery_count_draw()")
        op.execute("DROP FUNCTION IF EXISTS checkin_count_mark()")
    else:
        for trigger in ("draws_count", "draws_uncount", "checkins_count", "checkins_uncount"):
            op.execute(f"DROP TRIGGER IF EXISTS tr_{trigger}")
        op.execute("DROP TRIGGER IF EXISTS tr_checkin_rewards_count")
        op.execute("DROP TRIGGER IF EXISTS tr_checkin_rewards_uncount")
    op.drop_index("ix_checkins_activity_kind_at", table_name="checkins")
    op.drop_table("checkin_counts")
    op.drop_table("lottery_counts")
