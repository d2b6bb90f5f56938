"""The only Redis caller of events/: one ingest script per shard of a batch."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from activities.scripts import ScriptBatcher, script_beside
from events.keys import EVENT_SHARDS, EventKeys, event_shard

_ingest = script_beside(__file__, "ingest.lua")

# Longer than the oldest `occurred_at` accepted (7 days) plus the future skew: a replay of any
# acceptable event finds its marker.
SEEN_TTL_S = 8 * 24 * 3600


@dataclass(frozen=True)
class Prepared:
    """An event checked at the boundary, ready for the script."""

    event_id: str
    member_id: str
    type: str
    occurred_ms: int
    attributes: str  # JSON text


def streams() -> list[str]:
    """Every event shard's stream (the audit writer follows them)."""
    return [EventKeys(shard).events for shard in range(EVENT_SHARDS)]


class EventStore:
    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher

    async def ingest(self, events: Sequence[Prepared], source: str, now_ms: int) -> list[bool]:
        """Record the events (one script per shard, the shards in parallel); for each, in order,
        whether it was new."""
        by_shard: dict[int, list[int]] = defaultdict(list)
        for index, event in enumerate(events):
            by_shard[event_shard(event.event_id)].append(index)
        shards = list(by_shard)
        replies = await asyncio.gather(
            *(self._shard(shard, [events[i] for i in by_shard[shard]], source, now_ms) for shard in shards)
        )
        new = [False] * len(events)
        for shard, reply in zip(shards, replies, strict=True):
            for index, flag in zip(by_shard[shard], reply, strict=True):
                new[index] = bool(int(flag))
        return new

    async def _shard(self, shard: int, events: list[Prepared], source: str, now_ms: int) -> list[int]:
        keys = EventKeys(shard)
        args: list[str | int] = [now_ms, SEEN_TTL_S, source]
        for event in events:
            args += [event.event_id, event.member_id, event.type, event.occurred_ms, event.attributes]
        reply: list[int] = await self.batcher.call(
            _ingest, [keys.events, *(keys.seen(e.event_id) for e in events)], args
        )
        return reply
