"""Activities and prizes: the shapes operators send, the rules they must satisfy, the shapes we keep.

Every gameplay shares `ActivityBase` (name, window, time zone, audience); a lottery adds its
limits and prize pool (`ActivitySpec`), other gameplays add their own settings, kept as the
activity's `config` (see checkin/model.py). Validation that a JSON schema cannot express
(exactly one consolation prize, end after start, the regulatory cap on the top prize) lives in
plain functions: `validate_common`, `validate_spec`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

import msgspec

from activities.errors import invalid

# Anti-Unfair Competition Law art. 10: a lottery prize may be worth at most 50,000 CNY.
TOP_PRIZE_MAX_CNY = Decimal(50_000)
# Weights are integers; their sum stays below 2**21 so that `u * total` with a 32-bit random u
# is exact in a double, which is what Lua computes with (see lottery/odds.py).
MAX_TOTAL_WEIGHT = 2**21 - 1

LotteryType = Literal["wheel", "blind_box", "golden_egg"]  # one draw engine, three skins
ActivityType = Literal["wheel", "blind_box", "golden_egg", "checkin", "assist", "reservation"]
LOTTERY_TYPES: frozenset[str] = frozenset(("wheel", "blind_box", "golden_egg"))
PrizeType = Literal["coupon", "points", "goods", "thanks"]
Status = Literal["draft", "live", "paused", "ended"]

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]


class PrizeSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    type: PrizeType
    weight: NonNegative
    stock: NonNegative | None = None  # total stock; None means unlimited (only for "thanks")
    daily_stock: NonNegative | None = None
    per_user_cap: Positive | None = None
    value_cny: Decimal = Decimal(0)
    points: Positive | None = None  # what a "points" prize credits to the member's wallet


class Limits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    per_user_daily: Positive | None = None
    per_user_total: Positive | None = None
    global_daily: Positive | None = None


class Audience(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Empty lists mean everyone. A member qualifies with an allowed level AND any allowed tag."""

    levels: list[Label] = msgspec.field(default_factory=list)
    tags: list[Label] = msgspec.field(default_factory=list)

    def admits(self, level: str | None, tags: list[str]) -> bool:
        if self.levels and level not in self.levels:
            return False
        return not self.tags or any(tag in self.tags for tag in tags)


class ActivityBase(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What every activity has, whatever its gameplay."""

    name: Name
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: str = "Asia/Shanghai"
    skin: Annotated[str, msgspec.Meta(max_length=50)] | None = None
    audience: Audience = msgspec.field(default_factory=Audience)


class ActivitySpec(ActivityBase, kw_only=True):
    """A lottery: wheel, blind box or golden egg."""

    type: LotteryType
    limits: Limits = msgspec.field(default_factory=Limits)
    points_cost: NonNegative = 0
    prizes: list[PrizeSpec]


def validate_common(spec: ActivityBase) -> None:
    """The rules of every activity: a known time zone, a window that ends after it starts."""
    if spec.timezone not in _timezones():
        raise invalid("unknown_timezone", f"unknown time zone {spec.timezone!r}", field="timezone")
    if spec.ends_at <= spec.starts_at:
        raise invalid("window_invalid", "ends_at must be after starts_at", field="ends_at")


def validate_spec(spec: ActivitySpec) -> None:
    """Raise an `invalid` PromoError naming the first broken rule."""
    validate_common(spec)
    if not spec.prizes:
        raise invalid("no_prizes", "an activity needs at least one prize", field="prizes")
    if len(spec.prizes) > 50:
        raise invalid("too_many_prizes", "at most 50 prizes per activity", field="prizes")
    thanks = [p for p in spec.prizes if p.type == "thanks"]
    if len(thanks) != 1:
        raise invalid(
            "consolation_prize_required",
            'exactly one consolation prize (type "thanks") is required',
            field="prizes",
        )
    if thanks[0].stock is not None or thanks[0].daily_stock is not None or thanks[0].per_user_cap:
        raise invalid(
            "consolation_must_be_unlimited",
            "the consolation prize has unlimited stock and no caps",
            field="prizes",
        )
    for index, prize in enumerate(spec.prizes):
        if prize.type != "thanks" and prize.stock is None:
            raise invalid("stock_required", f"prize {prize.name!r} needs a total stock", field=f"prizes[{index}]")
        if (prize.type == "points") != (prize.points is not None):
            raise invalid(
                "points_amount_mismatch",
                'a "points" prize needs a points amount, and only a "points" prize has one',
                field=f"prizes[{index}].points",
            )
        if not prize.value_cny.is_finite() or prize.value_cny < 0:
            raise invalid(
                "prize_value_invalid", "value_cny must be a non-negative amount", field=f"prizes[{index}].value_cny"
            )
        if prize.value_cny > TOP_PRIZE_MAX_CNY:
            raise invalid(
                "prize_value_too_high",
                f"prize {prize.name!r} is worth more than {TOP_PRIZE_MAX_CNY} CNY",
                field=f"prizes[{index}].value_cny",
            )
    total = sum(p.weight for p in spec.prizes)
    if total == 0:
        raise invalid("weights_all_zero", "at least one prize needs a positive weight", field="prizes")
    if total > MAX_TOTAL_WEIGHT:
        raise invalid("weights_too_large", f"the weights must add up to at most {MAX_TOTAL_WEIGHT}", field="prizes")


_TIMEZONES: set[str] | None = None


def _timezones() -> set[str]:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = available_timezones()
    return _TIMEZONES


class Prize(msgspec.Struct, kw_only=True):
    id: int
    name: str
    type: PrizeType
    weight: int
    stock: int | None
    daily_stock: int | None
    per_user_cap: int | None
    value_cny: Decimal
    points: int | None = None

    @property
    def is_consolation(self) -> bool:
        return self.type == "thanks"


class Activity(msgspec.Struct, kw_only=True):
    id: int
    type: ActivityType
    name: str
    status: Status
    starts_at: datetime
    ends_at: datetime
    timezone: str
    skin: str | None
    audience: Audience
    limits: Limits
    points_cost: int
    prizes: list[Prize]
    config: dict[str, Any] = msgspec.field(default_factory=dict)  # a gameplay's own settings (JSON)

    @property
    def is_lottery(self) -> bool:
        return self.type in LOTTERY_TYPES

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def consolation(self) -> Prize:
        return next(p for p in self.prizes if p.is_consolation)

    def prize(self, prize_id: int) -> Prize:
        return next(p for p in self.prizes if p.id == prize_id)

    def odds(self) -> dict[int, float]:
        """The disclosed probability of each prize being picked (before any out-of-stock fallback)."""
        total = sum(p.weight for p in self.prizes)
        return {p.id: p.weight / total for p in self.prizes} if total else {}


# Every status after publishing. Redis holds the live state of these activities and the audit
# writer follows their streams: an ended one may still have events in flight, reservations to
# redeem or expire.
PUBLISHED_STATUSES: tuple[Status, ...] = ("live", "paused", "ended")

# Operator transitions: action -> (allowed from, to)
TRANSITIONS: dict[str, tuple[frozenset[str], Status]] = {
    "publish": (frozenset({"draft"}), "live"),
    "pause": (frozenset({"live"}), "paused"),
    "resume": (frozenset({"paused"}), "live"),
    "end": (frozenset({"live", "paused"}), "ended"),
}
