"""The rollup tables (on the kernel's metadata: one chain of migrations, revision 0013).

Counter tables (`info["increments"]`) are written by the audit writer's increment rows
(activities/audit_sql.py): each counted fact at most once, in the transaction of its event.

Keys: the activity, its local day (YYYY-MM-DD in the activity's time zone), the channel
(h5 | mini_program | app | other; "*" for the row of all channels and sources together), the
source (campaign link code, "" when none; "*" in the all-channels row) and the A/B variant
("" outside an experiment).

Unique participants are exact: a member counts once per day and row key (the guard
`p:<activity>:<day>:<channel>:<source>:<variant>:<member>` in `increment_guards` is the per-day
participants set) and `first_timers` once per campaign and row key; over a campaign the
distinct participants of a row key are the sum of its `first_timers`.
"""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import metadata

DAILY_KEY = ("activity_id", "day", "channel", "source", "variant")

DAILY_COUNTS = (
    "actions",  # member actions: draws (not grants), sign-ins, make-ups, starts, helps, reservations, cancels
    "participants",  # distinct members acting that day (in this row's channel/source/variant)
    "first_timers",  # members acting for the first time in the campaign (in this row's key)
    "wins",  # prizes won other than the consolation prize
    "cost_cents",  # value of the prizes granted, in CNY cents
    "points_spent",
    "points_granted",
    "draws",
    "signins",
    "makeups",
    "initiatives",
    "helps",
    "helpers_new",  # helpers whose first action in the activity was a help (new members brought)
    "completions",
    "assist_expiries",
    "reservations",
    "redemptions",
    "cancellations",
    "reservation_expiries",
    "winners",  # members winning a prize other than the consolation for the first time
    "helper_initiators",  # members who started an initiative after helping one (viral loop)
)

daily = sa.Table(
    "analytics_daily",
    metadata,
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("variant", sa.String(16), nullable=False),
    *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in DAILY_COUNTS),
    sa.UniqueConstraint(*DAILY_KEY, name="uq_analytics_daily_key"),
    info={"increments": DAILY_COUNTS, "key": DAILY_KEY},
)

PRIZE_KEY = ("activity_id", "day", "variant", "prize_id")
PRIZE_COUNTS = ("wins", "cost_cents")

prizes = sa.Table(
    "analytics_prizes",
    metadata,
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("variant", sa.String(16), nullable=False),
    sa.Column("prize_id", sa.Integer, nullable=False),
    *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in PRIZE_COUNTS),
    sa.UniqueConstraint(*PRIZE_KEY, name="uq_analytics_prizes_key"),
    info={"increments": PRIZE_COUNTS, "key": PRIZE_KEY},
)

# Sign-ins by the streak they reached (the streak length distribution), and reservations by
# store and outcome (show-up rate per store).
DETAIL_KEY = ("activity_id", "day", "variant", "kind", "item")
DETAIL_COUNTS = ("count", "total_ms")

details = sa.Table(
    "analytics_details",
    metadata,
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("variant", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),  # streak | store_<status> | helps_at_completion...
    sa.Column("item", sa.String(64), nullable=False),  # the streak length, the store id...
    *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in DETAIL_COUNTS),
    sa.UniqueConstraint(*DETAIL_KEY, name="uq_analytics_details_key"),
    info={"increments": DETAIL_COUNTS, "key": DETAIL_KEY},
)


# Public views: unique visitors per activity, local day and channel, counted with a Redis
# HyperLogLog (an estimate, standard error 0.81%) and persisted here (set, not added: the day's
# latest estimate); `views` the page views counted beside it.
visitors = sa.Table(
    "analytics_visitors",
    metadata,
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("visitors", sa.BigInteger, nullable=False),
    sa.Column("views", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("activity_id", "day", "channel", name="uq_analytics_visitors_key"),
)

TABLES = (daily, prizes, details, visitors)
