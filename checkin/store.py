"""Redis access of sign-in activities: the mark script (sign-in, make-up), a member's cycle, the
live counters, and rebuilding an activity's live state from SQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import redis.asyncio as aioredis

from activities.scripts import WINDOW, ScriptBatcher, script_beside
from activities.store import AuditStore, hset_chunks, load_activity
from checkin.keys import CheckinKeys
from checkin.streak import Period

_mark = script_beside(__file__, "mark.lua", prelude=WINDOW)
_member = script_beside(__file__, "member.lua")
ScriptKind = Literal["signin", "makeup", "quote"]  # see mark.lua, ARGV[4]
CYCLE_PLACEHOLDER = "|load"  # a field of the cycle hash that no member's fields can be ("user|offset")


@dataclass(frozen=True)
class MarkRecord:
    """The outcome of marking a day, as the script keeps it for replays."""

    mark_id: str
    kind: str  # signin | makeup
    streak: int
    cumulative: int
    rewards: list[int]  # reward indexes
    at_ms: int

    def encode(self) -> str:
        rewards = ",".join(map(str, self.rewards)) or "-"
        return f"{self.mark_id} {self.kind} {self.streak} {self.cumulative} {rewards} {self.at_ms}"

    @classmethod
    def parse(cls, fields: list[str]) -> MarkRecord:
        mark_id, kind, streak, cumulative, rewards, at_ms = fields
        return cls(
            mark_id=mark_id,
            kind=kind,
            streak=int(streak),
            cumulative=int(cumulative),
            rewards=[] if rewards in ("-", "") else [int(r) for r in rewards.split(",")],
            at_ms=int(at_ms),
        )


@dataclass(frozen=True)
class MarkRequest:
    activity_id: int
    user_id: str
    mark_id: str
    now_ms: int
    kind: ScriptKind
    cycle: Period
    day: date  # the day to mark
    today: date
    cycle_ttl_ms: int
    day_ttl_ms: int
    origin: tuple[str, str] = ("", "")  # channel, source ("" when not sent)


@dataclass(frozen=True)
class MarkReply:
    """kind is ok | replay | quoted | not_loaded | member_not_loaded | refused."""

    kind: str
    record: MarkRecord | None = None  # ok, replay: the outcome of marking the requested day
    made_up: int = 0  # ok, replay: days of the member's cycle made up so far
    code: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class MemberCycle:
    """A member's marks in one cycle and the outcome of each marked day (by offset)."""

    marks: str
    records: dict[int, MarkRecord]


@dataclass
class CheckinSnapshot:
    """Everything the mark script needs, recomputed from the SQL audit trail."""

    state: dict[str, str | int]  # status, window, rules, totals
    cycle: Period
    cycle_ttl_ms: int
    today: date
    day_ttl_ms: int
    marks: dict[str, str] = field(default_factory=dict)  # user_id -> marks of the cycle
    records: dict[tuple[str, int], MarkRecord] = field(default_factory=dict)  # (user_id, offset)
    today_counts: dict[str, int] = field(default_factory=dict)  # signin, makeup


@dataclass(frozen=True)
class CheckinCountersLive:
    status: str | None  # None: not loaded in Redis
    signins_total: int
    makeups_total: int
    rewards_total: int
    today: dict[str, int]
    audit_backlog: int


