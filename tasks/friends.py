"""Task-type assist (任务型助力): a `friend_assist` task counts friends' assists through the
member's share link. The member's task list carries the task's `share_code` (the member's id,
sealed for this activity and task: only the platform makes one, as assist share tokens); a
friend sends it to `POST /activities/{id}/tasks/{task}/assists`, and `assist.lua` counts the
friend once per sharer and period toward the sharer's progress (never the sharer themselves).
The progress is the task centre's own (claims, periods and the rebuild from SQL are the same);
each assist is also a `task_assists` row (who helped whom)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from activities.audit_rows import Row
from activities.auth import Identity, Tokens
from activities.errors import Kind, PromoError, not_found, refusal
from activities.ids import new_id
from tasks.db import task_assists, task_progress
from tasks.model import ACTIVITY_TYPE, FRIEND_ASSIST
from tasks.schemas import AssistResult

if TYPE_CHECKING:
    from tasks.service import TasksService

SHARE = "task-share"
_REFUSALS = {"already_assisted": (Kind.CONFLICT, "you have already assisted this member's task in this period")}


def share_code(tokens: Tokens, activity_id: int, task_id: str, sharer: str) -> str:
    return tokens.seal(sharer, f"{SHARE}:{activity_id}:{task_id}")


def sharer_of(tokens: Tokens, activity_id: int, task_id: str, code: str) -> str:
    sharer = tokens.unseal(code, f"{SHARE}:{activity_id}:{task_id}")
    if sharer is None:
        raise PromoError(Kind.NOT_FOUND, "share_code_invalid", "this share link is not valid for this task")
    return sharer


def event_id(task_id: str, period: str, sharer: str, friend: str) -> str:
    """The `task_progress` event id of an assist: one per (task, period, sharer, friend)."""
    digest = hashlib.sha256(f"{task_id}|{period}|{sharer}|{friend}".encode()).hexdigest()
    return f"ta:{digest[:40]}"


async def assist(tasks: TasksService, friend: Identity, activity_id: int, task_id: str, code: str) -> AssistResult:
    """A friend's assist toward the sharer's task (once per friend, sharer and period)."""
    activity = await tasks.activities.published(activity_id, (ACTIVITY_TYPE,), "a task centre")
    rules = tasks.rules(activity)
    task = next((t for t in rules.tasks if t.id == task_id), None)
    if task is None:
        raise not_found("task_not_found", f"no task {task_id!r} in activity {activity_id}")
    if task.event != FRIEND_ASSIST:
        raise PromoError(Kind.CONFLICT, "task_not_shareable", f"task {task_id!r} does not count friends' assists")
    if tasks.tokens is None:
        raise RuntimeError("the task centre was built without tokens")
    sharer = sharer_of(tasks.tokens, activity.id, task.id, code)
    if sharer == friend.subject:
        raise PromoError(Kind.FORBIDDEN, "self_help", "you cannot assist your own task")
    await tasks.activities.check_excluded(activity, friend.subject)  # deny lists: fraud accounts
    now_ms = tasks.clock.now_ms()
    period = tasks.period(activity, task, now_ms)
    ttl_ms = period.end_ms + 24 * 3600 * 1000 - now_ms
    ref = event_id(task.id, period.name, sharer, friend.subject)
    reply = await tasks.activities.run_loaded(
        activity.id,
        lambda: tasks.store.assist(activity.id, sharer, friend.subject, task.id, period.name, ref, now_ms, ttl_ms),
        unknown="the assist may or may not have counted; send it again to learn the result",
    )
    if reply.kind == "refused":
        if reply.values[0] == "already_assisted":
            message = _REFUSALS["already_assisted"][1]
            progress = int(reply.values[1])
            raise PromoError(Kind.CONFLICT, "already_assisted", message, progress=progress, target=task.target)
        raise refusal(reply.values[0], None, _REFUSALS)
    progress = int(reply.values[0])
    return AssistResult(
        assist_id=new_id("ta", now_ms),
        activity_id=activity.id,
        task_id=task.id,
        period=period.name,
        progress=progress,
        target=task.target,
        completed=progress >= task.target,
    )


async def assist_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    """An assist's rows: the sharer's progress (+1) and who helped whom."""
    if activity_id is None:
        raise ValueError(f"task event {entry_id} outside an activity stream")
    base = {"activity_id": activity_id, "task_id": fields["task_id"], "period": fields["period"]}
    at_ms, sharer = int(fields["at_ms"]), fields["user_id"]
    progress = {**base, "event_id": fields["event_id"], "user_id": sharer, "delta": 1, "at_ms": at_ms}
    pair = {**base, "sharer": sharer, "friend": fields["friend"], "at_ms": at_ms, "stream_id": entry_id}
    return [(task_progress, {**progress, "stream_id": entry_id}), (task_assists, pair)]
