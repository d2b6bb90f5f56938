"""The task centre (任务营销): daily, weekly and one-off tasks that count members' events toward
targets, with rewards claimed once per period."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activities.gameplay import Gameplay, GameplayService, Kernel, ViewSection
from activities.model import Activity
from lottery.service import DrawService
from tasks.db import task_assists, task_claims, task_progress
from tasks.model import ACTIVITY_TYPE, TasksRules, TasksSpec, rules_of
from tasks.schemas import TasksCounters
from tasks.service import TasksService
from tasks.store import TasksStore


def build(kernel: Kernel) -> GameplayService:
    draws = kernel.service(DrawService)  # chances and prizes of a linked lottery
    store = TasksStore(kernel.batcher)
    return TasksService(kernel.activities, store, draws, kernel.points, kernel.clock, kernel.tokens)


def routes() -> Sequence[Any]:
    from tasks.controllers import ROUTES

    return ROUTES


def view(activity: Activity, operator: bool) -> dict[str, Any]:
    return {"tasks": rules_of(activity)}


GAMEPLAY = Gameplay(
    name="tasks",
    types=(ACTIVITY_TYPE,),
    spec=TasksSpec,
    build=build,
    counters=TasksCounters,
    summary="The task centre (任务营销): daily, weekly and one-off tasks counting members' events",
    routes=routes,
    tables=(task_progress, task_claims, task_assists),
    audit_ids={"task_claim": task_claims.c.claim_id},
    view=ViewSection(fields=[("tasks", TasksRules | None, None)], read=view),
    example={
        "type": "tasks",
        "name": "Task centre",
        "starts_at": "2026-12-01T00:00:00+08:00",
        "ends_at": "2027-12-01T00:00:00+08:00",
        "timezone": "Asia/Shanghai",
        "tasks": {
            "tasks": [
                {
                    "id": "share3",
                    "name": "Share 3 times today",
                    "period": "daily",
                    "event": "shared",
                    "target": 3,
                    "reward": {"type": "points", "points": 10},
                }
            ]
        },
    },
)
