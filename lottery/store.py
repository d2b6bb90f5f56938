"""Redis access of the lottery (its only Redis caller): the draw script (sent through the per-tick
pipeline batcher), the two ways other activities reward members from a lottery (a prize granted
from its pool, draw chances), and its live state: rebuilt from SQL, stock added, counters read."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any, Literal
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from activities.clock import day_end_ms, local_day
from activities.metrics import STOCK_MOVES
from activities.scripts import WINDOW, ScriptBatcher, script_beside
from activities.service import DAY_KEY_GRACE_MS, IDEMPOTENCY_TTL_S
from activities.store import hset_chunks, load_activity, release_units
from lottery.buckets import split
from lottery.keys import LotteryKeys
from lottery.pacing import FIRST, Periods
from lottery.snapshot import MemberState, Snapshot, state_fields
from lottery.store_buckets import FALLOVER_ATTEMPTS, Buckets
from lottery.store_buckets import LiveCounters as LiveCounters  # re-exported (lottery/admin.py)

_draw = script_beside(__file__, "draw.lua", prelude=WINDOW, group_size=20)  # ARGV: 20 per draw
_grant = script_beside(__file__, "grant.lua")
_chances = script_beside(__file__, "chances.lua")
_add_stock = script_beside(__file__, "add_stock.lua")
_member = script_beside(__file__, "member.lua")
_set_versions = script_beside(__file__, "set_versions.lua")
Payment = Literal["chance_or_free", "chance_or_pay", "paid"]  # see draw.lua, ARGV[10]


@dataclass(frozen=True)
class DrawRequest:
    activity_id: int
    user_id: str
    draw_id: str
    rand: int
    now_ms: int
    day: date
    day_ttl_ms: int
    fingerprint: str
    idempotency_key: str
    idempotency_ttl_s: int
    payment: Payment = "chance_or_free"
    weights: str = ""  # the member's A/B variant's weights, "w1,w2,..." in prize order ("": the table's)
    variant: str = ""
    channel: str = ""
    source: str = ""
    version: str = ""  # the config version `rand` was derived for (draw.lua ARGV[19]; "": no check)
    periods: Periods = FIRST  # the release period of now_ms (lottery/pacing.py)
    values: str = ""  # the A/B variant's prize values in fen, "v1,v2,..." in prize order ("": the table's)
    # The earlier local days whose draws a replay may still answer (`draws_done_days`; None: the
    # day before), and the time to live of today's hash of draws (0: day_ttl_ms).
    earlier_days: tuple[date, ...] | None = None
    done_ttl_ms: int = 0


def draws_done_days(now_ms: int, day: date, window_s: int, tz: ZoneInfo) -> tuple[date, ...]:
    """The local days before `day` that a draw of the last `window_s` seconds may have been made
    on (draw.lua KEYS[14..]), newest first: the day before alone for the default day window."""
    oldest = local_day(now_ms - window_s * 1000, tz)
    return tuple(day - timedelta(days=n) for n in range(1, (day - oldest).days + 1))


def done_ttl_ms(now_ms: int, day: date, window_s: int, tz: ZoneInfo) -> int:
    """Time to live of the hash of the draws of `day`: the window after the day's end."""
    return day_end_ms(day, tz) + window_s * 1000 - now_ms


@dataclass(frozen=True)
class DrawRecord:
    draw_id: str
    prize_id: int
    picked_prize_id: int
    left_today: int | None
    left_total: int | None
    drawn_at_ms: int
    kind: str = "draw"  # draw | chance (paid with a draw chance) | grant (see lottery/db.py DRAW_KINDS)


@dataclass(frozen=True)
class DrawReply:
    """What the script answered: kind is ok | replay | mismatch | not_loaded | member_not_loaded |
    payment_required | refused."""

    kind: str
    record: DrawRecord | None = None
    code: str | None = None
    detail: str | None = None
    chances_left: int = 0


@dataclass(frozen=True)
class GrantReply:
    """kind is ok | replay | not_loaded | member_not_loaded | unknown_prize; prize_id is what the member got."""

    kind: str
    grant_id: str = ""
    prize_id: int = 0
    picked_prize_id: int = 0


