"""Redis access of the audit pipeline: the streams every state-changing script appends to, read
by the SQL audit writer through its consumer group, acknowledged after commit, trimmed once
acknowledged, and measured (backlog and lag) with bounded work.

Like each `store.py`, the only code of its package that talks to Redis besides `store.py`
(which re-exports `AuditStore`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from activities.keys import AUDIT_GROUP


@dataclass(frozen=True)
class StreamBacklog:
    """What of a stream is not yet in SQL, from O(1) summaries and one bounded read."""

    pending: int  # delivered to a writer, not yet acknowledged
    undelivered: int  # exact up to UNDELIVERED_SCAN entries; beyond, an upper bound (see `backlog_many`)
    lag_ms: int  # age of the oldest entry not yet in SQL (0: none)

    @property
    def entries(self) -> int:
        return self.pending + self.undelivered


UNDELIVERED_SCAN = 100  # entries read at most per stream to count the undelivered ones exactly
_NO_BACKLOG = StreamBacklog(0, 0, 0)


class AuditStore:
    """The audit streams, by key: activity streams and wallet shard streams alike. Calls on many
    streams are pipelined (one round trip, still one stream and so one slot per command)."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def ensure_group(self, stream: str) -> None:
        try:
            # From id 0: a group created after events were written still sees all of them.
            await self.redis.xgroup_create(stream, AUDIT_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read_new(self, stream: str, consumer: str, count: int) -> list[tuple[str, dict[str, str]]]:
        return (await self.read_new_many([stream], consumer, count)).get(stream, [])

    async def read_new_many(
        self, streams: list[str], consumer: str, count: int, *, own_pending: bool = False
    ) -> dict[str, list[tuple[str, dict[str, str]]]]:
        """`read_new` on many streams in one round trip; with `own_pending`, the entries this
        consumer read and has not acknowledged yet (after a failed write) instead."""
        pipe = self.redis.pipeline(transaction=False)
        for stream in streams:
            pipe.xreadgroup(AUDIT_GROUP, consumer, {stream: "0" if own_pending else ">"}, count=count)
        replies = await pipe.execute(raise_on_error=False)
        entries: dict[str, list[tuple[str, dict[str, str]]]] = {}
        for stream, reply in zip(streams, replies, strict=True):
            if isinstance(reply, ResponseError) and "NOGROUP" in str(reply):
                await self.ensure_group(stream)  # Redis was flushed or restarted empty
            elif isinstance(reply, Exception):
                raise reply
            elif reply:
                entries[stream] = _entries(reply)
        return entries

    async def claim_stale(
        self, stream: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[tuple[str, dict[str, str]]]:
        """Take over entries another consumer read but never acknowledged (it died)."""
        return (await self.claim_stale_many([stream], consumer, min_idle_ms, count)).get(stream, [])

    async def claim_stale_many(
        self, streams: list[str], consumer: str, min_idle_ms: int, count: int
    ) -> dict[str, list[tuple[str, dict[str, str]]]]:
        pipe = self.redis.pipeline(transaction=False)
        for stream in streams:
            pipe.xautoclaim(stream, AUDIT_GROUP, consumer, min_idle_ms, "0-0", count=count)
        replies = await pipe.execute(raise_on_error=False)
        claimed: dict[str, list[tuple[str, dict[str, str]]]] = {}
        for stream, reply in zip(streams, replies, strict=True):
            if isinstance(reply, ResponseError):
                if "NOGROUP" not in str(reply):
                    raise reply
                continue  # no stream or no group yet: nothing to claim
            if isinstance(reply, Exception):
                raise reply
            found = [(entry_id, fields) for entry_id, fields in reply[1] if fields is not None]
            if found:
                claimed[stream] = found
        return claimed

    async def acknowledge(self, stream: str, entry_ids: list[str]) -> None:
        await self.acknowledge_many({stream: entry_ids})

    async def acknowledge_many(self, entry_ids: Mapping[str, list[str]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for stream, ids in entry_ids.items():
            if ids:
                pipe.xack(stream, AUDIT_GROUP, *ids)
        await pipe.execute()

    async def trim(self, stream: str) -> int:
        """Drop only what is acknowledged (see `trim_many`). Returns the entries removed."""
        return await self.trim_many([stream])

    async def trim_many(self, streams: list[str]) -> int:
        """Drop only what is acknowledged: everything older than the oldest pending entry, or,
        when nothing is pending, older than the last entry delivered to the group (entries after
        it were never read, so they are kept too). Two round trips for all the streams.

        The group's last-delivered id is read before XPENDING: an entry delivered in between
        has a later id than the one read, so it is kept either way."""
        pipe = self.redis.pipeline(transaction=False)
        for stream in streams:
            pipe.xinfo_groups(stream)
            pipe.xpending(stream, AUDIT_GROUP)
        replies = await pipe.execute(raise_on_error=False)
        pipe = self.redis.pipeline(transaction=False)
        for index, stream in enumerate(streams):
            groups, summary = replies[2 * index], replies[2 * index + 1]
            if isinstance(groups, Exception) or isinstance(summary, Exception):
                continue  # no stream or no group (a flushed Redis): nothing to trim
            delivered = _last_delivered(groups)
            if delivered is None:
                continue
            keep_from = summary["min"] if summary["pending"] else delivered
            pipe.execute_command("XTRIM", stream, "MINID", keep_from)
        return sum(int(n) for n in await pipe.execute()) if len(pipe) else 0

    async def backlog(self, stream: str) -> int:
        """Entries not yet written to SQL: pending in the group plus not yet delivered. Bounded
        work whatever the backlog (see `backlog_many`)."""
        return (await self.backlog_many([stream]))[stream].entries

    async def backlog_many(self, streams: list[str]) -> dict[str, StreamBacklog]:
        """Pending entries (XPENDING's summary), undelivered ones and the age of the oldest entry
        not yet in SQL, per stream, in two round trips of bounded work.

        Redis 6.2's XINFO GROUPS has no `lag`: the entries after the group's last-delivered id
        are read, at most UNDELIVERED_SCAN of them. When there are more, the count is the
        stream's length less the pending entries, an upper bound that also counts acknowledged
        entries the last trim left (at most a trim interval's worth)."""
        pipe = self.redis.pipeline(transaction=False)
        clustered = isinstance(self.redis, RedisCluster)
        if not clustered:
            pipe.time()
        for stream in streams:
            pipe.xinfo_groups(stream)
            pipe.xpending(stream, AUDIT_GROUP)
            pipe.xlen(stream)
        first = await pipe.execute(raise_on_error=False)
        if clustered:  # a cluster pipeline carries keyed commands only: TIME of any node apart
            first.insert(0, await self.redis.time())
        if isinstance(first[0], Exception):
            raise first[0]
        seconds, micros = first[0]
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        pipe = self.redis.pipeline(transaction=False)
        scanned: list[tuple[str, int, int, int | None]] = []  # stream, pending, length, oldest pending ms
        result: dict[str, StreamBacklog] = {}
        for index, stream in enumerate(streams):
            groups, summary, length = first[1 + 3 * index : 4 + 3 * index]
            if isinstance(groups, Exception) or isinstance(length, Exception):
                result[stream] = _NO_BACKLOG  # no stream: nothing was ever written to it
                continue
            delivered = _last_delivered(groups)
            if delivered is None or isinstance(summary, Exception):
                # A stream without the group (created by a script after a flush): all of it is new.
                pipe.xrange(stream, "-", "+", count=UNDELIVERED_SCAN)
                scanned.append((stream, 0, int(length), None))
                continue
            pending = int(summary["pending"])
            pipe.xrange(stream, f"({delivered}", "+", count=UNDELIVERED_SCAN)
            scanned.append((stream, pending, int(length), _id_ms(summary["min"]) if pending else None))
        ranges = await pipe.execute() if scanned else []
        for (stream, pending, length, oldest_ms), found in zip(scanned, ranges, strict=True):
            found = found or []
            undelivered = len(found) if len(found) < UNDELIVERED_SCAN else max(length - pending, len(found))
            if oldest_ms is None and found:
                oldest_ms = _id_ms(found[0][0])
            lag_ms = max(0, now_ms - oldest_ms) if oldest_ms is not None else 0
            result[stream] = StreamBacklog(pending, undelivered, lag_ms)
        return result


def _last_delivered(groups: list[dict[str, Any]]) -> str | None:
    return next((str(g["last-delivered-id"]) for g in groups if g["name"] == AUDIT_GROUP), None)


def _id_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def _entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    entries: list[tuple[str, dict[str, str]]] = []
    for _stream, items in reply or []:
        entries.extend((entry_id, fields) for entry_id, fields in items)
    return entries
