"""SQL of event gifts (on the kernel's metadata; migration 0014)."""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import metadata

# One row per firing: the gift `<activity id>:<event id>` (a firing per event, whatever replays).
gift_firings = sa.Table(
    "gift_firings",
    metadata,
    sa.Column("gift_id", sa.String(80), primary_key=True),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),  # local day of the firing (the daily cap)
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(40), nullable=False),
    sa.Index("ix_gift_firings_activity", "activity_id", "user_id"),
)
