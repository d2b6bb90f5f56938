"""Event-triggered gifts (事件营销): a member's event (registered, order_paid >= 200 CNY, birthday,
a member day...) fires a reward, within caps and a budget."""

from __future__ import annotations

from typing import Any

from activities.gameplay import Gameplay, GameplayService, Kernel, ViewSection
from activities.model import Activity
from event_gift.db import gift_firings
from event_gift.model import ACTIVITY_TYPE, EventGiftRules, EventGiftSpec, rules_of
from event_gift.service import EventGiftService, GiftCounters
from event_gift.store import GiftStore
from lottery.service import DrawService


def build(kernel: Kernel) -> GameplayService:
    draws = kernel.service(DrawService)  # chances and prizes of a linked lottery
    return EventGiftService(kernel.activities, GiftStore(kernel.batcher), draws, kernel.points, kernel.clock)


def view(activity: Activity, operator: bool) -> dict[str, Any]:
    return {"event_gift": rules_of(activity)}


GAMEPLAY = Gameplay(
    name="event_gift",
    types=(ACTIVITY_TYPE,),
    spec=EventGiftSpec,
    build=build,
    counters=GiftCounters,
    summary="Event-triggered gifts (事件营销): a member's event fires a reward, within caps and a budget",
    tables=(gift_firings,),
    audit_ids={"gift": gift_firings.c.gift_id},
    view=ViewSection(fields=[("event_gift", EventGiftRules | None, None)], read=view),
    example={
        "type": "event_gift",
        "name": "Spend 200, get 50 points",
        "starts_at": "2026-12-01T00:00:00+08:00",
        "ends_at": "2027-12-01T00:00:00+08:00",
        "timezone": "Asia/Shanghai",
        "event_gift": {
            "trigger": {"event": "order_paid", "min_amount_cny": "200"},
            "reward": {"type": "points", "points": 50},
            "caps": {"per_member_daily": 1, "budget_units": 10000},
        },
    },
)
