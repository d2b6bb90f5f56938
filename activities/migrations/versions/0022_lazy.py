"""lazy: aggregates for a cold rebuild of assists and reservations (issue 17)

As 0019 did for lotteries and sign-ins, a rebuild of an assist or a reservation activity reads
its activity-level counters from small tables kept by triggers in the transaction that writes
the audit rows, and loads each member (initiative, reservation code) when first reached:

- `reservation_counts`: one row per activity, date, store and status (reserved counts every
  reservation made; cancelled, redeemed, expired its changes), with the pool the rows took from.
  A change row may reach SQL before its reservation row (the audit writer inserts a step's rows
  table by table), so both triggers count a change: the change's when its reservation is there,
  the reservation's when its change already is. Exactly one of them finds the other.
- `assist_counts`: one row per activity and kind (initiatives, helps, helper_rewards,
  completed, expired).
- indexes of assist_helps by device and by address (with the day): a device's or an address's
  helps of the rebuild's day are counted when the device or address is first seen after it.
- `assist_open`: the initiatives with no outcome yet (the sweep's deadlines and a member's open
  initiative at a rebuild): inserted with the initiative unless its outcome is already stored,
  deleted with the outcome. At most the prize's stock of them per activity.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_RESERVATION_UPSERT = (
    "ON CONFLICT (activity_id, date, store, status) DO UPDATE SET n = reservation_counts.n + 1, "
    "last_ms = {greatest}(reservation_counts.last_ms, excluded.last_ms)"
)
_ASSIST_UPSERT = (
    "ON CONFLICT (activity_id, kind) DO UPDATE SET n = assist_counts.n + 1, "
    "last_ms = {greatest}(assist_counts.last_ms, excluded.last_ms)"
)


def _sqlite() -> list[str]:
    rsv, asu = _RESERVATION_UPSERT.format(greatest="max"), _ASSIST_UPSERT.format(greatest="max")
    return [
        f"""CREATE TRIGGER tr_reservations_count AFTER INSERT ON reservations BEGIN
          INSERT INTO reservation_counts (activity_id, date, store, status, pool, n, last_ms)
          VALUES (NEW.activity_id, NEW.date, NEW.store, 'reserved', NEW.pool, 1, NEW.created_at_ms) {rsv};
          INSERT INTO reservation_counts (activity_id, date, store, status, pool, n, last_ms)
          SELECT NEW.activity_id, NEW.date, NEW.store, c.status, NEW.pool, 1, c.at_ms
          FROM reservation_changes c WHERE c.code = NEW.code {rsv};
        END""",
        f"""CREATE TRIGGER tr_reservation_changes_count AFTER INSERT ON reservation_changes BEGIN
          INSERT INTO reservation_counts (activity_id, date, store, status, pool, n, last_ms)
          SELECT r.activity_id, r.date, r.store, NEW.status, r.pool, 1, NEW.at_ms
          FROM reservations r WHERE r.code = NEW.code {rsv};
        END""",
        f"""CREATE TRIGGER tr_assist_initiatives_count AFTER INSERT ON assist_initiatives BEGIN
          INSERT INTO assist_counts (activity_id, kind, n, last_ms)
          VALUES (NEW.activity_id, 'initiatives', 1, NEW.started_at_ms) {asu};
          INSERT INTO assist_open (initiative_id, activity_id, initiator, deadline_ms)
          SELECT NEW.initiative_id, NEW.activity_id, NEW.initiator, NEW.deadline_ms
          WHERE NOT EXISTS (SELECT 1 FROM assist_outcomes o WHERE o.initiative_id = NEW.initiative_id);
        END""",
        f"""CREATE TRIGGER tr_assist_helps_count AFTER INSERT ON assist_helps BEGIN
          INSERT INTO assist_counts (activity_id, kind, n, last_ms)
          VALUES (NEW.activity_id, 'helps', 1, NEW.at_ms) {asu};
          INSERT INTO assist_counts (activity_id, kind, n, last_ms)
          SELECT NEW.activity_id, 'helper_rewards', 1, NEW.at_ms WHERE NEW.helper_reward {asu};
        END""",
        f"""CREATE TRIGGER tr_assist_outcomes_count AFTER INSERT ON assist_outcomes BEGIN
          INSERT INTO assist_counts (activity_id, kind, n, last_ms)
          VALUES (NEW.activity_id, NEW.outcome, 1, NEW.at_ms) {asu};
          DELETE FROM assist_open WHERE initiative_id = NEW.initiative_id;
        END""",
    ]


def _postgresql() -> list[str]:
    rsv, asu = _RESERVATION_UPSERT.format(greatest="GREATEST"), _ASSIST_UPSERT.format(greatest="GREATEST")
    return [
        f"""CREATE FUNCTION reservation_count() RETURNS trigger AS $$
        BEGIN
          IF TG_TABLE_NAME = 'reservations' THEN
            INSERT INTO reservation_counts (activity_id, date, store, status, pool, n, last_ms)
            VALUES (NEW.activity_id, NEW.date, NEW.store, 'reserved', NEW.pool, 1, NEW.created_at_ms) {rsv};
            INSERT INTO reservation_counts (activity_id, date, store, status, pool, n, last_ms)
            SELECT NEW.activity_id, NEW.date, NEW.store, c.status, NEW.pool, 1, c.at_ms
            FROM reservation_changes c WHERE c.code = NEW.code {rsv};
          ELSE
            INSERT INTO reservation_counts (activity_id, date, store, status, pool, n, last_ms)
            SELECT r.activity_id, r.date, r.store, NEW.status, r.pool, 1, NEW.at_ms
            FROM reservations r WHERE r.code = NEW.code {rsv};
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER tr_reservations_count AFTER INSERT ON reservations
          FOR EACH ROW EXECUTE FUNCTION reservation_count()""",
        """CREATE TRIGGER tr_reservation_changes_count AFTER INSERT ON reservation_changes
          FOR EACH ROW EXECUTE FUNCTION reservation_count()""",
        f"""CREATE FUNCTION assist_count() RETURNS trigger AS $$
        BEGIN
          IF TG_TABLE_NAME = 'assist_initiatives' THEN
            INSERT INTO assist_counts (activity_id, kind, n, last_ms)
            VALUES (NEW.activity_id, 'initiatives', 1, NEW.started_at_ms) {asu};
            INSERT INTO assist_open (initiative_id, activity_id, initiator, deadline_ms)
            SELECT NEW.initiative_id, NEW.activity_id, NEW.initiator, NEW.deadline_ms
            WHERE NOT EXISTS (SELECT 1 FROM assist_outcomes o WHERE o.initiative_id = NEW.initiative_id);
          ELSIF TG_TABLE_NAME = 'assist_helps' THEN
            INSERT INTO assist_counts (activity_id, kind, n, last_ms)
            VALUES (NEW.activity_id, 'helps', 1, NEW.at_ms) {asu};
            IF NEW.helper_reward THEN
              INSERT INTO assist_counts (activity_id, kind, n, last_ms)
              VALUES (NEW.activity_id, 'helper_rewards', 1, NEW.at_ms) {asu};
            END IF;
          ELSE
            INSERT INTO assist_counts (activity_id, kind, n, last_ms)
            VALUES (NEW.activity_id, NEW.outcome, 1, NEW.at_ms) {asu};
            DELETE FROM assist_open WHERE initiative_id = NEW.initiative_id;
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql""",
        *[
            f"""CREATE TRIGGER tr_{table}_count AFTER INSERT ON {table}
              FOR EACH ROW EXECUTE FUNCTION assist_count()"""
            for table in ("assist_initiatives", "assist_helps", "assist_outcomes")
        ],
    ]


_TRIGGERS = [
    ("reservations", "tr_reservations_count"),
    ("reservation_changes", "tr_reservation_changes_count"),
    ("assist_initiatives", "tr_assist_initiatives_count"),
    ("assist_helps", "tr_assist_helps_count"),
    ("assist_outcomes", "tr_assist_outcomes_count"),
]


def upgrade() -> None:
    op.create_table(
        "reservation_counts",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.String(length=10), nullable=False),
        sa.Column("store", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),  # reserved | cancelled | redeemed | expired
        sa.Column("pool", sa.String(length=48), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),  # the newest event time counted
        sa.PrimaryKeyConstraint("activity_id", "date", "store", "status"),
    )
    op.create_table(
        "assist_counts",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", "kind"),
    )
    op.create_table(
        "assist_open",
        sa.Column("initiative_id", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("initiator", sa.String(length=64), nullable=False),
        sa.Column("deadline_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("initiative_id"),
    )
    op.create_index("ix_assist_open_activity_initiator", "assist_open", ["activity_id", "initiator"])
    # A device's and an address's helps of the rebuild's day, counted when first seen after it.
    op.create_index("ix_assist_helps_activity_device_day", "assist_helps", ["activity_id", "device_id", "day"])
    op.create_index("ix_assist_helps_activity_ip_day", "assist_helps", ["activity_id", "ip", "day"])
    op.execute(
        "INSERT INTO reservation_counts (activity_id, date, store, status, pool, n, last_ms) "
        "SELECT activity_id, date, store, 'reserved', MAX(pool), COUNT(*), MAX(created_at_ms) FROM reservations "
        "GROUP BY activity_id, date, store"
    )
    op.execute(
        "INSERT INTO reservation_counts (activity_id, date, store, status, pool, n, last_ms) "
        "SELECT r.activity_id, r.date, r.store, c.status, MAX(r.pool), COUNT(*), MAX(c.at_ms) "
        "FROM reservations r JOIN reservation_changes c ON c.code = r.code "
        "GROUP BY r.activity_id, r.date, r.store, c.status"
    )
    for kind, count, last, table, where in (
        ("initiatives", "COUNT(*)", "started_at_ms", "assist_initiatives", ""),
        ("helps", "COUNT(*)", "at_ms", "assist_helps", ""),
        ("helper_rewards", "COUNT(*)", "at_ms", "assist_helps", " WHERE helper_reward"),
    ):
        op.execute(
            f"INSERT INTO assist_counts (activity_id, kind, n, last_ms) SELECT activity_id, '{kind}', {count}, "
            f"MAX({last}) FROM {table}{where} GROUP BY activity_id"
        )
    op.execute(
        "INSERT INTO assist_counts (activity_id, kind, n, last_ms) "
        "SELECT activity_id, outcome, COUNT(*), MAX(at_ms) FROM assist_outcomes GROUP BY activity_id, outcome"
    )
    op.execute(
        "INSERT INTO assist_open (initiative_id, activity_id, initiator, deadline_ms) "
        "SELECT i.initiative_id, i.activity_id, i.initiator, i.deadline_ms FROM assist_initiatives i "
        "WHERE NOT EXISTS (SELECT 1 FROM assist_outcomes o WHERE o.initiative_id = i.initiative_id)"
    )
    for statement in _postgresql() if op.get_bind().dialect.name == "postgresql" else _sqlite():
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, trigger in _TRIGGERS:
        op.execute(
            f"DROP TRIGGER IF EXISTS {trigger} ON {table}" if postgresql else f"DROP TRIGGER IF EXISTS {trigger}"
        )
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS reservation_count()")
        op.execute("DROP FUNCTION IF EXISTS assist_count()")
    op.drop_index("ix_assist_open_activity_initiator", table_name="assist_open")
    op.drop_index("ix_assist_helps_activity_device_day", table_name="assist_helps")
    op.drop_index("ix_assist_helps_activity_ip_day", table_name="assist_helps")
    op.drop_table("assist_open")
    op.drop_table("assist_counts")
    op.drop_table("reservation_counts")
