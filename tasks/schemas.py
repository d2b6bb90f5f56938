"""What members and operators see of the task centre."""

from __future__ import annotations

from datetime import datetime

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


class TasksCounters(msgspec.Struct):
    activity_id: int
    status: str
    loaded: bool
    progress_in_sql: int
    claims_in_sql: int
    audit_backlog: int
    quarantined: int = 0
