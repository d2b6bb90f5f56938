"""The lottery's part of an activity's view: its prizes with their disclosed odds, its limits,
its pity rule and unlock tiers in plain words."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from activities.clock import from_ms
from activities.model import Activity
from lottery.model import ConfigVersion, Limits, Lottery
from lottery.pacing import ReleasePlan

ODDS_RULE = (
    "Each draw picks a prize with the odds shown. If the picked prize is out of stock, or you "
    "have reached its per-person cap, you receive the consolation prize instead."
)
RELEASE_RULE = (
    " Some prizes are released a number of units per hour or per day (shown with the prize): "
    "a picked prize whose units released so far are all gone also gives the consolation prize."
)
BUDGET_RULE = (
    "This activity has a prize budget: once a picked prize's value exceeds what is left of it, "
    "you receive the consolation prize instead."
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
    unlock_after_draws: int | None = None  # unlock tier: drawable from the member's Kth draw on
    unlock_rule: str | None = None  # the tier in plain words
    release: ReleasePlan | None = None  # paced release: units per hour or day (lottery/pacing.py)


class PityView(msgspec.Struct):
    """The pity rule (保底), disclosed with its prizes and their shares of a guaranteed draw."""

    after: int  # consecutive consolation draws
    prize_ids: list[int]
    shares: dict[str, str]  # prize id -> its share of a guaranteed draw, e.g. "0.250000"
    rule: str  # the rule in plain words


def unlock_rule(after: int) -> str:
    return (
        f"Drawable from your draw number {after} on (draws paid with a draw chance do not count). "
        "Before that, if a draw picks this prize you receive the consolation prize instead."
    )


def pity_view(lottery: Lottery) -> PityView | None:
    """The pity rule in plain terms (the SAMR blind-box guideline: a guarantee is disclosed)."""
    prizes = [p for p in lottery.pity_prizes if p.weight > 0]  # an A/B variant may zero a weight
    if not prizes or not lottery.pity_after:
        return None
    total = sum(p.weight for p in prizes)
    shares = {str(p.id): f"{p.weight / total:.6f}" for p in prizes}
    names = ", ".join(f"{p.name} ({p.weight / total * 100:.2f}%)" for p in prizes)
    rule = (
        f"Guarantee: if your last {lottery.pity_after} draws all gave the consolation prize "
        f"({lottery.consolation.name}), your next draw wins one of: {names}, among those still in "
        "stock and within their limits (and unlocked for you). If none is, it is an ordinary draw "
        "and the count goes on. Any other prize starts the count again."
    )
    return PityView(after=lottery.pity_after, prize_ids=[p.id for p in prizes], shares=shares, rule=rule)


class VersionPrize(msgspec.Struct):
    id: int
    name: str
    value_cny: str
    odds: str
    odds_percent: str
    points: int | None = None


class VersionView(msgspec.Struct):
    """A config version as disclosed (issue 18): its odds and values, and when it takes effect."""

    version: int
    effective_at: datetime
    prizes: list[VersionPrize]
    limits: Limits | None = None


def version_view(activity: Lottery, version: ConfigVersion) -> VersionView:
    total = sum(p.weight for p in version.prizes)
    kinds = {p.id: p.type for p in activity.prizes}
    return VersionView(
        version=version.version,
        effective_at=from_ms(version.effective_at_ms, activity.tz),
        limits=version.limits or activity.limits,
        prizes=[
            VersionPrize(
                id=p.id,
                name=p.name,
                value_cny=str(p.value_cny),
                odds=f"{p.weight / total:.6f}" if total else "0.000000",
                odds_percent=f"{p.weight / total * 100:.4f}%" if total else "0.0000%",
                points=p.points if kinds.get(p.id) == "points" else None,
            )
            for p in version.prizes
        ],
    )


def fairness_view(activity: Lottery) -> dict[str, Any]:
    """Issue 18: the config version in effect, the ones announced after it (with their effective
    times), the seed's commitment, and the seed once the activity has ended."""
    upcoming = [v for v in activity.later_versions if v.version > activity.config_version]
    return {
        "config_version": activity.config_version,
        "upcoming_versions": [version_view(activity, v) for v in upcoming],
        "commitment": activity.commitment,
        "seed": activity.seed,
    }


class BudgetView(msgspec.Struct):
    """That the activity has a budget; its amount and what is left only in the operator view
    (commercially sensitive)."""

    limited: bool = True
    budget_cny: str | None = None  # operator view only
    note: str = BUDGET_RULE


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
                unlock_after_draws=p.unlock_after_draws,
                unlock_rule=unlock_rule(p.unlock_after_draws) if p.unlock_after_draws else None,
                release=p.release,
            )
            for p in activity.prizes
        ],
        "odds_rule": odds_rule(activity),
        "pity": pity_view(activity),
        "budget": budget_view(activity, operator),
        "stock_buckets": activity.buckets if operator else None,  # lottery/buckets.py
    } | fairness_view(activity)


def odds_rule(activity: Lottery) -> str:
    rule = ODDS_RULE + (RELEASE_RULE if any(p.release for p in activity.prizes) else "")
    return rule + (" " + BUDGET_RULE if activity.budget_cny is not None else "")


def budget_view(activity: Lottery, operator: bool) -> BudgetView | None:
    if activity.budget_cny is None:
        return None
    return BudgetView(budget_cny=str(activity.budget_cny) if operator else None)
