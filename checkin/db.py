"""SQL tables of sign-in activities (the audit trail, and what Redis is rebuilt from).

They live on the kernel's metadata, so that one set of Alembic migrations covers the platform.
"""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import metadata

# One row per marked day: a sign-in (签到) or a make-up (补签). A member marks a day once.
checkins = sa.Table(
    "checkins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("mark_id", sa.String(40), nullable=False, unique=True),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),  # the day marked, in the activity's time zone
    sa.Column("kind", sa.String(10), nullable=False),  # signin | makeup
    sa.Column("cycle_start", sa.String(10), nullable=False),
    sa.Column("streak", sa.Integer, nullable=False),  # the member's streak right after this mark
    sa.Column("cumulative", sa.Integer, nullable=False),  # days marked in the cycle right after it
    sa.Column("rewards", sa.String(200), nullable=False),  # reward indexes granted, "3,5"; "" for none
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16)),  # h5 | mini_program | app | other; NULL: not sent (analytics)
    sa.Column("source", sa.String(64)),  # the campaign link code sent with the mark
    sa.UniqueConstraint("activity_id", "user_id", "day", name="uq_checkins_activity_user_day"),
    sa.Index("ix_checkins_activity_cycle", "activity_id", "cycle_start"),
    sa.Index("ix_checkins_activity_kind_at", "activity_id", "kind", "at_ms"),  # migration 0019
)

# One row per reward a mark granted, with what it is, so that a reward whose delivery (a wallet
# credit, draw chances, a prize from a lottery pool) was lost can be found and delivered again.
checkin_rewards = sa.Table(
    "checkin_rewards",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ref", sa.String(64), nullable=False, unique=True),  # "ck:<mark_id>:<index>"
    sa.Column("mark_id", sa.String(40), nullable=False),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("reward_index", sa.Integer, nullable=False),
    sa.Column("type", sa.String(10), nullable=False),  # points | coupon | prize | chances
    sa.Column("amount", sa.Integer),  # points or chances
    sa.Column("coupon", sa.String(64)),
    sa.Column("lottery_id", sa.Integer),  # prize and chances rewards: the linked lottery
    sa.Column("prize_id", sa.Integer),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Index("ix_checkin_rewards_type_at", "type", "at_ms"),
    sa.Index("ix_checkin_rewards_activity_user", "activity_id", "user_id"),
)

# A sign-in activity's counters per marked day and kind (signin | makeup; kind "reward", day "",
# the rewards granted), kept by triggers on checkins and checkin_rewards (migration 0019): what a
# rebuild reads instead of counting every mark (checkin/rebuild.py).
checkin_counts = sa.Table(
    "checkin_counts",
    metadata,
    sa.Column("activity_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("marks", sa.BigInteger, nullable=False),
    sa.Column("last_ms", sa.BigInteger, nullable=False),  # the newest at_ms counted
)
