"""SQL tables of hot-item reservations (the audit trail, and what Redis is rebuilt from).

Insert-only: a reservation row when it is made, and one change row when it leaves the reserved
state (cancelled, redeemed or expired). A reservation changes once, so the code is unique in
both tables: SQL itself holds that a code was not both cancelled and redeemed."""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import metadata

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(16), nullable=False, unique=True),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("date", sa.String(10), nullable=False),  # the day reserved for, in the activity's time zone
    sa.Column("store", sa.String(32), nullable=False),  # the pickup store, or "all" for delivery
    sa.Column("pool", sa.String(48), nullable=False),  # "<date>|<store or all>": the units it took
    sa.Column("purchase", sa.String(10), nullable=False),  # prepay | in_store
    sa.Column("cancel_until_ms", sa.BigInteger, nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16)),  # h5 | mini_program | app | other; NULL: not sent (analytics)
    sa.Column("source", sa.String(64)),  # the campaign link code sent with the reservation
    sa.Index("ix_reservations_activity_date_store", "activity_id", "date", "store"),
    sa.Index("ix_reservations_activity_user", "activity_id", "user_id"),
)

reservation_changes = sa.Table(
    "reservation_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(16), nullable=False, unique=True),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # cancelled | redeemed | expired
    sa.Column("actor", sa.String(64), nullable=False),  # the member, the store operator, or "sweep"
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16)),  # where a cancellation or redemption came from (analytics)
    sa.Column("source", sa.String(64)),
    sa.Index("ix_reservation_changes_activity", "activity_id"),
)

# A reservation activity's counters per date, store and status, kept by triggers on both tables
# (migration 0022): what a rebuild reads instead of every reservation (reservation/rebuild.py).
reservation_counts = sa.Table(
    "reservation_counts",
    metadata,
    sa.Column("activity_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("date", sa.String(10), primary_key=True),
    sa.Column("store", sa.String(32), primary_key=True),
    sa.Column("status", sa.String(10), primary_key=True),  # reserved (every one made) | cancelled | ...
    sa.Column("pool", sa.String(48), nullable=False),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("last_ms", sa.BigInteger, nullable=False),  # the newest event time counted
)
