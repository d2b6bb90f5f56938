"""Redis access of hot-item reservations: the reserve and change scripts, a member's
reservations, the sweep's due reservations, the live counters, and rebuilding the live state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import redis.asyncio as aioredis

from activities.scripts import WINDOW, ScriptBatcher, script_beside
from activities.store import AuditStore, hset_chunks, load_activity, release_units
from reservation.keys import ReservationKeys

_reserve = script_beside(__file__, "reserve.lua", prelude=WINDOW)
_change = script_beside(__file__, "change.lua")
_member = script_beside(__file__, "member.lua")
_drop_legacy = script_beside(__file__, "drop_legacy.lua")
MEMBER_KEEP_S = 31 * 86400  # a member loaded with no reservation: its hash (the marker) stays this long


@dataclass(frozen=True)
class ReserveRequest:
    activity_id: int
    user_id: str
    code: str
    now_ms: int
    date: str
    store: str  # the pickup store, or "all"
    pool: str
    opens_at_ms: int
    closes_at_ms: int
    cancel_until_ms: int
    purchase: str
    fingerprint: str
    idempotency_key: str
    idempotency_ttl_s: int
    keep_s: int  # how long the reservation stays in Redis
    origin: tuple[str, str] = ("", "")  # channel, source ("" when not sent)


@dataclass(frozen=True)
class ScriptReply:
    """kind is ok | replay | mismatch | code_taken | not_due | not_loaded | member_not_loaded |
    code_not_loaded | refused; `value` is the
    code (reserve) or the new status (change); `code`/`detail` explain a refusal."""

    kind: str
    value: str = ""
    code: str | None = None
    detail: str | None = None


@dataclass
class ReservationSnapshot:
    """Everything the scripts need, recomputed from the SQL audit trail."""

    state: dict[str, str | int]
    pools: dict[str, int]
    deadlines: dict[str, int] = field(default_factory=dict)  # "@<date>" -> the date's end (rebuild.py)
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class MemberReservations:
    """One member's part of the live state, from SQL (reservation/rebuild.py `member_state`)."""

    total: int = 0  # reservations held (not cancelled)
    dates: dict[str, int] = field(default_factory=dict)  # date -> held
    # (code, seconds to keep it, end of its day in ms if still reserved else 0, its hash's fields)
    reservations: list[tuple[str, int, int, dict[str, str]]] = field(default_factory=list)
    idempotency: list[tuple[str, str]] = field(default_factory=list)  # (key, "<fingerprint> <code> <at_ms>")


@dataclass(frozen=True)
class ReservationCountersLive:
    status: str | None
    totals: dict[str, int]
    pools: dict[str, int]
    stats: dict[str, int]
    audit_backlog: int


