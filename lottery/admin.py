"""The lottery's operator side: create, add stock (and repair it), rebuild the live state from
SQL, counters, and the reconciliation of what lost replies left half done (stock, draw costs,
points prizes). `DrawService` answers the platform's contract through it."""

from __future__ import annotations

import logging

import msgspec
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.clock import Clock, local_day
from activities.errors import OutcomeUnknown, conflict, invalid, not_found
from activities.model import MAX_COUNT, Activity
from activities.points import RECONCILE_AFTER_MS, PointsService
from activities.repository import ActivityRepository
from activities.service import ActivityService
from lottery import db
from lottery.model import LOTTERY_TYPES, Lottery, LotterySpec, Prize, validate_spec, variant_lottery
from lottery.pacing import ReleasePlan, counter_field, from_fen, periods, released, to_fen
from lottery.recovery import hold, scarce_units
from lottery.repository import LotteryRepository
from lottery.snapshot import Snapshot, read_snapshot
from lottery.store import DrawStore, LiveCounters
from lottery.versions_db import write_draft_version

log = logging.getLogger("promo.lottery")


class PrizeCounters(msgspec.Struct):
    prize_id: int
    name: str
    stock: int | None
    stock_left: int | None
    granted: int
    granted_today: int
    granted_in_sql: int
    release: ReleasePlan | None = None  # lottery/pacing.py
    released: int | None = None  # units the plan has released so far (rollover) or this period (no rollover)
    release_counted: int | None = None  # units counted against it so far (rollover) or this period


class ActivityCounters(msgspec.Struct):
    activity_id: int
    status: str
    loaded: bool
    day: str
    draws_total: int
    draws_today: int
    draws_in_sql: int
    audit_backlog: int  # events in Redis not yet written to SQL
    prizes: list[PrizeCounters]
    audit_lag_ms: int = 0  # age of the oldest event not yet in SQL
    quarantined: int = 0  # events the audit writer could not write (see GET /operator/audit/quarantine)
    budget_cny: str | None = None  # None: no budget (lottery/pacing.py)
    budget_spent_cny: str | None = None  # spent by every unit handed out (Redis); None: no budget
    budget_left_cny: str | None = None
    budget_spent_in_sql_cny: str | None = None


