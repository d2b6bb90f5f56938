"""The draw use case: audience, idempotency, the atomic script, the answer."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from activities.auth import Identity
from activities.clock import Clock, day_end_ms, from_ms, local_day
from activities.errors import Kind, OutcomeUnknown, PromoError
from activities.model import Activity
from activities.points import PointsService, draw_cost_ref
from activities.repository import ActivityRepository
from activities.service import DAY_KEY_GRACE_MS, IDEMPOTENCY_TTL_S, ActivityService
from lottery.odds import new_rand
from lottery.store import DrawRecord, DrawReply, DrawRequest, DrawStore

log = logging.getLogger("promo.lottery")

_REFUSALS: dict[str, tuple[Kind, str]] = {
    "activity_not_live": (Kind.CONFLICT, "the activity is not live"),
    "not_started": (Kind.CONFLICT, "the activity has not started yet"),
    "already_ended": (Kind.CONFLICT, "the activity is over"),
    "user_daily_limit": (Kind.LIMIT, "no draws left today"),
    "user_total_limit": (Kind.LIMIT, "no draws left in this activity"),
    "global_daily_limit": (Kind.LIMIT, "all of today's draws are gone; come back tomorrow"),
}
_LOAD_ATTEMPTS = 3
_FROZEN = float("inf")  # what draws read of an activity cannot change after publishing


class DrawBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Optional context a front end sends with a draw."""

    channel: Literal["h5", "mini_program", "app"] | None = None
    device_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None


class PrizeWon(msgspec.Struct):
    id: int
    name: str
    type: str
    value_cny: str
    is_consolation: bool
    points: int | None = None  # credited to the member's wallet for a "points" prize


class DrawResult(msgspec.Struct):
    draw_id: str
    activity_id: int
    prize: PrizeWon
    drawn_at: datetime
    left_today: int | None  # None: no daily limit
    left_total: int | None
    replayed: bool = False


def fingerprint(activity_id: int, body: DrawBody) -> str:
    return hashlib.sha256(b"%d:" % activity_id + msgspec.json.encode(body)).hexdigest()[:32]


def new_draw_id(now_ms: int) -> str:
    """Time-ordered and unguessable: 12 hex digits of milliseconds, 16 of randomness."""
    return f"d{now_ms:012x}{secrets.token_hex(8)}"