@dataclass(frozen=True)
class ChancesReply:
    kind: str  # ok | replay | not_loaded | member_not_loaded
    chances_left: int = 0


def _limit(raw: str) -> int | None:
    value = int(raw)
    return None if value < 0 else value


class DrawStore:
    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher
        self.buckets = Buckets(batcher)  # bucketed stock (lottery/buckets.py)

    @property
    def redis(self) -> aioredis.Redis:
        return self.batcher.redis

    async def draw(self, request: DrawRequest) -> DrawReply:
        keys = await self.buckets.keys(request.activity_id, request.user_id)  # the member's bucket
        earlier = request.earlier_days
        if earlier is None:
            earlier = (request.day - timedelta(days=1),)
        script_keys: list[str]
        argv: list[str | int]
        script_keys, argv = (
            [
                keys.state,
                keys.stock,
                keys.granted,
                keys.user_total,
                keys.user_prize,
                keys.user_day(request.day),
                keys.day(request.day),
                keys.draws_done(request.day),
                keys.events,
                keys.chances,
                keys.pity,
                keys.pacing,
                keys.members,
                *(keys.draws_done(day) for day in earlier),
            ],
            [
                request.user_id,
                request.draw_id,
                request.rand,
                request.now_ms,
                request.day.isoformat(),
                request.day_ttl_ms,
                request.fingerprint,
                request.idempotency_key,
                request.idempotency_ttl_s,
                request.payment,
                request.weights,
                request.variant,
                request.channel,
                request.source,
                "",  # ARGV[15]: "settle" (bucketed stock, below); ARGV[16]: unused (reserved)
                "",
                f"{request.periods.hour} {request.periods.day}",  # ARGV[17], ARGV[18]: pacing (release, budget)
                request.values,
                request.version,
                request.done_ttl_ms or request.day_ttl_ms,
            ],
        )
        for attempt in range(FALLOVER_ATTEMPTS + 1):
            if attempt == FALLOVER_ATTEMPTS:
                argv[14] = "settle"
                STOCK_MOVES.labels("settled").inc()
            reply = await self.batcher.call(_draw, script_keys, argv)
            if reply[0] != "bucket_empty":
                break
            await self.buckets.refill(request.activity_id, keys.bucket, int(reply[1]))
        kind = reply[0]
        if kind in ("ok", "replay"):
            draw_id, prize_id, picked, left_today, left_total, drawn_at, draw_kind, chances_left = reply[1:9]
            record = DrawRecord(
                draw_id=draw_id,
                prize_id=int(prize_id),
                picked_prize_id=int(picked),
                left_today=_limit(left_today),
                left_total=_limit(left_total),
                drawn_at_ms=int(drawn_at),
                kind=draw_kind,
            )
            return DrawReply(kind, record=record, chances_left=int(chances_left))
        if kind == "refused":
            return DrawReply(kind, code=reply[1], detail=reply[2] if len(reply) > 2 else None)
        if kind == "stale_version":
            return DrawReply(kind, code=reply[1])
        return DrawReply(kind)

    async def grant(
        self,
        activity_id: int,
        user_id: str,
        prize_id: int,
        grant_id: str,
        now_ms: int,
        day: date,
        day_ttl_ms: int,
        ref: str,
        ref_ttl_s: int,
        version: int = 0,
        periods: Periods = FIRST,
    ) -> GrantReply:
        keys = await self.buckets.keys(activity_id, user_id)
        script_keys: list[str]
        argv: list[str | int]
        script_keys, argv = (
            [
                keys.state,
                keys.stock,
                keys.granted,
                keys.user_prize,
                keys.day(day),
                keys.grant_ref(ref),
                keys.events,
                keys.members,
                keys.pacing,
            ],
            [user_id, prize_id, grant_id, now_ms, day.isoformat(), day_ttl_ms, ref, ref_ttl_s, version, *periods.argv],
        )
        for attempt in range(FALLOVER_ATTEMPTS + 1):
            reply = await self.batcher.call(
                _grant, script_keys, [*argv, "settle" if attempt == FALLOVER_ATTEMPTS else ""]
            )
            if reply[0] != "bucket_empty":
                break
            await self.buckets.refill(activity_id, keys.bucket, int(reply[1]))
        if reply[0] in ("ok", "replay"):
            return GrantReply(reply[0], grant_id=reply[1], prize_id=int(reply[2]), picked_prize_id=int(reply[3]))
        return GrantReply(reply[0])

    async def credit_chances(
        self, activity_id: int, user_id: str, chances: int, ref: str, reason: str, now_ms: int, ref_ttl_s: int
    ) -> ChancesReply:
        keys = await self.buckets.keys(activity_id, user_id)
        reply = await self.batcher.call(
            _chances,
            [keys.state, keys.chances, keys.chance_ref(ref), keys.events, keys.members],
            [user_id, chances, ref, reason, now_ms, ref_ttl_s],
        )
        return ChancesReply(reply[0], int(reply[1]) if len(reply) > 1 else 0)

    async def chances_of(self, activity_id: int, user_id: str) -> ChancesReply:
        """A member's chances left: kind ok, or not_loaded | member_not_loaded (load, then ask again)."""
        keys = await self.buckets.keys(activity_id, user_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(keys.state, ["status", "lazy"])
        pipe.hexists(keys.members, user_id)
        pipe.hget(keys.chances, user_id)
        (status, lazy), member, chances = await pipe.execute()
        if status is None:
            return ChancesReply("not_loaded")
        if lazy not in (None, "0") and not member:
            return ChancesReply("member_not_loaded")
        return ChancesReply("ok", int(chances or 0))

    async def lazy_token(self, activity_id: int, user_id: str = "") -> str | None:
        """The live load's token if members are loaded lazily ("0": they are not; None: not
        loaded), in the member's bucket."""
        token = await self.redis.hget((await self.buckets.keys(activity_id, user_id)).state, "lazy")
        return None if token is None else str(token)

    async def load_member(
        self, activity_id: int, user_id: str, token: str, day: date, day_ttl_ms: int, member: MemberState
    ) -> str:
        """Write one member's state read from SQL (member.lua) in its bucket: ok | loaded | stale."""
        keys = await self.buckets.keys(activity_id, user_id)
        records = [(keys.draws_done(d), f"{user_id} {key}", rec, ttl_ms) for d, key, rec, ttl_ms in member.idempotency]
        records += [(keys.grant_ref(ref), "", record, ttl_s) for ref, record, ttl_s in member.grant_refs]
        records += [(keys.chance_ref(ref), "", "1", ttl_s) for ref, ttl_s in member.chance_refs]
        wins = json.dumps({str(p): n for p, n in member.user_prize.items()}) if member.user_prize else "{}"
        args: list[str | int] = [user_id, token, member.user_total, member.user_today, day_ttl_ms, member.chances, wins]
        args.append(member.pity_streak)
        for _, name, value, ttl in records:
            args += [name, value, ttl]
        script_keys = [keys.state, keys.members, keys.user_total, keys.user_day(day), keys.user_prize, keys.chances]
        script_keys.append(keys.pity)
        return str(await _member(self.redis, script_keys + [key for key, _, _, _ in records], args))

    async def load(
        self,
        activity_id: int,
        read_snapshot: Callable[[], Awaitable[Snapshot]],
        recover: Callable[[Snapshot, str], Awaitable[Snapshot]] | None = None,
    ) -> bool:
        """Load a lottery's state from SQL unless it is already there (see `load_once`), in each
        of its buckets (lottery/store_buckets.py)."""
        keys = LotteryKeys(activity_id)
        if (k := await self.buckets.count(activity_id)) > 1:
            return await self.buckets.load(activity_id, k, read_snapshot, recover, _write_snapshot)
        return await load_activity(self.redis, keys, read_snapshot, partial(_write_snapshot, keys), recover)

    async def release(self, activity_id: int, epoch: str, counter: str, units: int) -> str:
        """Give back `units` a fail-closed rebuild held back (lottery/recovery.py names the
        counters: "stock:<prize>", "daily:<prize>:<day>", "draws:<day>"), split over the
        lottery's buckets like the rest of what a load splits (lottery/buckets.py)."""
        k = await self.buckets.count(activity_id)
        answers = [
            await self._release(LotteryKeys(activity_id, b), epoch, counter, share)
            for b, share in enumerate(split(units, k) if k > 1 else [units])
        ]
        if k > 1 and counter.startswith("stock:"):
            await self.buckets.spread(activity_id, int(counter.partition(":")[2]), 0)  # clears the out marks
        return next((answer for answer in answers if answer != "ok"), "ok")

    async def _release(self, keys: LotteryKeys, epoch: str, counter: str, units: int) -> str:
        kind, _, rest = counter.partition(":")
        if kind == "budget":  # lottery/pacing.py: held fen were counted as spent
            return await release_units(self.redis, keys, keys.pacing, "spent", -units, epoch)
        if kind == "release":  # held units were counted against the release plan
            return await release_units(self.redis, keys, keys.pacing, f"r:{rest}", -units, epoch)
        if kind == "stock":
            return await release_units(self.redis, keys, keys.stock, rest, units, epoch)
        prize, _, day = rest.rpartition(":")
        field = "draws" if kind == "draws" else prize
        return await release_units(self.redis, keys, keys.day(date.fromisoformat(day)), field, -units, epoch)

    async def add_stock(self, activity_id: int, prize_id: int, total: int, units: int = 0) -> int:
        """Bring the prize's live stock up to its SQL `total` (idempotent: see add_stock.lua).
        Returns the units it added (-1: the activity is not loaded)."""
        keys = LotteryKeys(activity_id)
        added = int(await _add_stock(self.redis, [keys.state, keys.stock], [prize_id, total, units]))
        if added > 0 and await self.buckets.count(activity_id) > 1:  # bucket 0's, spread (lottery/buckets.py)
            await self.buckets.spread(activity_id, prize_id, added)
        return added

    async def set_versions(self, activity_id: int, config_version: int, next_versions: str | list[str]) -> bool:
        """Tell the draw script a lottery's config versions (a live change, or a repair after
        one whose Redis step failed): one `next_versions` per bucket (lottery/buckets.py
        `versions_of`). False: the lottery is not loaded (its rebuild reads them)."""
        fields = [next_versions] if isinstance(next_versions, str) else next_versions
        done = [
            bool(await _set_versions(self.redis, [LotteryKeys(activity_id, b).state], [config_version, field]))
            for b, field in enumerate(fields)
        ]
        return all(done)

    async def counters(self, activity_id: int, day: date) -> LiveCounters:
        return await self.buckets.counters(activity_id, day)


def _write_snapshot(keys: LotteryKeys, pipe: Any, snapshot: Snapshot) -> None:
    """Queue the commands that replace a lottery's live state with `snapshot`."""
    pipe.delete(*keys.all_static)
    hset_chunks(pipe, keys.stock, snapshot.stock_left())
    hset_chunks(pipe, keys.granted, snapshot.granted)
    hset_chunks(pipe, keys.pacing, {"spent": snapshot.spent_fen, **snapshot.paced})
    day_key, user_day_key = keys.day(snapshot.day), keys.user_day(snapshot.day)
    pipe.delete(day_key, user_day_key)
    day_fields: dict[str, int] = {str(p): n for p, n in snapshot.granted_today.items()}
    day_fields["draws"] = snapshot.draws_today
    hset_chunks(pipe, day_key, day_fields)
    pipe.pexpire(day_key, snapshot.day_ttl_ms)
    # Today's hash of draws (idempotency records) expires once, set by the day's first draw: after
    # a rebuild that day's "draws" may already count, so create it here with its expiry (a field
    # no draw uses).
    done_key = keys.draws_done(snapshot.day)
    pipe.hset(done_key, "", "")
    pipe.pexpire(done_key, snapshot.day_ttl_ms - DAY_KEY_GRACE_MS + IDEMPOTENCY_TTL_S * 1000)
    # Members (their counters, idempotency records, references) are loaded on their first
    # request (lottery/members.py), or start from zero when SQL holds nothing of them (lazy "0").
    state: dict[Any, Any] = state_fields(snapshot.activity)
    state["draws_total"] = snapshot.draws_total
    state["lazy"] = snapshot.lazy
    state.update(snapshot.state_extra)  # a bucket's (lottery/buckets.py)
    pipe.hset(keys.state, mapping=state)  # last: the scripts treat it as "loaded"
