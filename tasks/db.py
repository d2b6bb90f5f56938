"""SQL of the task centre (on the kernel's metadata; migration 0014)."""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import metadata

# What each event added to each task (the progress is their sum per period): one row per
# (activity, task, event).
task_progress = sa.Table(
    "task_progress",
    metadata,
    sa.Column("activity_id", sa.Integer, primary_key=True),
    sa.Column("task_id", sa.String(32), primary_key=True),
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("period", sa.String(10), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("delta", sa.BigInteger, nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(40), nullable=False),
    sa.Index("ix_task_progress_period", "activity_id", "period"),
)

# Claimed rewards: one per member, task and period.
task_claims = sa.Table(
    "task_claims",
    metadata,
    sa.Column("claim_id", sa.String(40), primary_key=True),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("task_id", sa.String(32), nullable=False),
    sa.Column("period", sa.String(10), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(40), nullable=False),
    sa.UniqueConstraint("activity_id", "task_id", "period", "user_id", name="uq_task_claims_member"),
)

# Friends' assists of a friend_assist task (tasks/friends.py): one per (task, period, sharer,
# friend); each also adds a `task_progress` row (delta 1) to the sharer's progress.
task_assists = sa.Table(
    "task_assists",
    metadata,
    sa.Column("activity_id", sa.Integer, primary_key=True),
    sa.Column("task_id", sa.String(32), primary_key=True),
    sa.Column("period", sa.String(10), primary_key=True),
    sa.Column("sharer", sa.String(64), primary_key=True),
    sa.Column("friend", sa.String(64), primary_key=True),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(40), nullable=False),
)
