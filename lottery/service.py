"""The draw use case: audience, idempotency, the atomic script, the answer. And what other
activities hand out from a lottery: prizes from its pool, draw chances."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

import msgspec

from activities.audit_rows import EventHandler
from activities.auth import Identity
from activities.clock import Clock, day_end_ms, local_day
from activities.errors import Kind, PromoError, refusal
from activities.experiment import variant_of
from activities.ids import new_id
from activities.model import Activity
from activities.pages import Page, cut, decode_cursor
from activities.points import PointsService, draw_cost_ref
from activities.service import (
    DAY_KEY_GRACE_MS,
    IDEMPOTENCY_TTL_S,
    REFERENCE_TTL_S,
    ActivityService,
    R,
    loading_error,
)
from lottery.admin import ActivityCounters, LotteryAdmin
from lottery.audit import HANDLERS
from lottery.buckets import versions_of
from lottery.fairness import derive_rand
from lottery.members import MemberLoader
from lottery.model import LOTTERY_TYPES, Lottery, LotterySpec, Prize, variant_lottery
from lottery.odds import new_rand
from lottery.pacing import periods, to_fen
from lottery.repository import LotteryRepository
from lottery.seeds import Seeds
from lottery.shapes import DrawBody as DrawBody  # the lottery's shapes, imported from here too
from lottery.shapes import DrawResult as DrawResult
from lottery.shapes import Granted, prize_won, result_of
from lottery.shapes import PrizeWon as PrizeWon
from lottery.shapes import fingerprint as fingerprint
from lottery.store import DrawRecord, DrawReply, DrawRequest, DrawStore, GrantReply, done_ttl_ms, draws_done_days
from lottery.versions import draw_table, lottery_at, number_at, played_at
from lottery.versions_db import freeze

log = logging.getLogger("promo.lottery")
_MEMBER_ATTEMPTS = 3  # a member load can be overtaken by a rebuild: load again, then give up (503)

_REFUSALS: dict[str, tuple[Kind, str]] = {
    "user_daily_limit": (Kind.LIMIT, "no draws left today"),
    "user_total_limit": (Kind.LIMIT, "no draws left in this activity"),
    "global_daily_limit": (Kind.LIMIT, "all of today's draws are gone; come back tomorrow"),
}


class DrawService:
    """The lottery's service: draws and rewards for players and other gameplays here, the
    operators' side in `admin` (lottery/admin.py)."""

    def __init__(
        self,
        activities: ActivityService,
        store: DrawStore,
        repository: LotteryRepository,
        points: PointsService,
        clock: Clock,
        seeds: Seeds | None = None,
    ) -> None:
        self.activities = activities
        self.seeds = seeds  # commit-reveal seeds (issue 18); None: draws use fresh random numbers
        self.store = store
        self.points = points
        self.repository = repository
        self.clock = clock
        self.admin = LotteryAdmin(activities, store, repository, points, clock)
        self.members = MemberLoader(repository, store, clock)
        self._in_flight: set[tuple[int, str, str]] = set()
        # activity id -> (the kernel's cached activity it was read for, the lottery)
        self._lotteries: dict[int, tuple[Activity, Lottery]] = {}
        self._reading: dict[int, asyncio.Future[Lottery]] = {}
        self._refreshing: dict[int, asyncio.Future[Lottery]] = {}

    # --- the platform's contract (activities/gameplay.py) -------------------------------------

    async def create(self, spec: LotterySpec, operator_id: str) -> Lottery:
        return await self.admin.create(spec, operator_id)

    async def check_publishable(self, activity: Activity) -> None:
        """A lottery's spec was checked whole at creation: nothing more to check. Publishing
        freezes its config version and makes its commit-reveal seed (issue 18)."""
        now_ms = self.clock.now_ms()
        await freeze(self.repository.engine, activity.id, "publish", now_ms)
        if self.seeds is not None:
            await self.seeds.create(activity.id, now_ms)

    async def load(self, activity: Activity) -> None:
        await self.admin.load(activity)

    async def release_held(self, activity_id: int, epoch: str, counter: str, units: int) -> str:
        return await self.store.release(activity_id, epoch, counter, units)

    async def counters(self, activity: Activity) -> ActivityCounters:
        return await self.admin.counters(activity)

    def audit_handlers(self) -> dict[str, EventHandler]:
        return dict(HANDLERS)

    async def sweep(self) -> int:
        return 0

    async def reconcile(self) -> int:
        return await self.admin.sync_stock() + await self.admin.reconcile_points()

    async def view_of(self, activity: Activity, operator: bool) -> Lottery:
        """The lottery behind an activity's view: as SQL has it now for operators (its stock
        changes), from the draws' cache for players (what they see cannot change)."""
        now_ms = self.clock.now_ms()
        lottery = await (
            self.admin.read(activity) if operator or activity.status == "draft" else self.lottery(activity.id)
        )
        shown = lottery_at(lottery, now_ms)  # the version in effect now (issue 18)
        if self.seeds is not None and activity.status == "ended":
            seed = await self.seeds.seed(activity.id)  # revealed once the activity has ended (for good)
            shown = msgspec.structs.replace(shown, seed=seed.hex() if seed else None)
        return shown

    # --- players ----------------------------------------------------------------------------

    async def draw(self, player: Identity, activity_id: int, idempotency_key: str, body: DrawBody) -> DrawResult:
        lottery = await self.lottery(activity_id)
        variant = variant_of(lottery, player.subject)  # an A/B variant's odds and cost
        await self.activities.admit(lottery, player)
        flight = (activity_id, player.subject, idempotency_key)
        if flight in self._in_flight:
            raise PromoError(
                Kind.CONFLICT,
                "idempotency_key_in_flight",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
        self._in_flight.add(flight)
        try:
            reply = await self._draw(lottery, player.subject, idempotency_key, body, variant)
            if reply.kind == "stale_version":  # a version this worker had not read yet (issue 18)
                lottery = await self.refresh_versions(activity_id)
                reply = await self._draw(lottery, player.subject, idempotency_key, body, variant)
                if reply.kind == "stale_version":
                    raise loading_error()
        finally:
            self._in_flight.discard(flight)

        if reply.kind == "mismatch":
            raise PromoError(
                Kind.INVALID,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            )
        if reply.kind == "refused":
            raise refusal(reply.code or "refused", reply.detail, _REFUSALS)
        assert reply.record is not None
        if reply.kind == "ok":
            await self._credit_points_prize(
                played_at(lottery, variant, reply.record.drawn_at_ms).prize(reply.record.prize_id),
                player.subject,
                reply.record.draw_id,
                lottery.id,
            )
        return result_of(
            lottery, reply.record, replayed=reply.kind == "replay", chances_left=reply.chances_left, variant=variant
        )

    async def lottery(self, activity_id: int) -> Lottery:
        """A published lottery (of any skin); other activities are not drawn from. Read once per
        copy of the kernel's cached activity (the hot path: no SQL round trip of its own); what
        a draw reads of it (prizes, limits, points cost) cannot change after publishing."""
        activity = await self.activities.published(activity_id, LOTTERY_TYPES, "a lottery")
        cached = self._lotteries.get(activity_id)
        if cached is not None and cached[0] is activity:
            return cached[1]
        reading = self._reading.get(activity_id)
        if reading is None:
            reading = asyncio.ensure_future(self._read(activity))
            self._reading[activity_id] = reading
            reading.add_done_callback(lambda _: self._reading.pop(activity_id, None))
        return await asyncio.shield(reading)

    async def refresh_versions(self, activity_id: int) -> Lottery:
        """Re-read a lottery from SQL (its config versions changed) and hand its versions to the
        draw script (SQL is the source: this also repairs a change whose Redis step failed).
        One refresh per activity at a time: the draws that found the same change share it."""
        flight = self._refreshing.get(activity_id)
        if flight is None:
            flight = asyncio.ensure_future(self._refresh(activity_id))
            self._refreshing[activity_id] = flight
            flight.add_done_callback(lambda _: self._refreshing.pop(activity_id, None))
        return await asyncio.shield(flight)

    async def _refresh(self, activity_id: int) -> Lottery:
        self.activities.forget(activity_id)
        self._lotteries.pop(activity_id, None)
        lottery = await self.lottery(activity_id)
        await self.store.set_versions(activity_id, lottery.config_version, versions_of(lottery, lottery.buckets))
        return lottery

    async def find(self, activity_id: int) -> Lottery | None:
        """A lottery (drafts included) as SQL has it now, or None if there is no lottery of that
        id (another gameplay links to it: a sign-in's rewards)."""
        activity = await self.activities.repository.get(activity_id)
        if activity is None or activity.type not in LOTTERY_TYPES:
            return None
        return await self.admin.read(activity)

    async def _read(self, activity: Activity) -> Lottery:
        lottery = await self.admin.read(activity)
        self._lotteries[activity.id] = (activity, lottery)
        return lottery

    async def _credit_points_prize(self, prize: Prize, user_id: str, draw_id: str, activity_id: int) -> None:
        """A won "points" prize goes to the wallet (another Redis slot, so another script). The
        draw stands whatever happens here; a credit that fails is made by the reconciler."""
        if prize.type != "points" or not prize.points:
            return
        try:
            await self.points.credit_prize(user_id, prize.points, draw_id, activity_id)
        except Exception:
            log.exception("points prize of draw %s not credited yet; the reconciler will", draw_id)

    async def _draw(
        self, lottery: Lottery, user_id: str, idempotency_key: str, body: DrawBody, variant: str = ""
    ) -> DrawReply:
        """Run the draw script: with a draw chance if the member has one, otherwise within the
        limits and, if the activity costs points (its A/B `variant`'s cost), paid for.

        The points cost is charged only once the script has said that no chance is left and the
        limits allow a draw (`payment_required`), under a reference naming this request's fresh
        draw id; the script then runs again to draw. Only an "ok" answer keeps the charge; a
        replay, a refusal or a mismatch refunds it. When the script's outcome is unknown nothing
        is refunded here: a retry with the same key replays (and refunds its own charge), and the
        reconciler refunds charges whose draw never reached SQL.
        """
        activity = variant_lottery(lottery, variant)
        now_ms = self.clock.now_ms()
        day = local_day(now_ms, activity.tz)
        draw_id = new_id("d", now_ms)
        # Commit-reveal (issue 18): the number is derived from the seed and the draw id, for the
        # total weight of the config version in effect now (draw.lua checks it is that version).
        version, total, weights = draw_table(lottery, variant, now_ms)
        seed = None if self.seeds is None else await self.seeds.seed(activity.id)
        request = DrawRequest(
            activity_id=activity.id,
            user_id=user_id,
            draw_id=draw_id,
            rand=new_rand() if seed is None else derive_rand(seed, draw_id, total),
            now_ms=now_ms,
            day=day,
            day_ttl_ms=day_end_ms(day, activity.tz) + DAY_KEY_GRACE_MS - now_ms,
            fingerprint=fingerprint(activity.id, body),
            idempotency_key=idempotency_key,
            idempotency_ttl_s=IDEMPOTENCY_TTL_S,
            earlier_days=draws_done_days(now_ms, day, IDEMPOTENCY_TTL_S, activity.tz),
            done_ttl_ms=done_ttl_ms(now_ms, day, IDEMPOTENCY_TTL_S, activity.tz),
            payment="chance_or_pay" if activity.points_cost else "chance_or_free",
            weights=weights,
            variant=variant,
            channel=body.channel or "",
            source=body.source or "",
            version=str(version),
            periods=periods(now_ms, activity.starts_at, activity.tz),
            # the prize values as this draw's version and variant give them, for the budget
            values=budget_values(played_at(lottery, variant, now_ms)),
        )
        reply = await self._loaded(activity, lambda: self.store.draw(request), user_id)
        if reply.kind != "payment_required":
            return reply
        cost_ref = draw_cost_ref(request.draw_id)
        await self.points.debit(user_id, activity.points_cost, cost_ref, "draw_cost", activity.id)
        try:
            reply = await self._loaded(activity, lambda: self.store.draw(replace(request, payment="paid")), user_id)
        except PromoError as error:
            if error.code != "outcome_unknown":
                await self.points.refund(user_id, activity.points_cost, cost_ref, activity.id)
            raise
        if reply.kind != "ok":
            await self.points.refund(user_id, activity.points_cost, cost_ref, activity.id)
        return reply

    async def _loaded(self, activity: Lottery, call: Callable[[], Awaitable[R]], user_id: str) -> R:
        """Run a script of the member's: the lottery rebuilt first if Redis lost it, the member
        loaded from SQL first if the rebuild left it for its first request (lottery/members.py)."""
        unknown = "the draw may or may not have happened; retry with the same Idempotency-Key to learn the result"
        for _ in range(_MEMBER_ATTEMPTS):
            reply = await self.activities.run_loaded(activity.id, call, unknown=unknown)
            if reply.kind != "member_not_loaded":
                return reply
            await self.members.load(activity, user_id)
        raise loading_error()

    # --- rewards handed out by other activities ------------------------------------------------

    async def grant_prize(self, lottery_id: int, user_id: str, prize_id: int, ref: str) -> Granted:
        """One unit of `prize_id` from the lottery's pool, once per `ref`, with the availability
        rules of a draw (the consolation prize when it is unavailable). A "points" prize is
        credited to the wallet like a won one."""
        activity = await self.lottery(lottery_id)
        now_ms = self.clock.now_ms()
        day = local_day(now_ms, activity.tz)
        grant_id = new_id("g", now_ms)
        day_ttl_ms = day_end_ms(day, activity.tz) + DAY_KEY_GRACE_MS - now_ms

        async def grant() -> GrantReply:
            at = periods(now_ms, activity.starts_at, activity.tz)
            return await self.store.grant(
                lottery_id,
                user_id,
                prize_id,
                grant_id,
                now_ms,
                day,
                day_ttl_ms,
                ref,
                REFERENCE_TTL_S,
                number_at(activity, now_ms),
                at,
            )

        reply = await self._loaded(activity, grant, user_id)
        if reply.kind == "unknown_prize":
            raise PromoError(Kind.NOT_FOUND, "prize_not_found", f"no prize {prize_id} in lottery {lottery_id}")
        prize = lottery_at(activity, now_ms).prize(reply.prize_id)
        if reply.kind == "ok":
            await self._credit_points_prize(prize, user_id, reply.grant_id, lottery_id)
        return Granted(
            grant_id=reply.grant_id,
            lottery_id=lottery_id,
            prize=prize_won(prize),
            fallback=reply.prize_id != reply.picked_prize_id,
        )

    async def credit_chances(self, lottery_id: int, user_id: str, chances: int, ref: str, reason: str) -> int:
        """Add draw chances, once per `ref`. Returns the chances the member has now."""
        activity = await self.lottery(lottery_id)
        now_ms = self.clock.now_ms()
        reply = await self._loaded(
            activity,
            lambda: self.store.credit_chances(lottery_id, user_id, chances, ref, reason, now_ms, REFERENCE_TTL_S),
            user_id,
        )
        return reply.chances_left

    async def chances_left(self, lottery_id: int, user_id: str) -> int:
        activity = await self.lottery(lottery_id)
        reply = await self._loaded(activity, lambda: self.store.chances_of(lottery_id, user_id), user_id)
        return reply.chances_left

    async def history(
        self, user_id: str, activity_id: int | None, limit: int, cursor: str | None = None
    ) -> Page[DrawResult]:
        """A member's own draws, newest first, a page at a time (activities/pages.py), from the
        SQL audit trail (a draw shows up there once the audit writer has written it, normally
        within a fraction of a second)."""
        after = decode_cursor(cursor, (int, int))
        rows = await self.repository.draws_of(activity_id, user_id, limit + 1, after)
        kept, next_cursor = cut(rows, limit, lambda pair: (pair[1].drawn_at_ms, pair[0]))
        results = []
        for _, row in kept:
            activity = await self.lottery(row.activity_id)
            record = DrawRecord(
                draw_id=row.draw_id,
                prize_id=row.prize_id,
                picked_prize_id=row.picked_prize_id,
                left_today=row.left_today,
                left_total=row.left_total,
                drawn_at_ms=row.drawn_at_ms,
                kind=row.kind,
            )
            results.append(result_of(activity, record, replayed=False, variant=row.variant or ""))
        return Page(items=results, next_cursor=next_cursor)


def budget_values(played: Lottery) -> str:
    """draw.lua's ARGV[18]: the prize values in fen as the draw's version and A/B variant give
    them (what the budget spends, lottery/pacing.py); "" without a budget (nothing to spend)."""
    if played.budget_cny is None:
        return ""
    return ",".join(str(to_fen(p.value_cny)) for p in played.prizes)
