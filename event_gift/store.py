"""Redis access of event gifts: the firing script, the live counters, rebuilding the live state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import redis.asyncio as aioredis

from activities.scripts import ScriptBatcher, script_beside
from activities.store import AuditStore, hset_chunks, load_activity, release_units
from event_gift.keys import GiftKeys

_fire = script_beside(__file__, "fire.lua")
FIRED_TTL_S = 8 * 24 * 3600  # longer than the oldest event POST /events accepts (7 days)


@dataclass(frozen=True)
class FireRequest:
    activity_id: int
    user_id: str
    event_id: str
    gift_id: str
    now_ms: int
    day: date
    day_ttl_ms: int


@dataclass(frozen=True)
class FireReply:
    kind: str  # ok | replay | not_loaded | refused
    value: str = ""  # the gift id, or the refusal's code


@dataclass
class GiftSnapshot:
    state: dict[str, str | int]
    user_total: dict[str, int] = field(default_factory=dict)
    user_today: dict[str, int] = field(default_factory=dict)
    today: date | None = None
    day_ttl_ms: int = 0
    fired: dict[str, str] = field(default_factory=dict)  # event id -> gift id (recent ones)


@dataclass(frozen=True)
class GiftLive:
    status: str | None
    fired_total: int
    budget_left: int | None
    audit_backlog: int


class GiftStore:
    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher

    @property
    def redis(self) -> aioredis.Redis:
        return self.batcher.redis

    async def fire(self, r: FireRequest) -> FireReply:
        keys = GiftKeys(r.activity_id)
        reply = await self.batcher.call(
            _fire,
            [keys.state, keys.user_total, keys.user_day(r.day), keys.gift_fired(r.event_id), keys.events],
            [r.user_id, r.event_id, r.gift_id, r.now_ms, r.day.isoformat(), r.day_ttl_ms, FIRED_TTL_S],
        )
        return FireReply(str(reply[0]), str(reply[1]) if len(reply) > 1 else "")

    async def counters(self, activity_id: int) -> GiftLive:
        keys = GiftKeys(activity_id)
        state = {str(k): str(v) for k, v in (await self.redis.hgetall(keys.state)).items()}
        budget = state.get("budget_left")
        return GiftLive(
            status=state.get("status"),
            fired_total=int(state.get("fired_total", 0)),
            budget_left=None if budget is None else int(budget),
            audit_backlog=await AuditStore(self.redis).backlog(keys.events),
        )

    async def load(
        self,
        activity_id: int,
        read: Callable[[], Awaitable[GiftSnapshot]],
        recover: Callable[[GiftSnapshot, str], Awaitable[GiftSnapshot]] | None = None,
    ) -> bool:
        keys = GiftKeys(activity_id)

        def write(pipe: Any, snapshot: GiftSnapshot) -> None:
            pipe.delete(keys.state, keys.user_total)
            hset_chunks(pipe, keys.user_total, snapshot.user_total)
            if snapshot.today is not None:
                day_key = keys.user_day(snapshot.today)
                pipe.delete(day_key)
                hset_chunks(pipe, day_key, snapshot.user_today)
                pipe.pexpire(day_key, max(snapshot.day_ttl_ms, 1))
            for event_id, gift_id in snapshot.fired.items():
                pipe.set(keys.gift_fired(event_id), gift_id, ex=FIRED_TTL_S)
            pipe.hset(keys.state, mapping=snapshot.state)  # last: the script treats it as "loaded"

        return await load_activity(self.redis, keys, read, write, recover)

    async def release(self, activity_id: int, epoch: str, units: int) -> str:
        """Give back budget a fail-closed rebuild held back."""
        keys = GiftKeys(activity_id)
        return await release_units(self.redis, keys, keys.state, "budget_left", units, epoch)
