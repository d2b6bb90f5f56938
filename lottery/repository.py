"""SQL access of the lottery: its settings and prizes (written by operators), its draws and chance
changes (written by the audit writer), the aggregates a rebuild of its live state needs, and the
keyset list of a member's draws."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import db as kernel_db
from activities.listing import newest_first
from activities.model import MAX_COUNT, Activity
from activities.pages import Key
from activities.repository import clamped, log_action, stored
from lottery import db
from lottery.model import Limits, Lottery, LotterySpec, Prize
from lottery.pacing import ReleasePlan
from lottery.versions_db import frozen_versions


class DrawRow(msgspec.Struct, kw_only=True):
    draw_id: str
    kind: str  # draw | chance | grant (see lottery/db.py DRAW_KINDS)
    activity_id: int
    user_id: str
    prize_id: int
    picked_prize_id: int
    rand: int
    day: str
    drawn_at_ms: int
    idempotency_key: str
    fingerprint: str
    left_today: int | None
    left_total: int | None
    stream_id: str
    channel: str | None = None  # analytics: where the draw came from, its A/B variant
    source: str | None = None
    variant: str | None = None
    pity: bool = False  # won by the pity rule (lottery/odds.py)
    config_version: int | None = None  # issue 18; None: drawn before config versions
    cost_fen: int = 0  # what the unit spent of the activity's budget (lottery/pacing.py)


class DayCount(NamedTuple):
    day: str
    prize_id: int
    draws: int  # draws (kind draw or chance) that won the prize that day
    units: int  # units of it handed out that day: draws and grants


class LotteryRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @staticmethod
    def columns(spec: LotterySpec) -> dict[str, Any]:
        """A new lottery's own columns of the activities table."""
        return {
            "limits": msgspec.to_builtins(spec.limits),
            "points_cost": spec.points_cost,
            "pity_after": spec.pity.after if spec.pity else None,
            "budget_cny": spec.budget_cny,  # lottery/pacing.py
            "buckets": spec.stock_buckets,  # the kernel's activities.buckets (lottery/buckets.py)
        }

    @staticmethod
    async def insert_prizes(conn: AsyncConnection, activity_id: int, spec: LotterySpec) -> None:
        """The prizes of a new lottery, or of a draft being edited (they replace its prizes), in
        the transaction that writes the activity."""
        await conn.execute(db.prizes.delete().where(db.prizes.c.activity_id == activity_id))
        await conn.execute(
            sa.insert(db.prizes),
            [
                {
                    "activity_id": activity_id,
                    "position": index,
                    "name": p.name,
                    "type": p.type,
                    "weight": p.weight,
                    "stock": p.stock,
                    "daily_stock": p.daily_stock,
                    "per_user_cap": p.per_user_cap,
                    "value_cny": p.value_cny,
                    "points": p.points,
                    "unlock_after_draws": p.unlock_after_draws,
                    "pity": spec.pity is not None and index in spec.pity.prizes,
                    "release": msgspec.to_builtins(p.release) if p.release else None,
                }
                for index, p in enumerate(spec.prizes)
            ],
        )

    async def read(self, activity: Activity) -> Lottery | None:
        """The lottery of the kernel's `activity`: its limits, points cost and prizes, as SQL has
        them now (None: the activity's row is gone)."""
        activities = kernel_db.activities
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        activities.c.limits, activities.c.points_cost, activities.c.pity_after, activities.c.budget_cny
                    ).where(activities.c.id == activity.id)
                )
            ).first()
            if row is None:
                return None
            prize_rows = (
                await conn.execute(
                    sa.select(db.prizes).where(db.prizes.c.activity_id == activity.id).order_by(db.prizes.c.position)
                )
            ).all()
            versions = await frozen_versions(conn, activity.id)
            committed = (
                await conn.execute(
                    sa.select(db.lottery_seeds.c.commitment).where(db.lottery_seeds.c.activity_id == activity.id)
                )
            ).scalar()
        limits = stored({k: clamped(v) for k, v in (row.limits or {}).items()}, Limits)
        lottery = Lottery.of(
            activity,
            limits,
            clamped(row.points_cost),
            [_prize(p._mapping) for p in prize_rows],
            row.pity_after,
            None if row.budget_cny is None else Decimal(row.budget_cny),
        )
        if versions:  # issue 18: the version frozen at publication, the live changes after it
            lottery.config_version, lottery.later_versions = versions[0].version, versions[1:]
        lottery.commitment = None if committed is None else str(committed)
        return lottery

    async def add_stock(self, activity_id: int, prize_id: int, units: int, operator_id: str, now_ms: int) -> int | None:
        """Add `units` to the prize's stock in one transaction with the operator log; returns the
        new total, or None (nothing changed) if it would exceed MAX_COUNT."""
        prize = (db.prizes.c.id == prize_id, db.prizes.c.activity_id == activity_id)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(db.prizes)
                .where(*prize, db.prizes.c.stock + units <= MAX_COUNT)
                .values(stock=db.prizes.c.stock + units)
            )
            if result.rowcount != 1:
                return None
            total = (await conn.execute(sa.select(db.prizes.c.stock).where(*prize))).scalar_one()
            await log_action(
                conn, activity_id, operator_id, "add_stock", {"prize_id": prize_id, "units": units}, now_ms
            )
        return int(total)

    async def uncredited_points_prizes(self, before_ms: int) -> list[tuple[str, int, str, int, int, str]]:
        """(draw_id, activity_id, user_id, points, prize_id, A/B variant or "") of points prizes won
        before `before_ms` whose credit is not in the ledger (a variant may credit other points)."""
        ledger = kernel_db.points_ledger
        d = db.draws.c
        query = (
            sa.select(d.draw_id, d.activity_id, d.user_id, db.prizes.c.points, d.prize_id, d.variant)
            .join(db.prizes, db.prizes.c.id == db.draws.c.prize_id)
            .where(
                db.prizes.c.type == "points",
                db.draws.c.drawn_at_ms < before_ms,
                ~sa.exists().where(ledger.c.ref == sa.literal("prize:") + db.draws.c.draw_id),
            )
            .limit(1000)
        )
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).all()
        return [(str(r[0]), int(r[1]), str(r[2]), int(r[3]), int(r[4]), r[5] or "") for r in found]

    # --- what a rebuild of a lottery's live state reads ------------------------------------------

    async def granted_by_prize(self, activity_id: int, day: date | None = None) -> dict[int, int]:
        """Units handed out per prize, by draws and grants alike (they all used stock)."""
        query = sa.select(db.draws.c.prize_id, sa.func.count()).where(db.draws.c.activity_id == activity_id)
        if day is not None:
            query = query.where(db.draws.c.day == day.isoformat())
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.group_by(db.draws.c.prize_id))).all()
        return {int(p): int(n) for p, n in rows}

    async def count_draws(self, activity_id: int, day: date | None = None) -> int:
        """Draws (with or without a chance; not grants), as the draws_total counter counts them."""
        query = sa.select(sa.func.count()).where(
            db.draws.c.activity_id == activity_id, db.draws.c.kind.in_(("draw", "chance"))
        )
        if day is not None:
            query = query.where(db.draws.c.day == day.isoformat())
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def counts(self, activity_id: int) -> list[DayCount]:
        """The activity's counters per local day and prize (lottery_counts, kept by triggers on
        draws: migration 0019): a few hundred rows for the longest campaign."""
        table = db.lottery_counts
        query = sa.select(table.c.day, table.c.prize_id, table.c.draws, table.c.units).where(
            table.c.activity_id == activity_id
        )
        async with self.engine.connect() as conn:
            return [DayCount(str(d), int(p), int(n), int(u)) for d, p, n, u in (await conn.execute(query)).all()]

    async def consolation_streaks(self, activity_id: int, consolation_id: int) -> dict[str, int]:
        """Per member, the consolation draws at the tail of their draws (with or without a chance;
        not grants): the pity rule's counter, recomputed. A draw counts when no later draw of the
        member won something else (later: by drawn_at_ms, then by the audit writer's order)."""
        d, later = db.draws.alias("d"), db.draws.alias("later")
        draw_kinds = ("draw", "chance")
        won_later = sa.exists().where(
            later.c.activity_id == d.c.activity_id,
            later.c.user_id == d.c.user_id,
            later.c.kind.in_(draw_kinds),
            later.c.prize_id != consolation_id,
            sa.or_(
                later.c.drawn_at_ms > d.c.drawn_at_ms,
                sa.and_(later.c.drawn_at_ms == d.c.drawn_at_ms, later.c.id > d.c.id),
            ),
        )
        query = (
            sa.select(d.c.user_id, sa.func.count())
            .where(d.c.activity_id == activity_id, d.c.kind.in_(draw_kinds), d.c.prize_id == consolation_id, ~won_later)
            .group_by(d.c.user_id)
        )
        async with self.engine.connect() as conn:
            return {str(u): int(n) for u, n in (await conn.execute(query)).all()}

    async def has_chances(self, activity_id: int) -> bool:
        """Whether any member of the lottery ever had a draw chance (one indexed row)."""
        ledger = db.chance_ledger
        query = sa.select(ledger.c.id).where(ledger.c.activity_id == activity_id).limit(1)
        async with self.engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    # --- what loading one member reads (lottery/members.py): small indexed queries -------------

    async def member_draws(self, activity_id: int, user_id: str) -> list[DrawRow]:
        """Every draw and grant of one member in the lottery, oldest first (ix_draws_activity_user)."""
        query = sa.select(*[db.draws.c[name] for name in DrawRow.__struct_fields__]).where(
            db.draws.c.activity_id == activity_id, db.draws.c.user_id == user_id
        )
        query = query.order_by(db.draws.c.drawn_at_ms, db.draws.c.id)  # the audit writer's order
        async with self.engine.connect() as conn:
            return [DrawRow(**row._mapping) for row in (await conn.execute(query)).all()]

    async def spent_fen(self, activity_id: int) -> int:
        """What the draws and grants of the activity spent of its budget, in fen (lottery/pacing.py)."""
        query = sa.select(sa.func.coalesce(sa.func.sum(db.draws.c.cost_fen), 0)).where(
            db.draws.c.activity_id == activity_id
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def granted_between(self, activity_id: int, prize_id: int, first_ms: int, end_ms: int) -> int:
        """Units of a prize handed out in [first_ms, end_ms): a release period's grants."""
        query = sa.select(sa.func.count()).where(
            db.draws.c.activity_id == activity_id,
            db.draws.c.prize_id == prize_id,
            db.draws.c.drawn_at_ms >= first_ms,
            db.draws.c.drawn_at_ms < end_ms,
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def member_chances(self, activity_id: int, user_id: str) -> list[tuple[str, int, int]]:
        """(reference, delta, at_ms) of one member's chance changes (ix_chance_ledger_activity_user)."""
        ledger = db.chance_ledger
        query = sa.select(ledger.c.ref, ledger.c.delta, ledger.c.at_ms).where(
            ledger.c.activity_id == activity_id, ledger.c.user_id == user_id
        )
        async with self.engine.connect() as conn:
            return [(str(r), int(d), int(a)) for r, d, a in (await conn.execute(query)).all()]

    async def draws_of(
        self, activity_id: int | None, user_id: str, limit: int, after: Key | None
    ) -> list[tuple[int, DrawRow]]:
        """A member's draws, newest first: (row id, row) pairs, `limit` of them strictly after the
        keyset `after` = (drawn_at_ms, id) (activities/pages.py)."""
        draws = db.draws
        where = [draws.c.user_id == user_id] + ([draws.c.activity_id == activity_id] if activity_id is not None else [])
        return await newest_first(self.engine, draws, DrawRow, draws.c.drawn_at_ms, where, limit, after)


def _prize(p: Any) -> Prize:
    return Prize(
        id=p["id"],
        name=p["name"],
        type=p["type"],
        weight=p["weight"],
        stock=p["stock"],
        daily_stock=p["daily_stock"],
        per_user_cap=p["per_user_cap"],
        value_cny=Decimal(p["value_cny"]),
        points=p["points"],
        unlock_after_draws=p["unlock_after_draws"],
        pity=bool(p["pity"]),
        release=None if p["release"] is None else msgspec.convert(p["release"], ReleasePlan),
    )
