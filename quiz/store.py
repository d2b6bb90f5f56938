"""Redis access of quiz draws: the start and submit scripts, rebuilding the live state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import redis.asyncio as aioredis

from activities.scripts import ScriptBatcher, script_beside
from activities.store import hset_chunks, load_activity
from quiz.keys import QuizKeys

_start = script_beside(__file__, "start.lua")
_submit = script_beside(__file__, "submit.lua")


@dataclass(frozen=True)
class StartRequest:
    activity_id: int
    user_id: str
    session_id: str
    now_ms: int
    day: date
    deadline_ms: int
    questions: str
    key: str
    day_ttl_ms: int
    session_ttl_ms: int


@dataclass(frozen=True)
class Reply:
    kind: str
    values: tuple[str, ...] = ()


@dataclass
class QuizSnapshot:
    state: dict[str, str | int]
    today: date
    day_ttl_ms: int
    user_today: dict[str, int] = field(default_factory=dict)


class QuizStore:
    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher

    @property
    def redis(self) -> aioredis.Redis:
        return self.batcher.redis

    async def start(self, r: StartRequest) -> Reply:
        keys = QuizKeys(r.activity_id)
        reply = await self.batcher.call(
            _start,
            [keys.state, keys.user_day(r.day), keys.quiz_session(r.session_id), keys.events],
            [
                r.user_id, r.session_id, r.now_ms, r.day.isoformat(), r.deadline_ms, r.questions, r.key,
                r.day_ttl_ms, r.session_ttl_ms,
            ],
        )  # fmt: skip
        return Reply(str(reply[0]), tuple(str(v) for v in reply[1:]))

    async def submit(
        self, activity_id: int, user_id: str, session_id: str, now_ms: int, answers: str, pass_mark: int
    ) -> Reply:
        keys = QuizKeys(activity_id)
        reply = await self.batcher.call(
            _submit, [keys.quiz_session(session_id), keys.events], [user_id, session_id, now_ms, answers, pass_mark]
        )
        return Reply(str(reply[0]), tuple(str(v) for v in reply[1:]))

    async def session_questions(self, activity_id: int, session_id: str) -> str | None:
        found = await self.redis.hget(QuizKeys(activity_id).quiz_session(session_id), "questions")
        return None if found is None else str(found)

    async def load(self, activity_id: int, read: Callable[[], Awaitable[QuizSnapshot]]) -> bool:
        keys = QuizKeys(activity_id)

        def write(pipe: Any, snapshot: QuizSnapshot) -> None:
            day_key = keys.user_day(snapshot.today)
            pipe.delete(keys.state, day_key)
            hset_chunks(pipe, day_key, snapshot.user_today)
            pipe.pexpire(day_key, max(snapshot.day_ttl_ms, 1))
            pipe.hset(keys.state, mapping=snapshot.state)  # last: the scripts treat it as "loaded"

        return await load_activity(self.redis, keys, read, write)
