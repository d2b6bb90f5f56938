"""SQL tables of members' events (on the kernel's metadata; migration 0014)."""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import metadata

# One row per accepted event, written by the audit writer from the event streams. `attributes`
# is JSON text (the writer's fast path inserts it as is).
member_events = sa.Table(
    "member_events",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("member_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("occurred_at_ms", sa.BigInteger, nullable=False),
    sa.Column("received_at_ms", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),  # the system token's subject
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("stream_id", sa.String(40), nullable=False),
    sa.Index("ix_member_events_member", "member_id", "occurred_at_ms"),
)

# Custom event types operators declared (the built-in ones are in events/model.py).
event_types = sa.Table(
    "event_types",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("description", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
)
