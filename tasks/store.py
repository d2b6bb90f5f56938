"""Redis access of the task centre: the progress and claim scripts, a member's progress, the
live state rebuilt from SQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from activities.scripts import ScriptBatcher, script_beside
from activities.store import hset_chunks, load_activity
from tasks.keys import TaskKeys

_progress = script_beside(__file__, "progress.lua")
_claim = script_beside(__file__, "claim.lua")
_assist = script_beside(__file__, "assist.lua")


@dataclass(frozen=True)
class Step:
    """What one event adds to one task in its current period."""

    task_id: str
    period: str
    delta: int
    ttl_ms: int


@dataclass(frozen=True)
class Reply:
    kind: str  # ok | replay | not_loaded | refused
    values: tuple[str, ...] = ()


@dataclass
class TasksSnapshot:
    state: dict[str, str | int]
    progress: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # (task, period) -> user -> n
    claims: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (task, period) -> user -> id
    ttl_ms: dict[tuple[str, str], int] = field(default_factory=dict)
    assists: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (task, period) -> pairs


class TasksStore:
    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher

    @property
    def redis(self) -> aioredis.Redis:
        return self.batcher.redis

    async def progress(
        self, activity_id: int, user_id: str, event_id: str, now_ms: int, steps: Sequence[Step]
    ) -> Reply:
        keys = TaskKeys(activity_id)
        args: list[str | int] = [user_id, event_id, now_ms]
        for step in steps:
            args += [step.task_id, step.period, step.delta, step.ttl_ms]
        reply = await self.batcher.call(
            _progress, [keys.state, keys.events, *(keys.task_progress(s.task_id, s.period) for s in steps)], args
        )
        return Reply(str(reply[0]), tuple(str(v) for v in reply[1:]))

    async def claim(
        self,
        activity_id: int,
        user_id: str,
        task_id: str,
        period: str,
        target: int,
        claim_id: str,
        now_ms: int,
        ttl_ms: int,
    ) -> Reply:
        keys = TaskKeys(activity_id)
        reply = await self.batcher.call(
            _claim,
            [keys.state, keys.task_progress(task_id, period), keys.task_claims(task_id, period), keys.events],
            [user_id, task_id, period, target, claim_id, now_ms, ttl_ms],
        )
        return Reply(str(reply[0]), tuple(str(v) for v in reply[1:]))

    async def assist(
        self,
        activity_id: int,
        sharer: str,
        friend: str,
        task_id: str,
        period: str,
        event_id: str,
        now_ms: int,
        ttl_ms: int,
    ) -> Reply:
        """A friend's assist toward the sharer's friend_assist task (tasks/assist.lua)."""
        keys = TaskKeys(activity_id)
        reply = await self.batcher.call(
            _assist,
            [keys.state, keys.task_progress(task_id, period), keys.task_assists(task_id, period), keys.events],
            [sharer, friend, task_id, period, event_id, now_ms, ttl_ms],
        )
        return Reply(str(reply[0]), tuple(str(v) for v in reply[1:]))

    async def member(
        self, activity_id: int, user_id: str, periods: Sequence[tuple[str, str]]
    ) -> tuple[bool, list[tuple[int, str | None]]]:
        """Whether the activity is loaded, and (progress, claim id) of each (task, period)."""
        keys = TaskKeys(activity_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(keys.state)
        for task_id, period in periods:
            pipe.hget(keys.task_progress(task_id, period), user_id)
            pipe.hget(keys.task_claims(task_id, period), user_id)
        found = await pipe.execute()
        pairs = [
            (int(found[1 + 2 * i] or 0), None if found[2 + 2 * i] is None else str(found[2 + 2 * i]))
            for i in range(len(periods))
        ]
        return bool(found[0]), pairs

    async def load(self, activity_id: int, read: Callable[[], Awaitable[TasksSnapshot]]) -> bool:
        keys = TaskKeys(activity_id)

        def write(pipe: Any, snapshot: TasksSnapshot) -> None:
            pipe.delete(keys.state)
            for (task_id, period), ttl_ms in snapshot.ttl_ms.items():
                for key, mapping in (
                    (keys.task_progress(task_id, period), snapshot.progress.get((task_id, period), {})),
                    (keys.task_claims(task_id, period), snapshot.claims.get((task_id, period), {})),
                ):
                    pipe.delete(key)
                    hset_chunks(pipe, key, mapping)
                    pipe.pexpire(key, max(ttl_ms, 1))
                assists = keys.task_assists(task_id, period)
                pipe.delete(assists)
                pairs = snapshot.assists.get((task_id, period), [])
                for start in range(0, len(pairs), 1000):
                    pipe.sadd(assists, *pairs[start : start + 1000])
                if pairs:
                    pipe.pexpire(assists, max(ttl_ms, 1))
            pipe.hset(keys.state, mapping=snapshot.state)  # last: the scripts treat it as "loaded"

        return await load_activity(self.redis, keys, read, write)
