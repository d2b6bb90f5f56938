"""Quiz draws (答题抽奖): N random questions in a time limit; K correct grant draw chances."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activities.gameplay import Gameplay, GameplayService, Kernel, ViewSection
from activities.model import Activity
from lottery.service import DrawService
from quiz.db import quiz_questions, quiz_results, quiz_sessions
from quiz.model import ACTIVITY_TYPE, QuizRules, QuizSpec, rules_of
from quiz.schemas import QuizCounters
from quiz.service import QuizService
from quiz.store import QuizStore


def build(kernel: Kernel) -> GameplayService:
    return QuizService(kernel.activities, QuizStore(kernel.batcher), kernel.service(DrawService), kernel.clock)


def routes() -> Sequence[Any]:
    from quiz.console_page import ROUTES as CONSOLE
    from quiz.controllers import ROUTES

    return [*ROUTES, *CONSOLE]


def view(activity: Activity, operator: bool) -> dict[str, Any]:
    return {"quiz": rules_of(activity)}


GAMEPLAY = Gameplay(
    name="quiz",
    types=(ACTIVITY_TYPE,),
    spec=QuizSpec,
    build=build,
    counters=QuizCounters,
    summary="Quiz draws (答题抽奖): random questions in a time limit; a pass grants draw chances",
    routes=routes,
    tables=(quiz_questions, quiz_sessions, quiz_results),
    audit_ids={"quiz_session": quiz_sessions.c.session_id},
    view=ViewSection(fields=[("quiz", QuizRules | None, None)], read=view),
)
