"""What members and operators see of the task centre."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from activities.rewards import Reward


class TaskView(msgspec.Struct):
    id: str
    name: str
    period: str  # daily | weekly | once
    event: str
    measure: str  # count | amount
    target: int
    progress: int  # in the current period (reset at its boundary, in the activity's time zone)
    completed: bool
    claimed: bool
    reward: Reward
    resets_at: datetime | None  # the end of the current period (None: a one-off task)
    share_code: str | None = None  # a friend_assist task: what the member's share link carries


class TaskList(msgspec.Struct):
    activity_id: int
    items: list[TaskView]


class ClaimResult(msgspec.Struct):
    claim_id: str
    activity_id: int
    task_id: str
    period: str
    reward: Reward
    replayed: bool  # claimed before in this period: the same claim, its reward not given twice


class AssistBody(msgspec.Struct, forbid_unknown_fields=True):
    """A friend's assist: the `share_code` of the sharer's task (from their share link)."""

    share_code: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class AssistResult(msgspec.Struct, kw_only=True):
    assist_id: str
    activity_id: int
    task_id: str
    period: str
    progress: int  # the sharer's, in the current period
    target: int
    completed: bool


class TasksCounters(msgspec.Struct):
    activity_id: int
    status: str
    loaded: bool
    progress_in_sql: int
    claims_in_sql: int
    audit_backlog: int
    quarantined: int = 0
