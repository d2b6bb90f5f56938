"""The lottery's part of an activity's view: its prizes with their disclosed odds, its limits."""

from __future__ import annotations

from typing import Any

import msgspec

from activities.model import Activity
from lottery.model import Lottery

ODDS_RULE = (
    "Each draw picks a prize with the odds shown. If the picked prize is out of stock, or you "
    "have reached its per-person cap, you receive the consolation prize instead."
)


class PrizeView(msgspec.Struct):
    id: int
    name: str
    type: str
    value_cny: str
    odds: str  # disclosed probability of being picked, e.g. "0.0125" (1.25 %)
    odds_percent: str
    stock: int | None = None  # operator view only
    daily_stock: int | None = None
    per_user_cap: int | None = None
    weight: int | None = None
    points: int | None = None  # credited by a "points" prize


def lottery_view(activity: Activity, operator: bool) -> dict[str, Any]:
    """The fields a lottery adds to its activity's view (operators see stock and weights too):
    `activity` is the `Lottery` the section's `load` read."""
    assert isinstance(activity, Lottery)
    odds = activity.odds()
    return {
        "limits": activity.limits,
        "points_cost": activity.points_cost,
        "prizes": [
            PrizeView(
                id=p.id,
                name=p.name,
                type=p.type,
                value_cny=str(p.value_cny),
                odds=f"{odds[p.id]:.6f}",
                odds_percent=f"{odds[p.id] * 100:.4f}%",
                stock=p.stock if operator else None,
                daily_stock=p.daily_stock if operator else None,
                per_user_cap=p.per_user_cap,
                weight=p.weight if operator else None,
                points=p.points,
            )
            for p in activity.prizes
        ],
        "odds_rule": ODDS_RULE,
    }
