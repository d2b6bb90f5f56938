"""Redis for analytics (the package's only Redis caller): public page views per activity, local
day and channel, with a HyperLogLog of visitor ids for unique visitors (standard error 0.81%)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activities.keys import ViewKeys

CHANNELS = ("h5", "mini_program", "app", "other")
TTL_S = 3 * 86_400  # a day's counts outlive the day long enough to be persisted to SQL


class ViewStore:
    def __init__(self, redis: Any) -> None:
        self.redis = redis

    async def record(self, activity_id: int, day: str, channel: str, visitor: str | None) -> None:
        keys = ViewKeys(activity_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(keys.views(day), channel, 1)
            pipe.expire(keys.views(day), TTL_S)
            if visitor:
                pipe.pfadd(keys.visitors(day, channel), visitor)
                pipe.expire(keys.visitors(day, channel), TTL_S)
            await pipe.execute()

    async def counts(self, activity_ids: Sequence[int], days: Sequence[str]) -> list[tuple[int, str, str, int, int]]:
        """(activity, day, channel, unique visitors, views) of every channel viewed."""
        asked = [(a, d) for a in activity_ids for d in days]
        async with self.redis.pipeline(transaction=False) as pipe:
            for activity_id, day in asked:
                keys = ViewKeys(activity_id)
                pipe.hgetall(keys.views(day))
                for channel in CHANNELS:
                    pipe.pfcount(keys.visitors(day, channel))
            replies = await pipe.execute()
        found = []
        step = 1 + len(CHANNELS)
        for i, (activity_id, day) in enumerate(asked):
            views = {_text(k): int(v) for k, v in (replies[i * step] or {}).items()}
            for j, channel in enumerate(CHANNELS):
                visitors = int(replies[i * step + 1 + j])
                if visitors or views.get(channel):
                    found.append((activity_id, day, channel, visitors, views.get(channel, 0)))
        return found


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