class LotteryAdmin:
    def __init__(
        self,
        activities: ActivityService,
        store: DrawStore,
        repository: LotteryRepository,
        points: PointsService,
        clock: Clock,
    ) -> None:
        self.activities = activities
        self.store = store
        self.repository = repository
        self.points = points
        self.clock = clock

    @property
    def kernel(self) -> ActivityRepository:
        return self.activities.repository

    async def create(self, spec: LotterySpec, operator_id: str) -> Lottery:
        """A draft lottery: the activity, its limits and points cost, its prizes, in one transaction."""
        validate_spec(spec)

        async def write(conn: AsyncConnection, activity_id: int) -> None:
            await self.repository.insert_prizes(conn, activity_id, spec)
            await write_draft_version(conn, activity_id, operator_id, self.clock.now_ms())  # issue 18

        activity = await self.activities.create_draft(
            spec, spec.type, operator_id, columns=self.repository.columns(spec), write=write
        )
        return await self.read(activity)

    async def get(self, activity_id: int) -> Lottery:
        """A lottery (drafts included) as SQL has it now, or 404."""
        return await self.read(await self.activities.get(activity_id))

    async def read(self, activity: Activity) -> Lottery:
        lottery = await self.repository.read(activity)
        if lottery is None:
            raise not_found("activity_not_found", f"no activity {activity.id}")
        self.store.buckets.remember(lottery.id, lottery.buckets)  # bucketed stock (lottery/buckets.py)
        return lottery

    async def prize_of(self, activity_id: int, prize_id: int) -> tuple[Lottery, Prize]:
        """A lottery (drafts included) and one of its prizes, or 404."""
        lottery = await self.get(activity_id)
        prize = next((p for p in lottery.prizes if p.id == prize_id), None)
        if prize is None:
            raise not_found("prize_not_found", f"no prize {prize_id} in activity {activity_id}")
        return lottery, prize

    async def add_stock(self, activity_id: int, prize_id: int, units: int, operator_id: str) -> Lottery:
        """Everything is checked first (the new total stays within MAX_COUNT), then SQL commits
        the new total (the source of truth, which a rebuild reads), then Redis is brought up to
        it. A failed SQL write changes nothing; a failed Redis write after the commit is
        repaired by the reconciler (`sync_stock`), since the Redis step is idempotent."""
        lottery, prize = await self.prize_of(activity_id, prize_id)
        if units <= 0:
            raise invalid("units_not_positive", "units must be a positive number", field="units")
        if lottery.status == "ended":
            raise conflict("activity_ended", "the activity has ended")
        if prize.stock is None:
            raise conflict("stock_unlimited", "this prize has unlimited stock")
        if prize.stock + units > MAX_COUNT:
            raise invalid(
                "stock_too_large", f"a prize's stock can be at most {MAX_COUNT}", field="units", stock=prize.stock
            )
        total = await self.repository.add_stock(activity_id, prize_id, units, operator_id, self.clock.now_ms())
        if total is None:  # another addition got there first and took the total over the bound
            raise invalid("stock_too_large", f"a prize's stock can be at most {MAX_COUNT}", field="units")
        try:
            await self.store.add_stock(activity_id, prize_id, total, units)
        except (RedisError, OutcomeUnknown) as exc:
            log.warning(
                "activity %d prize %d: stock %d in SQL, not yet in Redis (%s)", activity_id, prize_id, total, exc
            )
        return await self.get(activity_id)

    async def sync_stock(self) -> int:
        """Bring every published lottery's live stock up to its SQL totals (repairs an addition
        whose Redis step failed). Returns how many prizes it repaired."""
        repaired = 0
        for activity_id in await self.kernel.list_ids(("live", "paused"), types=sorted(LOTTERY_TYPES)):
            lottery = await self.get(activity_id)
            for prize in lottery.prizes:
                if prize.stock is not None and await self.store.add_stock(activity_id, prize.id, prize.stock) > 0:
                    log.warning("activity %d prize %d: live stock brought up to %d", activity_id, prize.id, prize.stock)
                    repaired += 1
        return repaired

    async def reconcile_points(self) -> int:
        """Refund draw costs whose draw never happened (the draw's outcome was unknown and nobody
        retried), and credit points prizes whose credit never reached the wallet, from the SQL
        audit trail. Returns the changes made."""
        refunded = await self.points.refund_orphan_costs("draw_cost", "draw:", db.draws.c.draw_id)
        uncredited = await self.repository.uncredited_points_prizes(self.clock.now_ms() - RECONCILE_AFTER_MS)
        for draw_id, activity_id, user_id, points, prize_id, variant in uncredited:
            if variant:  # the member's A/B variant may credit other points
                won = variant_lottery(await self.get(activity_id), variant).prize(prize_id)
                points = won.points or points
            await self.points.credit_prize(user_id, points, draw_id, activity_id)
        return refunded + len(uncredited)

    # --- live state ------------------------------------------------------------------------------

    async def load(self, activity: Activity) -> None:
        """A lottery's live state from SQL unless Redis has it; after a loss, what the unwritten
        window may have handed out is held back (lottery/recovery.py)."""

        async def read() -> Snapshot:
            return await self.snapshot(await self.read(activity))

        async def recover(snapshot: Snapshot, epoch: str) -> Snapshot:
            left, whole = scarce_units(snapshot)
            events = [(db.lottery_counts.c.activity_id, db.lottery_counts.c.last_ms)]  # not a scan of draws
            recoveries = self.activities.recoveries
            held = await recoveries.begin(activity.id, "lottery", epoch, left, whole=whole, events=events)
            return hold(snapshot, held)

        await self.store.load(activity.id, read, recover)

    async def snapshot(self, lottery: Lottery) -> Snapshot:
        return await read_snapshot(self.repository, lottery, self.clock.now_ms())

    async def counters(self, activity: Activity) -> ActivityCounters:
        lottery = await self.read(activity)
        day = local_day(self.clock.now_ms(), lottery.tz)
        live: LiveCounters = await self.store.counters(lottery.id, day)
        in_sql: dict[int, int] = {}
        draws_in_sql = 0
        for count in await self.repository.counts(lottery.id):  # the aggregates: no scan of the draws
            in_sql[count.prize_id] = in_sql.get(count.prize_id, 0) + count.units
            draws_in_sql += count.draws
        at = periods(self.clock.now_ms(), lottery.starts_at, lottery.tz)
        spent = live.pacing.get("spent", 0)
        budget = None if lottery.budget_cny is None else to_fen(lottery.budget_cny)
        return ActivityCounters(
            activity_id=lottery.id,
            status=lottery.status,
            loaded=live.status is not None,
            day=day.isoformat(),
            draws_total=live.draws_total,
            draws_today=live.draws_today,
            draws_in_sql=draws_in_sql,
            audit_backlog=live.audit_backlog,
            audit_lag_ms=live.audit_lag_ms,
            quarantined=await self.kernel.count_dead_letters(lottery.id),
            prizes=[
                PrizeCounters(
                    prize_id=p.id,
                    name=p.name,
                    stock=p.stock,
                    stock_left=live.stock_left.get(p.id) if p.stock is not None else None,
                    granted=live.granted.get(p.id, 0),
                    granted_today=live.granted_today.get(p.id, 0),
                    granted_in_sql=in_sql.get(p.id, 0),
                    release=p.release,
                    released=None if p.release is None else released(p.release, at),
                    release_counted=None
                    if p.release is None
                    else live.pacing.get(counter_field(p.id, p.release, at), 0),
                )
                for p in lottery.prizes
            ],
            budget_cny=None if budget is None else from_fen(budget),
            budget_spent_cny=None if budget is None else from_fen(spent),
            budget_left_cny=None if budget is None else from_fen(max(budget - spent, 0)),
            budget_spent_in_sql_cny=None if budget is None else from_fen(await self.repository.spent_fen(lottery.id)),
        )
