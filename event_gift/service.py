"""Event gifts: create one, and fire it from members' events (`on_events`, called by events/
after a batch is recorded): each matching event runs one script (event_gift/fire.lua) that
checks the caps and the budget and records the firing once per event id, then the reward is
delivered by its own script, once per reference `gift:<gift id>`."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import msgspec
import sqlalchemy as sa

from activities.audit_rows import EventHandler, Row
from activities.clock import Clock, day_end_ms, local_day
from activities.errors import Kind, PromoError, invalid
from activities.live import LiveActivities
from activities.model import Activity, validate_common
from activities.points import PointsService
from activities.rewards import ChancesReward, CouponReward, PointsReward, PrizeReward
from activities.service import ActivityService
from event_gift.db import gift_firings
from event_gift.model import (
    ACTIVITY_TYPE,
    EventGiftRules,
    EventGiftSpec,
    budget_units,
    config_of,
    matches,
    validate_rules,
)
from event_gift.store import FIRED_TTL_S, FireReply, FireRequest, GiftSnapshot, GiftStore
from lottery.service import DrawService

log = logging.getLogger("promo.event_gift")
_LIVE_REFRESH_S = 1.0  # how soon a newly published gift starts firing
DAY_GRACE_MS = 3600 * 1000


class MemberEvent(Protocol):
    """An event recorded by events/ (events.store.Prepared), as a gift reads it."""

    @property
    def event_id(self) -> str: ...
    @property
    def member_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def occurred_ms(self) -> int: ...
    @property
    def attributes(self) -> str: ...


class GiftCounters(msgspec.Struct):
    activity_id: int
    status: str
    loaded: bool
    fired_total: int
    budget_left: int | None
    fired_in_sql: int
    audit_backlog: int
    quarantined: int = 0


def gift_id_of(activity_id: int, event_id: str) -> str:
    return f"{activity_id}:{event_id}"


class EventGiftService:
    def __init__(
        self, activities: ActivityService, store: GiftStore, draws: DrawService, points: PointsService, clock: Clock
    ) -> None:
        self.activities = activities
        self.store = store
        self.draws = draws
        self.points = points
        self.clock = clock
        self._live = LiveActivities(activities, ACTIVITY_TYPE, _LIVE_REFRESH_S)

    # --- operators ---------------------------------------------------------------------------

    async def create(self, spec: EventGiftSpec, operator_id: str) -> Activity:
        validate_common(spec)
        validate_rules(spec.event_gift)
        linked = spec.event_gift.linked_lottery_id
        if linked is not None:
            lottery = await self.draws.find(linked)
            if lottery is None:
                raise invalid("linked_lottery_invalid", f"activity {linked} is not a lottery", field="event_gift")
            reward = spec.event_gift.reward
            if isinstance(reward, PrizeReward) and reward.prize_id not in {
                p.id for p in lottery.prizes if not p.is_consolation
            }:
                raise invalid("prize_not_in_linked_lottery", f"no prize {reward.prize_id} in lottery {linked}")
        return await self.activities.create_draft(spec, ACTIVITY_TYPE, operator_id, config_of(spec.event_gift))

    async def check_publishable(self, activity: Activity) -> None:
        linked = self.rules(activity).linked_lottery_id
        if linked is not None and (await self.activities.get(linked)).status == "draft":
            raise PromoError(
                Kind.CONFLICT, "linked_lottery_not_published", f"publish the linked lottery {linked} first"
            )

    def rules(self, activity: Activity) -> EventGiftRules:
        return self.activities.settings(activity, EventGiftRules)

    async def counters(self, activity: Activity) -> GiftCounters:
        live = await self.store.counters(activity.id)
        async with self.activities.repository.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(gift_firings.c.activity_id == activity.id)
            in_sql = int((await conn.execute(query)).scalar_one())
        return GiftCounters(
            activity_id=activity.id,
            status=activity.status,
            loaded=live.status is not None,
            fired_total=live.fired_total,
            budget_left=live.budget_left,
            fired_in_sql=in_sql,
            audit_backlog=live.audit_backlog,
            quarantined=await self.activities.repository.count_dead_letters(activity.id),
        )

    # --- members' events ------------------------------------------------------------------------

    async def on_events(self, events: Sequence[MemberEvent]) -> None:
        """Fire every live gift each new event matches (a firing per gift and event at most)."""
        gifts = await self._live_gifts()
        if not gifts or not events:
            return
        firings = []
        for event in events:
            attributes: dict[str, Any] | None = None
            for activity, rules in gifts:
                if event.type != rules.trigger.event:
                    continue
                if attributes is None:
                    attributes = msgspec.json.decode(event.attributes)
                if matches(rules.trigger, event.type, event.occurred_ms, attributes, activity.tz):
                    firings.append(self._fire_if_listed(activity, rules, event.member_id, event.event_id))
        for outcome in await asyncio.gather(*firings, return_exceptions=True):
            if isinstance(outcome, BaseException):
                log.error("an event gift did not fire: %r", outcome)

    async def _fire_if_listed(self, activity: Activity, rules: EventGiftRules, user_id: str, event_id: str) -> None:
        """Fire unless the audience's lists leave the member out (deny lists: fraud accounts)."""
        if await self.activities.in_lists(activity, user_id):
            await self.fire(activity, rules, user_id, event_id)

    async def fire(self, activity: Activity, rules: EventGiftRules, user_id: str, event_id: str) -> FireReply:
        now_ms = self.clock.now_ms()
        today = local_day(now_ms, activity.tz)
        request = FireRequest(
            activity_id=activity.id,
            user_id=user_id,
            event_id=event_id,
            gift_id=gift_id_of(activity.id, event_id),
            now_ms=now_ms,
            day=today,
            day_ttl_ms=day_end_ms(today, activity.tz) + DAY_GRACE_MS - now_ms,
        )
        reply = await self.activities.run_loaded(
            activity.id, lambda: self.store.fire(request), unknown="the gift may or may not have fired"
        )
        if reply.kind == "ok":
            await self.deliver(activity, rules, user_id, reply.value)
        return reply

    async def deliver(self, activity: Activity, rules: EventGiftRules, user_id: str, gift_id: str) -> None:
        """The reward of a firing, once per reference (a second delivery is harmless)."""
        reward, ref = rules.reward, f"gift:{gift_id}"
        if isinstance(reward, CouponReward):
            return  # issued by the brand's CRM from the audit trail (gift_firings)
        if isinstance(reward, PointsReward):
            await self.points.credit(user_id, reward.points, ref, "event_gift", activity.id)
        elif isinstance(reward, ChancesReward):
            assert rules.linked_lottery_id is not None
            await self.draws.credit_chances(rules.linked_lottery_id, user_id, reward.chances, ref, "event_gift")
        else:
            assert rules.linked_lottery_id is not None
            await self.draws.grant_prize(rules.linked_lottery_id, user_id, reward.prize_id, ref)

    async def wants(self, event_type: str) -> bool:
        """Whether a live gift fires on events of this type (events/actions.py)."""
        return any(rules.trigger.event == event_type for _, rules in await self._live_gifts())

    async def _live_gifts(self) -> list[tuple[Activity, EventGiftRules]]:
        return [(a, self.rules(a)) for a in await self._live.all()]

    # --- the kernel's questions -----------------------------------------------------------------

    async def load(self, activity: Activity) -> None:
        rules = self.rules(activity)

        async def read() -> GiftSnapshot:
            return await self._snapshot(activity, rules)

        async def recover(snapshot: GiftSnapshot, epoch: str) -> GiftSnapshot:
            """After a loss of Redis state: hold back the budget the unwritten window may have spent."""
            budget = snapshot.state.get("budget_left")
            left = {} if budget is None else {"budget": int(budget)}
            events = [(gift_firings.c.activity_id, gift_firings.c.at_ms)]
            held = await self.activities.recoveries.begin(activity.id, ACTIVITY_TYPE, epoch, left, events=events)
            if budget is not None:
                snapshot.state["budget_left"] = int(budget) - held.get("budget", 0)
            return snapshot

        await self.store.load(activity.id, read, recover)

    async def release_held(self, activity_id: int, epoch: str, counter: str, units: int) -> str:
        return await self.store.release(activity_id, epoch, units)

    async def _snapshot(self, activity: Activity, rules: EventGiftRules) -> GiftSnapshot:
        now_ms = self.clock.now_ms()
        today = local_day(now_ms, activity.tz)
        query = sa.select(
            gift_firings.c.user_id,
            gift_firings.c.event_id,
            gift_firings.c.gift_id,
            gift_firings.c.day,
            gift_firings.c.at_ms,
        ).where(gift_firings.c.activity_id == activity.id)
        async with self.activities.repository.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        user_total: Counter[str] = Counter()
        user_today: Counter[str] = Counter()
        fired: dict[str, str] = {}
        since = now_ms - FIRED_TTL_S * 1000
        for user_id, event_id, gift_id, day, at_ms in rows:
            user_total[user_id] += 1
            if day == today.isoformat():
                user_today[user_id] += 1
            if at_ms >= since:
                fired[event_id] = gift_id
        caps = rules.caps
        state: dict[str, str | int] = {
            "status": activity.status,
            "starts_at_ms": int(activity.starts_at.timestamp() * 1000),
            "ends_at_ms": int(activity.ends_at.timestamp() * 1000),
            "per_member_daily": caps.per_member_daily or 0,
            "per_member_total": caps.per_member_total or 0,
            "fired_total": len(rows),
        }
        budget = budget_units(rules)
        if budget is not None:
            state["budget_left"] = max(budget - len(rows), 0)
        return GiftSnapshot(
            state=state,
            user_total=dict(user_total),
            user_today=dict(user_today),
            today=today,
            day_ttl_ms=day_end_ms(today, activity.tz) + DAY_GRACE_MS - now_ms,
            fired=fired,
        )

    def audit_handlers(self) -> Mapping[str, EventHandler]:
        return {"gift": _gift_rows}

    async def sweep(self) -> int:
        return 0

    async def reconcile(self) -> int:
        """Nothing yet: a reward delivery that fails after its firing is logged, not retried
        (the firing is in SQL, gift_firings; see README, "Event gifts")."""
        return 0


async def _gift_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    if activity_id is None:
        raise ValueError(f"gift event {entry_id} outside an activity stream")
    row = {
        "gift_id": fields["gift_id"],
        "activity_id": activity_id,
        "user_id": fields["user_id"],
        "event_id": fields["event_id"],
        "day": fields["day"],
        "at_ms": int(fields["at_ms"]),
        "stream_id": entry_id,
    }
    return [(gift_firings, row)]
