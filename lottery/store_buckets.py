"""The bucket half of the lottery's store (bucketed stock, lottery/buckets.py): with store.py, the
lottery's only Redis callers. How many buckets a lottery has, the fallover that moves units
between buckets, and what reads or writes the live state of every bucket (a rebuild, the
counters, added stock, config versions)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import redis.asyncio as aioredis

from activities.metrics import STOCK_MOVES
from activities.scripts import ScriptBatcher, script_beside
from activities.store import AuditStore, RebuildInProgress, load_activity
from lottery.buckets import bucket_of, bucket_snapshots, split
from lottery.keys import LotteryKeys
from lottery.snapshot import Snapshot

_take = script_beside(__file__, "take.lua")
_give = script_beside(__file__, "give.lua")

FALLOVER_ATTEMPTS = 8  # bucket_empty answers one call may meet before it settles for the fallback

WriteSnapshot = Callable[[LotteryKeys, Any, Snapshot], None]


@dataclass(frozen=True)
class LiveCounters:
    status: str | None  # None: not loaded in Redis
    draws_total: int
    draws_today: int
    stock_left: dict[int, int]
    granted: dict[int, int]
    granted_today: dict[int, int]
    audit_backlog: int
    audit_lag_ms: int = 0  # age of the oldest event not yet in SQL
    pacing: dict[str, int] = field(default_factory=dict)  # "spent" and release counters (lottery/pacing.py)


class Buckets:
    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher
        self._known: dict[int, int] = {}  # activity id -> buckets (fixed once published)
        self._movers: dict[tuple[int, int], asyncio.Lock] = {}  # (activity, prize): one mover at a time
        self._reading: dict[int, asyncio.Future[int]] = {}

    @property
    def redis(self) -> aioredis.Redis:
        return self.batcher.redis

    def remember(self, activity_id: int, buckets: int) -> None:
        """The lottery's bucket count as SQL has it (lottery/admin.py reads it with the lottery)."""
        self._known[activity_id] = buckets

    async def count(self, activity_id: int) -> int:
        """How many buckets the lottery has: as read from SQL, else as its live state says (one
        read at a time per activity: the calls waiting for it go on together, in one tick, so
        that the script batcher still groups them)."""
        known = self._known.get(activity_id)
        if known is not None:
            return known
        reading = self._reading.get(activity_id)
        if reading is None:
            reading = asyncio.ensure_future(self._read_count(activity_id))
            self._reading[activity_id] = reading
            reading.add_done_callback(lambda _: self._reading.pop(activity_id, None))
        return await asyncio.shield(reading)

    async def _read_count(self, activity_id: int) -> int:
        status, raw = await self.redis.hmget(LotteryKeys(activity_id).state, ["status", "buckets"])
        if status is None:  # not loaded: the next read of the lottery (or of its state) tells
            return 1
        self._known[activity_id] = int(raw or 1)
        return int(raw or 1)

    async def keys(self, activity_id: int, user_id: str) -> LotteryKeys:
        """The keys of the member's bucket."""
        return LotteryKeys(activity_id, bucket_of(user_id, await self.count(activity_id)))

    async def refill(self, activity_id: int, bucket: int, prize_id: int) -> None:
        """Units of `prize_id` for `bucket`, which has none: half of what the first other bucket
        holding some has (take.lua, then give.lua), or the prize marked out in `bucket` when no
        other bucket had any. One mover per (activity, prize) at a time in this process: the
        draws that met the same empty bucket wait for it, then find units (or the mark)."""
        k = await self.count(activity_id)
        lock = self._movers.setdefault((activity_id, prize_id), asyncio.Lock())
        async with lock:
            keys = LotteryKeys(activity_id, bucket)
            pipe = self.redis.pipeline(transaction=False)
            pipe.hget(keys.stock, str(prize_id))
            pipe.hmget(keys.state, ["load", f"out:{prize_id}"])
            held, (token, out) = await pipe.execute()
            if token is None or out is not None or int(held or 0) > 0:
                return  # not loaded (the draw says so), marked out, or refilled meanwhile
            for step in range(1, k):
                donor = LotteryKeys(activity_id, (bucket + step) % k)
                taken, donor_token = await _take(self.redis, [donor.state, donor.stock], [prize_id, 0])
                if int(taken) == 0:
                    continue
                if donor_token != token:  # one of the two was rebuilt meanwhile: the units go back
                    await _give(self.redis, [donor.state, donor.stock], [prize_id, taken, donor_token, ""])
                    return
                if int(await _give(self.redis, [keys.state, keys.stock], [prize_id, taken, token, ""])) < 0:
                    # this bucket was rebuilt meanwhile: the units go back (dropped if the donor was too)
                    await _give(self.redis, [donor.state, donor.stock], [prize_id, taken, donor_token, ""])
                    return
                STOCK_MOVES.labels("moved").inc()
                return
            await _give(self.redis, [keys.state, keys.stock], [prize_id, 0, token, "1"])
            STOCK_MOVES.labels("out").inc()

    async def spread(self, activity_id: int, prize_id: int, units: int) -> None:
        """Units just added to bucket 0 (add_stock.lua): the `out` marks cleared in every bucket,
        then each other bucket's share moved to it."""
        k = await self.count(activity_id)
        first = LotteryKeys(activity_id)
        for bucket in range(k):
            await self.redis.hdel(LotteryKeys(activity_id, bucket).state, f"out:{prize_id}")
        for bucket, share in enumerate(split(units, k)):
            if bucket == 0 or share == 0:
                continue
            taken, token = await _take(self.redis, [first.state, first.stock], [prize_id, share])
            if int(taken) > 0:
                to = LotteryKeys(activity_id, bucket)
                if int(await _give(self.redis, [to.state, to.stock], [prize_id, taken, token, ""])) < 0:
                    await _give(self.redis, [first.state, first.stock], [prize_id, taken, token, ""])

    async def load(
        self,
        activity_id: int,
        k: int,
        read: Callable[[], Awaitable[Snapshot]],
        recover: Callable[[Snapshot, str], Awaitable[Snapshot]] | None,
        write: WriteSnapshot,
    ) -> bool:
        """`load_activity` over every bucket: bucket 0's state is the marker (written last, with
        the epoch); the others are written just before it, each in its own transaction (its own
        slot). A load finding some buckets but not all deletes the others first (the draws of
        every bucket stop until the rebuild); if a bucket's stream is gone too (a node lost its
        data), the epoch goes with them: the rebuild is a fail-closed recovery."""
        every = [LotteryKeys(activity_id, b) for b in range(k)]
        present = [bool(await self.redis.exists(keys.state)) for keys in every]
        if all(present):
            return False
        if any(present):
            if await self.redis.exists(every[0].loading):
                raise RebuildInProgress(0)  # another process is writing the buckets
            lost = [not await self.redis.exists(keys.events) for keys in every]
            if any(lost) and present[0]:
                await self.redis.delete(every[0].epoch)
            for keys in every[1:]:
                await self.redis.delete(keys.state)
            await self.redis.delete(every[0].state)
        token = secrets.token_hex(8)
        parts: list[Snapshot] = []

        async def before_write(snapshot: Snapshot, epoch: str) -> None:
            parts[:] = bucket_snapshots(snapshot, k, token)
            for keys, part in zip(every[1:], parts[1:], strict=True):
                async with self.redis.pipeline(transaction=True) as pipe:
                    await pipe.watch(keys.state)  # a cluster transaction names its slot first
                    pipe.multi()  # type: ignore[no-untyped-call]
                    write(keys, pipe, part)
                    pipe.set(keys.epoch, epoch)  # the load's epoch in each slot (`release`)
                    await pipe.execute()

        def write_first(pipe: Any, snapshot: Snapshot) -> None:
            write(every[0], pipe, parts[0])

        streams = [keys.events for keys in every[1:]]
        return await load_activity(
            self.redis, every[0], read, write_first, recover, streams=streams, before_write=before_write
        )

    async def counters(self, activity_id: int, day: date) -> LiveCounters:
        """The live counters, summed over the lottery's buckets (lottery/buckets.py); the status
        is bucket 0's (None: some bucket is not loaded)."""
        every = [LotteryKeys(activity_id, b) for b in range(await self.count(activity_id))]
        status: str | None = ""
        totals: dict[str, dict[str, int]] = {"stock": {}, "granted": {}, "today": {}, "pacing": {}}
        draws_total = 0
        for keys in every:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hmget(keys.state, ["status", "draws_total"])
            pipe.hgetall(keys.stock)
            pipe.hgetall(keys.granted)
            pipe.hgetall(keys.day(day))
            pipe.hgetall(keys.pacing)
            status_total, *hashes = await pipe.execute()
            status = status_total[0] if status_total[0] is None or keys.bucket == 0 else status
            draws_total += int(status_total[1] or 0)
            for name, found in zip(totals, hashes, strict=True):
                for counter, value in found.items():
                    totals[name][counter] = totals[name].get(counter, 0) + int(value)
        backlogs = (await AuditStore(self.redis).backlog_many([keys.events for keys in every])).values()
        today = totals["today"]
        draws_today = today.pop("draws", 0)
        return LiveCounters(
            status=status,
            draws_total=draws_total,
            draws_today=draws_today,
            stock_left=_int_map(totals["stock"]),
            granted=_int_map(totals["granted"]),
            granted_today=_int_map(today),
            audit_backlog=sum(b.entries for b in backlogs),
            audit_lag_ms=max((b.lag_ms for b in backlogs), default=0),
            pacing=totals["pacing"],
        )


def _int_map(raw: dict[str, str] | dict[str, int]) -> dict[int, int]:
    return {int(k): int(v) for k, v in raw.items()}
