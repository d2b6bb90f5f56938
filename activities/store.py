"""Redis access of the kernel: operator changes to an activity's state, member points wallets,
and the audit stream reads of the SQL writer; `load_activity` (over `load_once`) is how every
gameplay rebuilds its state from SQL.

This module and the `store.py` of each gameplay package are the only code that talks to Redis.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError, WatchError

from activities.audit_store import AuditStore as AuditStore  # re-exported: gameplays' stores use it
from activities.keys import ActivityKeys, WalletKeys, tag
from activities.scripts import ScriptBatcher, script_beside

_set_status = script_beside(__file__, "set_status.lua")
_set_ends_at = script_beside(__file__, "set_ends_at.lua")
_points = script_beside(__file__, "points.lua")
_release = script_beside(__file__, "release.lua")
_unlock = script_beside(__file__, "unlock.lua")

T = TypeVar("T")
_CHUNK = 1000  # hash fields per HSET while loading


class AuditBacklog(Exception):
    """The stream still holds events not yet in SQL: a rebuild must wait for the audit writer."""


class RebuildInProgress(AuditBacklog):
    """Another process holds the activity's rebuild lock: wait for it rather than rebuild too."""


LOCK_TTL_MS = 30_000  # a rebuild lock outlives a crashed rebuilder by at most this


class ActivityStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def purge(self, activity_id: int) -> int:
        """Delete every key of the activity (its hash tag and its buckets' tags), the streams
        included. Only for an activity that has never been live: whatever Redis holds under its
        id is left over from another database (SQL was reset, Redis was not) and must not leak
        into it."""
        deleted = 0
        for match in (f"{tag(activity_id)}:*", f"{{act:{activity_id}:b*"):
            batch: list[str] = []
            async for key in self.redis.scan_iter(match=match, count=1000):
                batch.append(key)
                if len(batch) == 1000:
                    deleted += await self.redis.delete(*batch)
                    batch = []
            if batch:
                deleted += await self.redis.delete(*batch)
        return deleted

    async def loaded(self, activity_id: int) -> bool:
        return bool(await self.redis.exists(ActivityKeys(activity_id).state))

    async def due(self, activity_id: int, now_ms: int, limit: int) -> list[str]:
        """What a sweep closes whose time has come (the deadlines set), oldest first."""
        found = await self.redis.zrangebyscore(ActivityKeys(activity_id).deadlines, "-inf", now_ms, start=0, num=limit)
        return [str(item) for item in found]

    async def unload(self, activity_id: int, buckets: int = 1) -> None:
        """Forget the live state (its markers, in each of its `buckets`): the next request
        rebuilds it from SQL, and every gameplay's rebuild replaces its own keys."""
        for bucket in reversed(range(buckets)):  # bucket 0 (the marker the kernel reads) last
            await self.redis.delete(ActivityKeys(activity_id, bucket).state)

    async def set_status(self, activity_id: int, status: str, buckets: int = 1) -> None:
        """Change the status if the activity is loaded (in each of its `buckets`: one script per
        slot); otherwise the next load reads it from SQL."""
        for bucket in range(buckets):
            await _set_status(self.redis, [ActivityKeys(activity_id, bucket).state], [status])

    async def set_ends_at(self, activity_id: int, ends_at_ms: int, buckets: int = 1) -> None:
        """A later end time if the activity is loaded (in each of its `buckets`); otherwise the
        next load reads it from SQL."""
        for bucket in range(buckets):
            await _set_ends_at(self.redis, [ActivityKeys(activity_id, bucket).state], [ends_at_ms])


@dataclass(frozen=True)
class WalletReply:
    kind: str  # ok | replay | mismatch | insufficient | no_original | not_loaded
    balance: int | None = None


