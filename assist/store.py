"""Redis access of friend assist activities: the start, help and expire scripts, reading an
initiative, the sweep's list of due initiatives, live counters, and rebuilding the live state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import redis.asyncio as aioredis

from activities.scripts import WINDOW, ScriptBatcher, script_beside
from activities.store import AuditStore, hset_chunks, load_activity, release_units
from assist.keys import AssistKeys

_start = script_beside(__file__, "start.lua", prelude=WINDOW)
_help = script_beside(__file__, "help.lua", prelude=WINDOW)
_expire = script_beside(__file__, "expire.lua")
_member = script_beside(__file__, "member.lua")
_initiative = script_beside(__file__, "initiative.lua")
_deadlines = script_beside(__file__, "deadlines.lua")
CLOSED_TTL_S = 7 * 24 * 3600  # a completed or expired initiative stays readable in Redis this long


@dataclass(frozen=True)
class StartRequest:
    activity_id: int
    user_id: str
    initiative_id: str
    now_ms: int
    deadline_ms: int
    needed: int
    price_cents: int | None = None
    floor_cents: int | None = None
    cuts: list[int] | None = None
    seed: int | None = None
    origin: tuple[str, str] = ("", "")  # channel, source ("" when not sent)


@dataclass(frozen=True)
class StartReply:
    """kind is ok | open (the member's open initiative) | not_loaded | member_not_loaded | refused."""

    kind: str
    initiative_id: str = ""
    code: str | None = None
    detail: str | None = None  # activity_not_live: the activity's status


@dataclass(frozen=True)
class HelpRequest:
    activity_id: int
    initiative_id: str
    helper: str
    help_id: str
    now_ms: int
    day: date
    day_ttl_ms: int
    mode: str  # help | invite
    device_id: str = ""
    ip: str = ""
    new_user: bool = False
    helper_reward: bool = False  # the activity has a helper reward
    origin: tuple[str, str, str] = ("", "", "")  # channel, source, share parent ("" when not sent)


@dataclass(frozen=True)
class HelpReply:
    """kind is ok | not_loaded | member_not_loaded | initiative_not_loaded | refused."""

    kind: str
    help_id: str = ""
    number: int = 0
    needed: int = 0
    cut_cents: int | None = None
    price_cents: int | None = None
    completed: bool = False
    helper_reward: bool = False
    code: str | None = None
    detail: str | None = None


@dataclass
class AssistSnapshot:
    """Everything the scripts need, recomputed from the SQL audit trail."""

    state: dict[str, str | int]
    stock: dict[str, int]  # prize, helper: units left
    today: date
    day_ttl_ms: int
    initiatives: dict[str, dict[str, str | int]] = field(default_factory=dict)  # open ones
    deadlines: dict[str, int] = field(default_factory=dict)
    open: dict[str, str] = field(default_factory=dict)
    initiators: dict[str, int] = field(default_factory=dict)
    helped: dict[str, int] = field(default_factory=dict)
    invitees: dict[str, str] = field(default_factory=dict)
    user_day: dict[str, int] = field(default_factory=dict)
    device_day: dict[str, int] = field(default_factory=dict)
    ip_day: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberAssists:
    """One member's part of the live state, and the rebuild day's helps of its device and
    address, from SQL (assist/members.py)."""

    initiated: int = 0
    open_initiative: str = ""
    helps: int = 0
    invited_for: str = ""  # the initiative it counted for as an invitee
    helps_that_day: int = 0
    device: tuple[str, int] = ("", 0)  # device_id, its helps that day ("": none to load)
    ip: tuple[str, int] = ("", 0)


@dataclass(frozen=True)
class AssistCountersLive:
    status: str | None  # None: not loaded
    totals: dict[str, int]  # initiatives_total, helps_total, completed_total, expired_total, helper_rewards_total
    stock: dict[str, int]
    audit_backlog: int


class AssistStore:
    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher

    @property
    def redis(self) -> aioredis.Redis:
        return self.batcher.redis

    async def start(self, request: StartRequest) -> StartReply:
        keys = AssistKeys(request.activity_id)
        reply = await self.batcher.call(
            _start,
            [
                keys.state,
                keys.initiative(request.initiative_id),
                keys.open_initiatives,
                keys.initiators,
                keys.stock,
                keys.deadlines,
                keys.events,
                keys.members,
            ],
            [
                request.user_id,
                request.initiative_id,
                request.now_ms,
                request.deadline_ms,
                request.needed,
                _blank(request.price_cents),
                _blank(request.floor_cents),
                ",".join(map(str, request.cuts or [])),
                _blank(request.seed),
                *request.origin,
            ],
        )
        if reply[0] == "refused":
            return StartReply(reply[0], code=reply[1], detail=reply[2] if len(reply) > 2 else None)
        return StartReply(reply[0], initiative_id=reply[1] if len(reply) > 1 else "")

    async def help(self, request: HelpRequest) -> HelpReply:
        keys = AssistKeys(request.activity_id)
        reply = await self.batcher.call(
            _help,
            [
                keys.state,
                keys.initiative(request.initiative_id),
                keys.user_day(request.day),
                keys.device_day(request.day),
                keys.ip_day(request.day),
                keys.helped,
                keys.invitees,
                keys.stock,
                keys.open_initiatives,
                keys.deadlines,
                keys.events,
                keys.members,
                keys.day_loaded(request.day),
            ],
            [
                request.helper,
                request.help_id,
                request.now_ms,
                request.day.isoformat(),
                request.day_ttl_ms,
                request.device_id,
                request.ip,
                int(request.new_user),
                request.mode,
                request.initiative_id,
                CLOSED_TTL_S,
                int(request.helper_reward),
                *request.origin,
            ],
        )
        kind = reply[0]
        if kind == "ok":
            _, help_id, number, needed, cut, price, completed, reward = reply
            return HelpReply(
                kind,
                help_id=help_id,
                number=int(number),
                needed=int(needed),
                cut_cents=_number(cut),
                price_cents=_number(price),
                completed=completed == "1",
                helper_reward=reward == "1",
            )
        if kind == "refused":
            return HelpReply(kind, code=reply[1], detail=reply[2] if len(reply) > 2 else None)
        return HelpReply(kind)

    async def expire(self, activity_id: int, initiative_id: str, now_ms: int) -> str:
        keys = AssistKeys(activity_id)
        reply = await self.batcher.call(
            _expire,
            [
                keys.state,
                keys.initiative(initiative_id),
                keys.open_initiatives,
                keys.stock,
                keys.deadlines,
                keys.events,
            ],
            [initiative_id, now_ms, CLOSED_TTL_S],
        )
        return str(reply[0])

    async def lazy(self, activity_id: int) -> tuple[str, date] | None:
        """The live load's token and day if it was lazy (None: not loaded, or not lazy)."""
        token, day = await self.redis.hmget(AssistKeys(activity_id).state, ["lazy", "lazy_day"])
        return None if token in (None, "0") or not day else (str(token), date.fromisoformat(str(day)))

    async def load_member(
        self, activity_id: int, user_id: str, token: str, day: date, day_ttl_ms: int, member: MemberAssists
    ) -> str:
        """Write a member read from SQL (member.lua): ok | loaded (already) | stale."""
        keys = AssistKeys(activity_id)
        reply = await self.batcher.call(
            _member,
            [
                keys.state, keys.members, keys.initiators, keys.open_initiatives, keys.helped, keys.invitees,
                keys.user_day(day), keys.device_day(day), keys.ip_day(day), keys.day_loaded(day),
                keys.initiative(member.open_initiative or "-"),
            ],
            [
                user_id, token, member.initiated, member.open_initiative, member.helps, member.invited_for,
                member.helps_that_day, *member.device, *member.ip, max(day_ttl_ms, 1000),
            ],
        )  # fmt: skip
        return str(reply)

    async def load_initiative(
        self, activity_id: int, initiative_id: str, token: str, keep_s: int, fields: dict[str, str | int]
    ) -> str:
        """Write an initiative read from SQL (initiative.lua): ok | loaded (already) | stale."""
        keys = AssistKeys(activity_id)
        flat = [v for kv in fields.items() for v in kv]
        reply = await self.batcher.call(
            _initiative, [keys.state, keys.initiative(initiative_id)], [token, keep_s, *flat]
        )
        return str(reply)

    async def pending_deadlines(self, activity_id: int) -> str | None:
        """The token of the lazy load whose open initiatives' deadlines are not added yet, if any."""
        token = await self.redis.hget(AssistKeys(activity_id).state, "deadlines_pending")
        return None if token is None else str(token)

    async def add_deadlines(self, activity_id: int, token: str, deadlines: dict[str, int]) -> str:
        """Add the deadlines read from SQL if that load is still live and they are still pending
        (deadlines.lua): ok | stale."""
        keys = AssistKeys(activity_id)
        flat = [v for pair in deadlines.items() for v in pair]
        return str(await _deadlines(self.redis, [keys.state, keys.deadlines], [token, *flat]))

    async def initiative(self, activity_id: int, initiative_id: str) -> dict[str, str] | None:
        """The initiative's hash, or None if Redis does not hold it (closed long ago, or not loaded)."""
        found = await self.redis.hgetall(AssistKeys(activity_id).initiative(initiative_id))
        return {str(k): str(v) for k, v in found.items()} or None

    async def counters(self, activity_id: int) -> AssistCountersLive:
        keys = AssistKeys(activity_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.state)
        pipe.hgetall(keys.stock)
        state, stock = await pipe.execute()
        totals = {k: int(v) for k, v in state.items() if k.endswith("_total")}
        return AssistCountersLive(
            status=state.get("status"),
            totals=totals,
            stock={k: int(v) for k, v in stock.items()},
            audit_backlog=await AuditStore(self.redis).backlog(keys.events),
        )

    async def load(
        self,
        activity_id: int,
        read: Callable[[], Awaitable[AssistSnapshot]],
        recover: Callable[[AssistSnapshot, str], Awaitable[AssistSnapshot]] | None = None,
    ) -> bool:
        """Rebuild the activity's live state from SQL unless Redis has it (see `load_activity`;
        `recover` holds back units after a loss of Redis state)."""
        keys = AssistKeys(activity_id)

        def write(pipe: Any, snapshot: AssistSnapshot) -> None:
            day_keys = [keys.user_day(snapshot.today), keys.device_day(snapshot.today), keys.ip_day(snapshot.today)]
            pipe.delete(
                keys.state, keys.stock, keys.deadlines, keys.open_initiatives, keys.initiators, keys.helped,
                keys.invitees, keys.members, keys.day_loaded(snapshot.today), *day_keys,
            )  # fmt: skip
            hset_chunks(pipe, keys.stock, snapshot.stock)
            for initiative_id, fields in snapshot.initiatives.items():
                pipe.delete(keys.initiative(initiative_id))
                hset_chunks(pipe, keys.initiative(initiative_id), fields)
            if snapshot.deadlines:
                pipe.zadd(keys.deadlines, snapshot.deadlines)
            hset_chunks(pipe, keys.open_initiatives, snapshot.open)
            hset_chunks(pipe, keys.initiators, snapshot.initiators)
            hset_chunks(pipe, keys.helped, snapshot.helped)
            hset_chunks(pipe, keys.invitees, snapshot.invitees)
            for key, counts in zip(day_keys, (snapshot.user_day, snapshot.device_day, snapshot.ip_day), strict=True):
                hset_chunks(pipe, key, counts)
                pipe.pexpire(key, snapshot.day_ttl_ms)
            pipe.hset(keys.state, mapping=snapshot.state)  # last: the scripts treat it as "loaded"

        return await load_activity(self.redis, keys, read, write, recover)

    async def release(self, activity_id: int, epoch: str, counter: str, units: int) -> str:
        """Give back `units` held back on `counter` ("stock:<prize or helper>")
        by a fail-closed rebuild, if the live state is still that load's."""
        keys = AssistKeys(activity_id)
        return await release_units(self.redis, keys, keys.stock, counter.partition(":")[2], units, epoch)


def _blank(value: int | None) -> str | int:
    return "" if value is None else value


def _number(text: str) -> int | None:
    return int(text) if text else None