class CheckinStore:
    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher

    @property
    def redis(self) -> aioredis.Redis:
        return self.batcher.redis

    async def mark(self, request: MarkRequest) -> MarkReply:
        keys = CheckinKeys(request.activity_id)
        reply = await self.batcher.call(
            _mark,
            [keys.state, keys.cycle(request.cycle.start), keys.day(request.today), keys.events, keys.members],
            [
                request.user_id,
                request.mark_id,
                request.now_ms,
                request.kind,
                request.cycle.offset(request.day),
                request.cycle.offset(request.today),
                request.cycle.length,
                request.cycle.start.isoformat(),
                request.day.isoformat(),
                request.cycle_ttl_ms,
                request.day_ttl_ms,
                *request.origin,
            ],
        )
        kind = reply[0]
        if kind in ("ok", "replay"):
            return MarkReply(kind, record=MarkRecord.parse(reply[1:7]), made_up=int(reply[7]))
        if kind == "refused":
            return MarkReply(kind, code=reply[1], detail=reply[2] if len(reply) > 2 else None)
        return MarkReply(kind)

    async def member_cycle(self, activity_id: int, cycle: Period, user_id: str) -> MemberCycle | str:
        """The member's marks of `cycle`, or not_loaded (the activity) | member_not_loaded."""
        keys = CheckinKeys(activity_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(keys.state, ["status", "lazy"])
        pipe.hexists(keys.members, user_id)
        pipe.hmget(keys.cycle(cycle.start), [user_id, *(f"{user_id}|{o}" for o in range(cycle.length))])
        (status, lazy), member, values = await pipe.execute()
        if status is None:
            return "not_loaded"
        if lazy not in (None, "0") and not member:
            return "member_not_loaded"
        marks, *records = values
        return MemberCycle(
            marks=marks or "0" * cycle.length,
            records={o: MarkRecord.parse(r.split()) for o, r in enumerate(records) if r},
        )

    async def lazy_token(self, activity_id: int) -> str | None:
        """The live load's token if members are loaded lazily ("0": they are not; None: not loaded)."""
        token = await self.redis.hget(CheckinKeys(activity_id).state, "lazy")
        return None if token is None else str(token)

    async def load_member(
        self, activity_id: int, user_id: str, token: str, cycle: Period, cycle_ttl_ms: int, member: MemberCycle
    ) -> str:
        """Write one member's marks of `cycle` read from SQL (member.lua): ok | loaded | stale."""
        keys = CheckinKeys(activity_id)
        marks = member.marks if member.records else ""
        args: list[str | int] = [user_id, token, cycle_ttl_ms, marks]
        for offset, record in member.records.items():
            args += [offset, record.encode()]
        return str(await _member(self.redis, [keys.state, keys.members, keys.cycle(cycle.start)], args))

    async def counters(self, activity_id: int, today: date) -> CheckinCountersLive:
        keys = CheckinKeys(activity_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(keys.state, ["status", "signins_total", "makeups_total", "rewards_total"])
        pipe.hgetall(keys.day(today))
        (status, signins, makeups, rewards), today_counts = await pipe.execute()
        return CheckinCountersLive(
            status=status,
            signins_total=int(signins or 0),
            makeups_total=int(makeups or 0),
            rewards_total=int(rewards or 0),
            today={k: int(v) for k, v in today_counts.items()},
            audit_backlog=await AuditStore(self.redis).backlog(keys.events),
        )

    async def load(
        self,
        activity_id: int,
        read: Callable[[], Awaitable[CheckinSnapshot]],
        recover: Callable[[CheckinSnapshot, str], Awaitable[CheckinSnapshot]] | None = None,
    ) -> bool:
        """Rebuild the activity's live state from SQL unless Redis has it (see `load_activity`;
        `recover` holds back units after a loss of Redis state)."""
        keys = CheckinKeys(activity_id)

        def write(pipe: Any, snapshot: CheckinSnapshot) -> None:
            cycle_key, day_key = keys.cycle(snapshot.cycle.start), keys.day(snapshot.today)
            pipe.delete(keys.state, cycle_key, day_key, keys.members)
            cycle_fields: dict[str, str] = dict(snapshot.marks)
            cycle_fields |= {f"{user}|{offset}": r.encode() for (user, offset), r in snapshot.records.items()}
            # The cycle hash exists with its expiry from the load on: mark.lua sets it only with
            # the day's first mark, and today's counters may already be there.
            cycle_fields[CYCLE_PLACEHOLDER] = "1"
            hset_chunks(pipe, cycle_key, cycle_fields)
            pipe.pexpire(cycle_key, snapshot.cycle_ttl_ms)
            hset_chunks(pipe, day_key, snapshot.today_counts)
            pipe.pexpire(day_key, snapshot.day_ttl_ms)
            pipe.hset(keys.state, mapping=snapshot.state)  # last: the script treats it as "loaded"

        return await load_activity(self.redis, keys, read, write, recover)
