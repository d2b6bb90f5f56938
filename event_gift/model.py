"""Event-triggered gifts: what operators send, and the pure rules of a trigger (does this event
fire the gift: its type, its conditions, the member day in the activity's time zone) and of the
budget (how many firings a CNY budget buys)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec

from activities.errors import invalid
from activities.model import MAX_CNY, MAX_COUNT, Activity, ActivityBase, Positive
from activities.rewards import ChancesReward, LocalReward, PrizeReward, Reward

ACTIVITY_TYPE = "event_gift"
EventType = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
AttributeValue = str | int | float | bool


class MemberDay(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """会员日: the event must occur (in the activity's time zone) on this day of the month, or on
    this day of the week (1 = Monday ... 7 = Sunday). Exactly one of them."""

    day_of_month: Annotated[int, msgspec.Meta(ge=1, le=31)] | None = None
    weekday: Annotated[int, msgspec.Meta(ge=1, le=7)] | None = None


class Trigger(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Which events fire the gift: their type, and optionally a minimum `amount` (CNY, for
    `order_paid`), attribute values that must be equal, and a member day."""

    event: EventType
    min_amount_cny: Decimal | None = None
    attributes: Annotated[dict[str, AttributeValue], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=dict)
    member_day: MemberDay | None = None


class Caps(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Firings per member per local day and in all; the budget in firings (units) or in CNY (each
    firing costs the reward's `value_cny`). None: no cap."""

    per_member_daily: Positive | None = None
    per_member_total: Positive | None = None
    budget_units: Positive | None = None
    budget_cny: Decimal | None = None


class EventGiftRules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    trigger: Trigger
    reward: Reward
    reward_value_cny: Decimal = Decimal(0)  # what one firing costs the brand (the CNY budget)
    caps: Caps = msgspec.field(default_factory=Caps)
    linked_lottery_id: Positive | None = None  # for chances and prize rewards


class EventGiftSpec(ActivityBase, kw_only=True):
    type: Literal["event_gift"]
    event_gift: EventGiftRules


def rules_of(activity: Activity) -> EventGiftRules:
    return msgspec.convert(activity.config, EventGiftRules)


def config_of(rules: EventGiftRules) -> dict[str, Any]:
    config: dict[str, Any] = msgspec.to_builtins(rules)
    return config


def validate_rules(rules: EventGiftRules) -> None:
    """What the schema cannot say (the linked lottery itself is checked by the service)."""
    for name, value in (
        ("trigger.min_amount_cny", rules.trigger.min_amount_cny),
        ("caps.budget_cny", rules.caps.budget_cny),
        ("reward_value_cny", rules.reward_value_cny),
    ):
        if value is not None and not Decimal(0) <= value <= MAX_CNY:
            raise invalid("amount_out_of_range", f"{name} must be between 0 and {MAX_CNY}", field=f"event_gift.{name}")
    day = rules.trigger.member_day
    if day is not None and (day.day_of_month is None) == (day.weekday is None):
        raise invalid(
            "member_day_invalid", "give exactly one of day_of_month and weekday", field="event_gift.trigger.member_day"
        )
    needs_lottery = isinstance(rules.reward, ChancesReward | PrizeReward)
    if needs_lottery and rules.linked_lottery_id is None:
        raise invalid("linked_lottery_required", "chances and prize rewards need linked_lottery_id", field="event_gift")
    if isinstance(rules.reward, LocalReward) and rules.linked_lottery_id is not None:
        raise invalid("linked_lottery_unused", "this reward needs no linked lottery", field="event_gift")
    if rules.caps.budget_cny is not None and rules.reward_value_cny <= 0:
        raise invalid(
            "reward_value_required", "a CNY budget needs the reward's value_cny", field="event_gift.reward_value_cny"
        )


def budget_units(rules: EventGiftRules) -> int | None:
    """The firings the budget allows (the smaller of both budgets), None without a budget."""
    found: list[int] = []
    if rules.caps.budget_units is not None:
        found.append(rules.caps.budget_units)
    if rules.caps.budget_cny is not None:
        found.append(min(int(rules.caps.budget_cny // rules.reward_value_cny), MAX_COUNT))
    return min(found) if found else None


def matches(trigger: Trigger, event_type: str, occurred_ms: int, attributes: dict[str, Any], tz: ZoneInfo) -> bool:
    """Whether an event fires the gift (pure: no clock, no state)."""
    if event_type != trigger.event:
        return False
    if trigger.min_amount_cny is not None:
        amount = attributes.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            return False
        if Decimal(str(amount)) < trigger.min_amount_cny:
            return False
    for name, value in trigger.attributes.items():
        if attributes.get(name) != value:
            return False
    if trigger.member_day is not None:
        local = datetime.fromtimestamp(occurred_ms / 1000, tz)
        if trigger.member_day.day_of_month is not None and local.day != trigger.member_day.day_of_month:
            return False
        if trigger.member_day.weekday is not None and local.isoweekday() != trigger.member_day.weekday:
            return False
    return True