class DrawService:
    def __init__(
        self,
        activities: ActivityService,
        store: DrawStore,
        repository: ActivityRepository,
        points: PointsService,
        clock: Clock,
    ) -> None:
        self.activities = activities
        self.store = store
        self.points = points
        self.repository = repository
        self.clock = clock
        self._in_flight: set[tuple[int, str, str]] = set()

    async def draw(self, player: Identity, activity_id: int, idempotency_key: str, body: DrawBody) -> DrawResult:
        activity = await self.activities.get_published(activity_id, max_age_s=_FROZEN)
        if not activity.audience.admits(player.level, list(player.tags)):
            raise PromoError(Kind.FORBIDDEN, "audience_not_allowed", "this activity is not open to your membership")
        flight = (activity_id, player.subject, idempotency_key)
        if flight in self._in_flight:
            raise PromoError(
                Kind.CONFLICT,
                "idempotency_key_in_flight",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
        self._in_flight.add(flight)
        try:
            reply = await self._draw(activity, player.subject, idempotency_key, body)
        finally:
            self._in_flight.discard(flight)

        if reply.kind == "mismatch":
            raise PromoError(
                Kind.INVALID,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            )
        if reply.kind == "refused":
            code = reply.code or "refused"
            kind, message = _REFUSALS.get(code, (Kind.CONFLICT, code))
            details = {"status": reply.detail} if reply.detail else {}
            raise PromoError(kind, code, message, **details)
        assert reply.record is not None
        if reply.kind == "ok":
            await self._credit_points_prize(activity, player.subject, reply.record)
        return _result(activity, reply.record, replayed=reply.kind == "replay")

    async def _credit_points_prize(self, activity: Activity, user_id: str, record: DrawRecord) -> None:
        """A won "points" prize goes to the wallet (another Redis slot, so another script). The
        draw stands whatever happens here; a credit that fails is made by the reconciler."""
        prize = activity.prize(record.prize_id)
        if prize.type != "points" or not prize.points:
            return
        try:
            await self.points.credit_prize(user_id, prize.points, record.draw_id, activity.id)
        except Exception:
            log.exception("points prize of draw %s not credited yet; the reconciler will", record.draw_id)

    async def _draw(self, activity: Activity, user_id: str, idempotency_key: str, body: DrawBody) -> DrawReply:
        """Charge the points cost (if any), run the draw script, refund unless a new draw happened.

        The cost is charged under a reference naming this request's fresh draw id. Only an "ok"
        answer keeps it; a replay, a refusal or a mismatch refunds it. When the script's outcome
        is unknown nothing is refunded here: a retry with the same key replays (and refunds its
        own charge), and the reconciler refunds charges whose draw never reached SQL.
        """
        activity_id = activity.id
        now_ms = self.clock.now_ms()
        day = local_day(now_ms, activity.tz)
        draw_id = new_draw_id(now_ms)
        cost_ref = draw_cost_ref(draw_id)
        if activity.points_cost:
            await self.points.debit(user_id, activity.points_cost, cost_ref, "draw_cost", activity_id)
        try:
            reply = await self._run_script(
                DrawRequest(
                    activity_id=activity_id,
                    user_id=user_id,
                    draw_id=draw_id,
                    rand=new_rand(),
                    now_ms=now_ms,
                    day=day,
                    day_ttl_ms=day_end_ms(day, activity.tz) + DAY_KEY_GRACE_MS - now_ms,
                    fingerprint=fingerprint(activity_id, body),
                    idempotency_key=idempotency_key,
                    idempotency_ttl_s=IDEMPOTENCY_TTL_S,
                )
            )
        except PromoError as error:
            if activity.points_cost and error.code != "outcome_unknown":
                await self.points.refund(user_id, activity.points_cost, cost_ref, activity_id)
            raise
        if activity.points_cost and reply.kind != "ok":
            await self.points.refund(user_id, activity.points_cost, cost_ref, activity_id)
        return reply

    async def _run_script(self, request: DrawRequest) -> DrawReply:
        for _ in range(_LOAD_ATTEMPTS):
            try:
                reply = await self.store.draw(request)
            except OutcomeUnknown as exc:
                raise _unknown_outcome() from exc
            if reply.kind != "not_loaded":
                return reply
            await self.activities.ensure_loaded(request.activity_id)  # fresh or flushed Redis
        raise PromoError(Kind.UNAVAILABLE, "activity_loading", "the activity is loading; retry shortly")

    async def history(
        self, user_id: str, activity_id: int | None, limit: int, before_ms: int | None = None
    ) -> list[DrawResult]:
        """A member's own draws, newest first, from the SQL audit trail (a draw shows up there
        once the audit writer has written it, normally within a fraction of a second)."""
        rows = await self.repository.draws_of(activity_id, user_id, limit, before_ms)
        results = []
        for row in rows:
            activity = await self.activities.get_published(row.activity_id, max_age_s=_FROZEN)
            record = DrawRecord(
                draw_id=row.draw_id,
                prize_id=row.prize_id,
                picked_prize_id=row.picked_prize_id,
                left_today=row.left_today,
                left_total=row.left_total,
                drawn_at_ms=row.drawn_at_ms,
            )
            results.append(_result(activity, record, replayed=False))
        return results


def _result(activity: Activity, record: DrawRecord, *, replayed: bool) -> DrawResult:
    prize = activity.prize(record.prize_id)
    return DrawResult(
        draw_id=record.draw_id,
        activity_id=activity.id,
        prize=PrizeWon(
            id=prize.id,
            name=prize.name,
            type=prize.type,
            value_cny=str(prize.value_cny),
            is_consolation=prize.is_consolation,
            points=prize.points,
        ),
        drawn_at=from_ms(record.drawn_at_ms, activity.tz),
        left_today=record.left_today,
        left_total=record.left_total,
        replayed=replayed,
    )


def _unknown_outcome() -> PromoError:
    return PromoError(
        Kind.UNAVAILABLE,
        "outcome_unknown",
        "the draw may or may not have happened; retry with the same Idempotency-Key to learn the result",
    )
