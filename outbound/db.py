"""SQL tables of the outbound side: endpoints, events (the outbox), deliveries, fulfilments.
On the kernel's metadata, so that one set of Alembic migrations covers the platform (0010)."""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import metadata

# Endpoints an operator configured. Secrets are stored encrypted (the address key): a secret is
# shown once, when made; the previous one still signs until `previous_until_ms` (rotation overlap).
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("description", sa.String(100), nullable=False, server_default=""),
    sa.Column("event_types", sa.JSON, nullable=False),  # the types subscribed
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("max_in_flight", sa.Integer, nullable=False),  # deliveries at once to this endpoint
    sa.Column("secret", sa.Text, nullable=False),  # encrypted
    sa.Column("previous_secret", sa.Text),  # encrypted; signs too until previous_until_ms
    sa.Column("previous_until_ms", sa.BigInteger),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)

# The outbox: one row per event, its `event_id` the stable webhook-id every delivery of it carries.
# state: new (to fan out) | fanned (deliveries made) | dropped (nobody subscribed) | capped (the
# member's daily notification cap) | cancelled. Quiet hours push `not_before_ms` forward.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(120), nullable=False, unique=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("user_id", sa.String(64)),
    sa.Column("activity_id", sa.Integer),
    sa.Column("ref", sa.String(64), nullable=False),  # the grant, initiative, reservation or day
    # The payload's data as JSON text (NULL: made from the columns). Text, not JSON: the audit writer
    # inserts rows without a type conversion through its fast path (activities/audit_sql.py).
    sa.Column("data", sa.Text),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("not_before_ms", sa.BigInteger, nullable=False),
    sa.Column("lease_until_ms", sa.BigInteger, nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=False),
    sa.Index("ix_webhook_events_state_due", "state", "not_before_ms"),
    sa.Index("ix_webhook_events_ref", "ref"),
)

# One row per (event, endpoint). status: pending | delivered | dead (the schedule ran out: a dead
# letter an operator may resend) | cancelled. A claimed row is leased: a dispatcher that dies
# mid-delivery leaves it to the next once the lease ends; the webhook-id stays the event's.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_row", sa.Integer, sa.ForeignKey("webhook_events.id"), nullable=False),
    sa.Column("endpoint_id", sa.Integer, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at_ms", sa.BigInteger, nullable=False),
    sa.Column("lease_until_ms", sa.BigInteger, nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=False),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.String(200)),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
    sa.Column("delivered_at_ms", sa.BigInteger),
    sa.UniqueConstraint("event_row", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
    sa.Index("ix_webhook_deliveries_due", "endpoint_id", "status", "next_attempt_at_ms"),
    sa.Index("ix_webhook_deliveries_status", "status", "id"),
)

# A grant that needs the outside world (coupon, goods, types configured external).
# status: pending -> delivered (the CRM answered 2xx) -> issued (the CRM confirmed, with its code)
# | failed (the retry schedule ran out) | cancelled (an operator). Goods: the address, encrypted.
fulfilments = sa.Table(
    "fulfilments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("grant_id", sa.String(40), nullable=False, unique=True),  # the draw id
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("prize_id", sa.Integer, nullable=False),
    sa.Column("prize_type", sa.String(10), nullable=False),
    sa.Column("prize_name", sa.String(100), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("code", sa.String(100)),  # the coupon code or order number the CRM confirmed
    sa.Column("address", sa.Text),  # encrypted (goods)
    sa.Column("address_version", sa.Integer, nullable=False),
    sa.Column("won_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_fulfilments_user", "user_id", "id"),
    sa.Index("ix_fulfilments_status", "status", "id"),
)

# Notifications counted per member and day, for the daily cap across activities.
notification_counts = sa.Table(
    "notification_counts",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("sent", sa.Integer, nullable=False),
)

# Scheduled scans already run (the sign-in reminder of an activity's day...): once each.
outbound_runs = sa.Table(
    "outbound_runs",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
)