class WalletStore:
    """Member points balances in Redis, one script per change (coalesced with the other scripts
    of the same event-loop tick)."""

    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher

    @property
    def redis(self) -> aioredis.Redis:
        return self.batcher.redis

    async def apply(
        self,
        user_id: str,
        delta: int,
        ref: str,
        reason: str,
        now_ms: int,
        *,
        activity_id: int = 0,
        refund_of: str | None = None,
        ref_ttl_s: int = 7 * 24 * 3600,
        fingerprint: str = "",
    ) -> WalletReply:
        keys = WalletKeys.of(user_id)
        reply = await self.batcher.call(
            _points,
            [keys.balances, keys.loaded, keys.entry(ref), keys.events, keys.entry(refund_of or ref)],
            [user_id, delta, ref, reason, now_ms, activity_id, ref_ttl_s, "refund" if refund_of else "", fingerprint],
        )
        return WalletReply(reply[0], int(reply[1]) if len(reply) > 1 else None)

    async def balance(self, user_id: str) -> int | None:
        """None if the shard is not loaded."""
        keys = WalletKeys.of(user_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(keys.loaded)
        pipe.hget(keys.balances, user_id)
        loaded, balance = await pipe.execute()
        return int(balance or 0) if loaded else None

    async def load(self, shard: int, read_balances: Callable[[], Awaitable[dict[str, int]]]) -> bool:
        """Load one shard's balances from SQL unless loaded (see `load_once`)."""
        keys = WalletKeys(shard)

        def write(pipe: Any, balances: dict[str, int]) -> None:
            pipe.delete(keys.balances)
            hset_chunks(pipe, keys.balances, balances)
            pipe.set(keys.loaded, 1)

        return await load_once(self.redis, marker=keys.loaded, stream=keys.events, read=read_balances, write=write)


async def load_activity(
    redis: aioredis.Redis,
    keys: ActivityKeys,
    read: Callable[[], Awaitable[T]],
    write: Callable[[Any, T], None],
    recover: Callable[[T, str], Awaitable[T]] | None = None,
    *,
    streams: Sequence[str] = (),
    before_write: Callable[[T, str], Awaitable[None]] | None = None,
) -> bool:
    """`load_once` for an activity of any gameplay: its state hash is the marker, its stream the
    backlog to wait for (and `streams`, its buckets' streams), its lock and epoch the activity's.
    `before_write(data, epoch)` writes what lives in other slots (its buckets) before the marker."""
    return await load_once(
        redis,
        marker=keys.state,
        stream=keys.events,
        read=read,
        write=write,
        activity=keys,
        recover=recover,
        streams=streams,
        before_write=before_write,
    )


async def load_once(
    redis: aioredis.Redis,
    *,
    marker: str,
    stream: str,
    read: Callable[[], Awaitable[T]],
    write: Callable[[Any, T], None],
    activity: ActivityKeys | None = None,
    recover: Callable[[T, str], Awaitable[T]] | None = None,
    streams: Sequence[str] = (),
    before_write: Callable[[T, str], Awaitable[None]] | None = None,
) -> bool:
    """Rebuild live state from SQL unless `marker` exists. Returns True if this call loaded it.

    For an activity (`activity` given), one process at a time rebuilds: it holds the activity's
    lock (SET NX PX with a token, deleted only by its holder); another process gets
    RebuildInProgress. The SQL read runs with no Redis connection held. If Redis has no epoch for
    the activity (flushed, or never loaded), `recover(data, new_epoch)` decides from SQL whether
    the state was lost, and holds back what the unwritten window may have granted; the new epoch
    is written with the state. WATCH on the marker keeps concurrent loaders without a lock (the
    wallet shards) safe: whoever commits first wins. Raises AuditBacklog while `stream` still
    holds events SQL lacks (the state was lost but the stream was not): a snapshot then would
    undercount.
    """
    if await redis.exists(marker):
        return False
    token = secrets.token_hex(8)
    if activity is not None and not await redis.set(activity.loading, token, nx=True, px=LOCK_TTL_MS):
        raise RebuildInProgress(0)
    try:
        if await redis.exists(marker):  # loaded by the lock's previous holder
            return False
        audit = AuditStore(redis)
        await audit.ensure_group(stream)
        for each in (stream, *streams):
            if each != stream:
                await audit.ensure_group(each)
            if backlog := await audit.backlog(each):
                # Scripts write events only once the marker exists: a backlog with the marker present
                # means a concurrent caller has just loaded the state, not that it was lost.
                if await redis.exists(marker):
                    return False
                raise AuditBacklog(backlog)
        epoch = await redis.get(activity.epoch) if activity is not None else None
        data = await read()
        if activity is not None and epoch is None:
            epoch = token
            if recover is not None:
                data = await recover(data, epoch)
        if before_write is not None:
            await before_write(data, str(epoch))
        async with redis.pipeline(transaction=True) as pipe:
            await pipe.watch(marker)
            if await pipe.exists(marker):
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            write(pipe, data)
            if activity is not None:
                pipe.set(activity.epoch, str(epoch))
            try:
                await pipe.execute()
            except WatchError:
                return False
        return True
    finally:
        if activity is not None:
            with contextlib.suppress(RedisError):  # unreachable: the lock expires by itself
                await _unlock(redis, [activity.loading], [token])


async def release_units(
    redis: aioredis.Redis, keys: ActivityKeys, hash_key: str, field: str, delta: int, epoch: str
) -> str:
    """HINCRBY `hash_key` `field` by `delta` if the live state is still the load of `epoch`."""
    return str(await _release(redis, [keys.epoch, hash_key], [epoch, field, delta]))


def hset_chunks(pipe: Any, key: str, mapping: Mapping[Any, int | str]) -> None:
    """HSET a mapping of any size, a bounded number of fields per command."""
    items = [(str(k), v) for k, v in mapping.items()]
    for start in range(0, len(items), _CHUNK):
        pipe.hset(key, mapping=dict(items[start : start + _CHUNK]))
