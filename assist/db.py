"""SQL tables of friend assist activities (the audit trail, and what Redis is rebuilt from).

Rows are only ever inserted: an initiative, each help, and the initiative's outcome (completed or
expired) are separate rows, so that the audit writer's batches are plain inserts."""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import metadata

assist_initiatives = sa.Table(
    "assist_initiatives",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("initiative_id", sa.String(40), nullable=False, unique=True),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("initiator", sa.String(64), nullable=False),
    sa.Column("needed", sa.Integer, nullable=False),
    sa.Column("started_at_ms", sa.BigInteger, nullable=False),
    sa.Column("deadline_ms", sa.BigInteger, nullable=False),
    sa.Column("price_cents", sa.BigInteger),  # bargain: the item's price at the start
    sa.Column("floor_cents", sa.BigInteger),
    sa.Column("cuts", sa.Text),  # bargain: the cut of each help, "120,35,...", drawn from `seed`
    sa.Column("seed", sa.BigInteger),
    sa.Column("stream_id", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16)),  # h5 | mini_program | app | other; NULL: not sent (analytics)
    sa.Column("source", sa.String(64)),  # the campaign link code sent with the start
    sa.Index("ix_assist_initiatives_activity_initiator", "activity_id", "initiator"),
)

assist_helps = sa.Table(
    "assist_helps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("help_id", sa.String(40), nullable=False, unique=True),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("initiative_id", sa.String(40), nullable=False),
    sa.Column("helper", sa.String(64), nullable=False),  # the friend, or the invitee
    sa.Column("kind", sa.String(10), nullable=False),  # help | invite
    sa.Column("number", sa.Integer, nullable=False),  # 1 for the initiative's first help...
    sa.Column("cut_cents", sa.BigInteger),  # bargain
    sa.Column("price_after_cents", sa.BigInteger),
    sa.Column("device_id", sa.String(128)),
    sa.Column("ip", sa.String(64)),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("helper_reward", sa.Boolean, nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16)),  # h5 | mini_program | app | other; NULL: not sent (analytics)
    sa.Column("source", sa.String(64)),  # the campaign link code sent with the help
    sa.Column("parent", sa.String(64)),  # who shared the link: the initiator or an earlier helper
    sa.UniqueConstraint("initiative_id", "helper", name="uq_assist_helps_initiative_helper"),
    sa.UniqueConstraint("initiative_id", "number", name="uq_assist_helps_initiative_number"),
    sa.Index("ix_assist_helps_activity_day", "activity_id", "day"),
    sa.Index("ix_assist_helps_activity_helper", "activity_id", "helper"),
    sa.Index("ix_assist_helps_activity_device_day", "activity_id", "device_id", "day"),  # migration 0022
    sa.Index("ix_assist_helps_activity_ip_day", "activity_id", "ip", "day"),
)

assist_outcomes = sa.Table(
    "assist_outcomes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("initiative_id", sa.String(40), nullable=False, unique=True),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(10), nullable=False),  # completed (the prize is won) | expired
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(32), nullable=False),
    sa.Index("ix_assist_outcomes_activity", "activity_id"),
)

# An assist activity's counters per kind (initiatives, helps, helper_rewards, completed, expired),
# kept by triggers on the three tables (migration 0022): what a rebuild reads (assist/rebuild.py).
assist_counts = sa.Table(
    "assist_counts",
    metadata,
    sa.Column("activity_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("last_ms", sa.BigInteger, nullable=False),
)

# The initiatives with no outcome yet, kept by the same triggers: at most the prize's stock of them.
assist_open = sa.Table(
    "assist_open",
    metadata,
    sa.Column("initiative_id", sa.String(40), primary_key=True),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("initiator", sa.String(64), nullable=False),
    sa.Column("deadline_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_assist_open_activity_initiator", "activity_id", "initiator"),
)