class ReservationStore:
    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher

    @property
    def redis(self) -> aioredis.Redis:
        return self.batcher.redis

    async def reserve(self, r: ReserveRequest) -> ScriptReply:
        keys = ReservationKeys(r.activity_id)
        reply = await self.batcher.call(
            _reserve,
            [
                keys.state,
                keys.pools,
                keys.member(r.user_id),
                keys.reservation(r.code),
                keys.deadlines,
                keys.reservation_stats,
                keys.events,
            ],
            [
                r.user_id, r.code, r.now_ms, r.date, r.store, r.pool, r.opens_at_ms, r.closes_at_ms,
                r.cancel_until_ms, r.purchase, r.fingerprint, r.idempotency_key, r.idempotency_ttl_s, r.keep_s,
                *r.origin,
            ],
        )  # fmt: skip
        return await self._unless_legacy(keys, _reply(reply))

    async def change(
        self,
        activity_id: int,
        mode: str,
        code: str,
        now_ms: int,
        actor: str,
        today: str = "",
        store: str = "",
        origin: tuple[str, str] = ("", ""),  # channel, source ("" when not sent)
    ) -> ScriptReply:
        keys = ReservationKeys(activity_id)
        reply = await self.batcher.call(
            _change,
            [
                keys.state,
                keys.reservation(code),
                keys.pools,
                keys.member(actor),
                keys.deadlines,
                keys.reservation_stats,
                keys.events,
            ],
            [mode, code, now_ms, actor, today, store, *origin],
        )
        return await self._unless_legacy(keys, _reply(reply))

    async def _unless_legacy(self, keys: ReservationKeys, reply: ScriptReply) -> ScriptReply:
        """A state written before member hashes (reserve.lua: no `lazy`) is dropped, so that the
        caller's not_loaded rebuilds it from SQL (the load waits for the audit writer to have
        written the stream): what members held is never read from the old keys."""
        if reply.kind == "not_loaded" and reply.value == "legacy":
            await self.batcher.call(_drop_legacy, [keys.state], [])
            return ScriptReply("not_loaded")
        return reply

    async def reservation(self, activity_id: int, code: str) -> dict[str, str] | None:
        found = await self.redis.hgetall(ReservationKeys(activity_id).reservation(code))
        return {str(k): str(v) for k, v in found.items()} or None

    async def member_reservations(self, activity_id: int, user_id: str) -> dict[str, dict[str, str]] | str:
        """code -> fields of the member's reservations Redis still holds; or not_loaded (the
        activity) | member_not_loaded (rebuilt lazily, the member not yet)."""
        keys = ReservationKeys(activity_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(keys.state, ["status", "lazy"])
        pipe.hgetall(keys.member(user_id))
        (status, lazy), member = await pipe.execute()
        if status is not None and lazy is None:  # a state of the layout before member hashes
            await self._unless_legacy(keys, ScriptReply("not_loaded", "legacy"))
            return "not_loaded"
        if status is None:
            return "not_loaded"
        if lazy not in (None, "0") and member.get("L") != lazy:
            return "member_not_loaded"
        codes = sorted(str(field)[2:] for field in member if str(field).startswith("c:"))
        pipe = self.redis.pipeline(transaction=False)
        for code in codes:
            pipe.hgetall(keys.reservation(code))
        found = await pipe.execute()
        return {
            str(code): {str(k): str(v) for k, v in fields.items()}
            for code, fields in zip(codes, found, strict=True)
            if fields
        }

    async def lazy_token(self, activity_id: int) -> str | None:
        """The live load's token ("0": not lazy; None: not loaded)."""
        token = await self.redis.hget(ReservationKeys(activity_id).state, "lazy")
        return None if token is None else str(token)

    async def load_member(self, activity_id: int, user_id: str, token: str, member: MemberReservations) -> str:
        """Write a member read from SQL (member.lua): ok | loaded (already) | stale."""
        keys = ReservationKeys(activity_id)
        blob = {
            "total": member.total,
            "dates": member.dates,
            "keep": max((r[1] for r in member.reservations), default=MEMBER_KEEP_S),  # a marker alone: a while
            "rsv": [
                [ttl_s, due, code, *(v for kv in fields.items() for v in kv)]
                for code, ttl_s, due, fields in member.reservations
            ],
            "idem": [[key, record] for key, record in member.idempotency],
        }
        reply = await self.batcher.call(
            _member,
            [
                keys.state,
                keys.member(user_id),
                keys.deadlines,
                *(keys.reservation(code) for code, *_ in member.reservations),
            ],
            [token, msgspec.json.encode(blob).decode()],
        )
        return str(reply)

    async def drop_deadline(self, activity_id: int, item: str) -> None:
        """Take an item off the sweep's deadlines (a date of a lazy rebuild, all its codes seen)."""
        await self.redis.zrem(ReservationKeys(activity_id).deadlines, item)

    async def counters(self, activity_id: int) -> ReservationCountersLive:
        keys = ReservationKeys(activity_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.state)
        pipe.hgetall(keys.pools)
        pipe.hgetall(keys.reservation_stats)
        state, pools, stats = await pipe.execute()
        return ReservationCountersLive(
            status=state.get("status"),
            totals={k: int(v) for k, v in state.items() if k.endswith("_total")},
            pools={k: int(v) for k, v in pools.items()},
            stats={k: int(v) for k, v in stats.items()},
            audit_backlog=await AuditStore(self.redis).backlog(keys.events),
        )

    async def load(
        self,
        activity_id: int,
        read: Callable[[], Awaitable[ReservationSnapshot]],
        recover: Callable[[ReservationSnapshot, str], Awaitable[ReservationSnapshot]] | None = None,
    ) -> bool:
        """Rebuild the activity's live state from SQL unless Redis has it (see `load_activity`;
        `recover` holds back units after a loss of Redis state)."""
        keys = ReservationKeys(activity_id)

        def write(pipe: Any, snapshot: ReservationSnapshot) -> None:
            pipe.delete(keys.state, keys.pools, keys.deadlines, keys.reservation_stats)
            hset_chunks(pipe, keys.pools, snapshot.pools)
            hset_chunks(pipe, keys.reservation_stats, snapshot.stats)
            if snapshot.deadlines:
                pipe.zadd(keys.deadlines, snapshot.deadlines)
            pipe.hset(keys.state, mapping=snapshot.state)  # last: the scripts treat it as "loaded"

        return await load_activity(self.redis, keys, read, write, recover)

    async def release(self, activity_id: int, epoch: str, counter: str, units: int) -> str:
        """Give back `units` held back on `counter` ("pool:<date>|<store>")
        by a fail-closed rebuild, if the live state is still that load's."""
        keys = ReservationKeys(activity_id)
        return await release_units(self.redis, keys, keys.pools, counter.partition(":")[2], units, epoch)


def _reply(reply: Any) -> ScriptReply:
    kind = reply[0]
    if kind == "refused":
        return ScriptReply(kind, code=reply[1], detail=reply[2] if len(reply) > 2 else None)
    return ScriptReply(kind, value=reply[1] if len(reply) > 1 else "")
