"""The task centre: what operators send (tasks with a period, the events they count, a target
and a reward), and the pure rules of counting an event toward a task."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from activities.errors import invalid
from activities.model import Activity, ActivityBase, Name, Positive
from activities.rewards import ChancesReward, PrizeReward, Reward
from tasks.periods import PeriodKind

ACTIVITY_TYPE = "tasks"
# A task of this `event` counts friends' assists through the member's share link (任务型助力:
# tasks/friends.py), one per friend per period, never members' events.
FRIEND_ASSIST = "friend_assist"
TaskId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,32}$")]
EventType = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
AttributeValue = str | int | float | bool


class TaskSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Count events of `event` (with `attributes` equal, `min_amount_cny` for orders) in each
    `period`: `measure` "count" counts them, "amount" sums their `amount` (whole CNY); the task
    is complete at `target`, and its reward claimed once per period."""

    id: TaskId
    name: Name
    period: PeriodKind
    event: EventType
    measure: Literal["count", "amount"] = "count"
    target: Positive
    min_amount_cny: Decimal | None = None
    attributes: Annotated[dict[str, AttributeValue], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=dict)
    reward: Reward


class TasksRules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    tasks: Annotated[list[TaskSpec], msgspec.Meta(min_length=1, max_length=50)]
    linked_lottery_id: Positive | None = None


class TasksSpec(ActivityBase, kw_only=True):
    type: Literal["tasks"]
    tasks: TasksRules


def config_of(rules: TasksRules) -> dict[str, Any]:
    config: dict[str, Any] = msgspec.to_builtins(rules)
    return config


def rules_of(activity: Activity) -> TasksRules:
    return msgspec.convert(activity.config, TasksRules)


def validate_rules(rules: TasksRules) -> None:
    ids = [task.id for task in rules.tasks]
    if len(set(ids)) != len(ids):
        raise invalid("task_id_duplicate", "each task needs its own id", field="tasks.tasks")
    for index, task in enumerate(rules.tasks):
        if task.event == FRIEND_ASSIST and (task.measure != "count" or task.attributes or task.min_amount_cny):
            raise invalid(
                "friend_assist_invalid",
                "a friend_assist task counts friends (measure count, no attributes or min_amount_cny)",
                field=f"tasks.tasks[{index}]",
            )
        if isinstance(task.reward, ChancesReward | PrizeReward) and rules.linked_lottery_id is None:
            raise invalid(
                "linked_lottery_required",
                "chances and prize rewards need linked_lottery_id",
                field=f"tasks.tasks[{index}].reward",
            )


def progress_of(task: TaskSpec, event_type: str, attributes: dict[str, Any]) -> int:
    """How much an event adds to a task (0: it does not count)."""
    if event_type != task.event or task.event == FRIEND_ASSIST:
        return 0
    for name, value in task.attributes.items():
        if attributes.get(name) != value:
            return 0
    amount = attributes.get("amount")
    has_amount = isinstance(amount, int | float) and not isinstance(amount, bool)
    if task.min_amount_cny is not None and (not has_amount or Decimal(str(amount)) < task.min_amount_cny):
        return 0
    if task.measure == "amount":
        return int(amount) if has_amount and amount > 0 else 0  # type: ignore[operator,arg-type]
    return 1
