"""What players' front ends call for the task centre: the task list with progress, and claims."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter

from activities.auth import Identity
from api.body import NoBody
from api.params import Id
from api.security import provide_player, service_for
from tasks.schemas import AssistBody, AssistResult, ClaimResult, TaskList
from tasks.service import TasksService

TaskPath = Annotated[str, PathParameter(pattern=r"^[a-z0-9_-]{1,32}$")]


class TasksController(Controller):
    """Members' task centre on a published tasks activity: the list with progress, claims."""

    dependencies = {  # noqa: RUF012
        "player": Provide(provide_player),
        "tasks": Provide(service_for(TasksService, "player"), sync_to_thread=False),
    }

    @get("/activities/{activity_id:int}/tasks", opt={"activity": "published", "errors": ("wrong_activity_type",)})
    async def list_tasks(
        self, player: NamedDependency[Identity], tasks: NamedDependency[TasksService], activity_id: Id
    ) -> TaskList:
        """The member's tasks and their progress in the current period.

        Daily tasks reset at local midnight, weekly ones on Monday at local midnight, in the
        activity's time zone (`resets_at`); one-off tasks never reset."""
        return await tasks.list(player, activity_id)

    @post(
        "/activities/{activity_id:int}/tasks/{task_id:str}/claims",
        status_code=200,
        opt={
            "activity": "published",
            "action": "claim",
            "errors": ("wrong_activity_type", "task_not_found", "task_not_completed"),
        },
    )
    async def claim_task(
        self,
        request: Request[Any, Any, Any],
        player: NamedDependency[Identity],
        tasks: NamedDependency[TasksService],
        activity_id: Id,
        task_id: TaskPath,
        data: JSONBody[NoBody | None] = None,
    ) -> ClaimResult:
        """Claim a completed task's reward, once per period: claiming again answers the same claim
        (`replayed: true`), so a retry is always safe."""
        return await tasks.claim(player, activity_id, task_id)

    @post(
        "/activities/{activity_id:int}/tasks/{task_id:str}/assists",
        status_code=200,
        opt={
            "activity": "published",
            "action": "task_assist",
            "errors": (
                "wrong_activity_type",
                "task_not_found",
                "share_code_invalid",
                "task_not_shareable",
                "self_help",
                "already_assisted",
                "audience_excluded",
                "audience_list_loading",
                "activity_not_live",
                "not_started",
                "already_ended",
            ),
        },
    )
    async def assist_task(
        self,
        player: NamedDependency[Identity],
        tasks: NamedDependency[TasksService],
        activity_id: Id,
        task_id: TaskPath,
        data: JSONBody[AssistBody],
    ) -> AssistResult:
        """A friend's assist toward a member's friend_assist task (任务型助力).

        The body carries the `share_code` of the member's share link (from the member's task
        list). Each friend counts once per member and period (409 `already_assisted`); members
        cannot assist themselves (403 `self_help`); accounts on the activity's deny lists are
        refused (403 `audience_excluded`)."""
        return await tasks.assist(player, activity_id, task_id, data.share_code)


ROUTES = [TasksController]
