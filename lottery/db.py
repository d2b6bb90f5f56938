"""The lottery's SQL tables, on the kernel's metadata (migrations reach them through the registry):
prizes (written by operators), draws and chance changes (written by the audit writer)."""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import bounded_integer, metadata

prizes = sa.Table(
    "prizes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity_id", sa.Integer, sa.ForeignKey("activities.id"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("type", sa.String(10), nullable=False),
    sa.Column("weight", sa.Integer, nullable=False),
    sa.Column("stock", sa.Integer),  # NULL: unlimited
    sa.Column("daily_stock", sa.Integer),
    sa.Column("per_user_cap", sa.Integer),
    sa.Column("value_cny", sa.Numeric(12, 2), nullable=False),
    sa.Column("points", sa.Integer),  # points credited by a "points" prize
    sa.Column("unlock_after_draws", sa.Integer),  # unlock tier (lottery/odds.py); NULL: from the first draw
    sa.Column("pity", sa.Boolean, nullable=False, server_default=sa.false()),  # one of the pity rule's prizes
    sa.Column("release", sa.JSON),  # paced release {"per", "units", "rollover"} (lottery/pacing.py); NULL: none
    *(
        bounded_integer("prizes", c)
        for c in ("stock", "daily_stock", "per_user_cap", "weight", "points", "unlock_after_draws")
    ),
)

# Everything handed out from a lottery's prize pool: draws, draws paid with a chance, and prizes
# granted by another activity's reward (a sign-in streak prize) without a draw.
DRAW_KINDS = ("draw", "chance", "grant")

draws = sa.Table(
    "draws",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("draw_id", sa.String(40), nullable=False, unique=True),
    sa.Column("kind", sa.String(10), nullable=False, server_default="draw"),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("prize_id", sa.Integer, nullable=False),
    sa.Column("picked_prize_id", sa.Integer, nullable=False),  # before an out-of-stock fallback
    sa.Column("rand", sa.BigInteger, nullable=False),  # the secrets-generated number behind the pick
    sa.Column("day", sa.String(10), nullable=False),  # the activity's local day
    sa.Column("drawn_at_ms", sa.BigInteger, nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=False),  # for a grant: the ref of the reward granting it
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("left_today", sa.Integer),  # NULL: no daily limit
    sa.Column("left_total", sa.Integer),  # NULL: no total limit
    sa.Column("stream_id", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16)),  # h5 | mini_program | app | other; NULL: not sent
    sa.Column("source", sa.String(64)),  # the campaign link code sent with the draw
    sa.Column("variant", sa.String(16)),  # the member's A/B variant; NULL: no experiment
    sa.Column("pity", sa.Boolean, nullable=False, server_default=sa.false()),  # won by the pity rule
    sa.Column("config_version", sa.Integer),  # the config version it used (issue 18); NULL: before versions
    sa.Column("cost_fen", sa.BigInteger, nullable=False, server_default="0"),  # the prize's value spent (budget)
    sa.Index("ix_draws_activity_user", "activity_id", "user_id", "drawn_at_ms"),
    sa.Index("ix_draws_activity_prize", "activity_id", "prize_id"),
    sa.Index("ix_draws_activity_day", "activity_id", "day"),
    sa.Index("ix_draws_idempotency_key", "idempotency_key"),
)

# Draw chances of a member on a lottery: +n when granted (a sign-in reward...), -1 per draw that
# used one. The balance in Redis is rebuilt as the sum.
chance_ledger = sa.Table(
    "chance_ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ref", sa.String(200), nullable=False, unique=True),  # one change per reference
    sa.Column("activity_id", sa.Integer, nullable=False),  # the lottery
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("delta", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(32), nullable=False),
    sa.Index("ix_chance_ledger_activity_user", "activity_id", "user_id"),
)

# A lottery's activity-level counters per local day and prize, kept by triggers on `draws`
# (migration 0019): what a rebuild reads instead of grouping every draw (lottery/snapshot.py).
lottery_counts = sa.Table(
    "lottery_counts",
    metadata,
    sa.Column("activity_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("prize_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("draws", sa.BigInteger, nullable=False),  # draws (kind draw or chance) that won the prize
    sa.Column("units", sa.BigInteger, nullable=False),  # units handed out: draws and grants
    sa.Column("last_ms", sa.BigInteger, nullable=False),  # the newest drawn_at_ms counted
)

# Config versions of a lottery (issue 18, lottery/versions.py): creating and editing a draft write
# one each (effective_at_ms NULL); publishing freezes the latest (effective from then); a live
# change to odds or prize values adds a frozen one effective at a stated future time. `config`
# holds the prize terms of the version: {"prizes": [{"id", "name", "weight", "value_cny", "points"}]}.
config_versions = sa.Table(
    "config_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity_id", sa.Integer, sa.ForeignKey("activities.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("frozen", sa.Boolean, nullable=False),
    sa.Column("effective_at_ms", sa.BigInteger),  # NULL: a draft's version
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("activity_id", "version", name="uq_config_versions_activity_version"),
)

# The commit-reveal seed of a published lottery (lottery/seeds.py): encrypted at rest with the
# seed key, its SHA-256 commitment public from the publication on.
lottery_seeds = sa.Table(
    "lottery_seeds",
    metadata,
    sa.Column("activity_id", sa.Integer, sa.ForeignKey("activities.id"), primary_key=True),
    sa.Column("sealed", sa.Text, nullable=False),
    sa.Column("commitment", sa.String(64), nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
)
