"""Members' events' Redis keys (events/): the ingest markers and the streams, sharded by event
id under their own hash tags (activities/keys.py keeps the activities' keys)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

# Members' events from the brand's systems (events/): sharded by event id (an id is unique across
# members), each shard its own hash tag, so that one ingest script touches one slot and the audit
# writer follows a fixed set of streams.
EVENT_SHARDS = 16


def event_shard(event_id: str) -> int:
    return zlib.crc32(event_id.encode()) % EVENT_SHARDS


@dataclass(frozen=True)
class EventKeys:
    shard: int

    @classmethod
    def of(cls, event_id: str) -> EventKeys:
        return cls(event_shard(event_id))

    @property
    def _p(self) -> str:
        return f"{{evt:{self.shard}}}"

    def seen(self, event_id: str) -> str:
        """Marker: an event with this id was accepted (idempotency), kept longer than the oldest
        `occurred_at` accepted, so that a replay is always recognised."""
        return f"{self._p}:seen:{event_id}"

    @property
    def events(self) -> str:
        """Stream of accepted events, consumed by the SQL audit writer."""
        return f"{self._p}:events"
