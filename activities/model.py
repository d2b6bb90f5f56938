"""Activities and prizes: the shapes operators send, the rules they must satisfy, the shapes we keep.

Every gameplay shares `ActivityBase` (name, window, time zone, audience); a lottery adds its
limits and prize pool (`ActivitySpec`), other gameplays add their own settings, kept as the
activity's `config` (see checkin/model.py). Validation that a JSON schema cannot express
(exactly one consolation prize, end after start, the regulatory cap on the top prize) lives in
plain functions: `validate_common`, `validate_spec`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

import msgspec

from activities.errors import invalid
from activities.experiment import Experiment, validate_experiment

# No amount of money a spec carries (a price, a prize's value) is above this.
MAX_CNY = Decimal(100_000_000)
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

# --- the boundary: every number and every text an operator or a player sends is bounded here ----
#
# Lua computes with doubles and prints numbers with 14 significant digits, Redis counters are
# 64-bit, PostgreSQL's INTEGER is 32-bit: every integer a spec or a body carries that can reach
# Lua, Redis or an INTEGER column is at most MAX_COUNT, far inside all of them (and below 2**53,
# what JSON clients and doubles hold exactly). Sums of them (a stock after additions) are held to
# MAX_COUNT too.
MAX_SAFE_INT = 2**53 - 1
MAX_COUNT = 1_000_000_000
BoundedInt = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]  # the one bounded integer of every spec
NonNegative = BoundedInt
Positive = Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)]

# Times and days every spec and body carries lie in this range (a year 1 or 9999 breaks time
# zone arithmetic and epoch milliseconds); checked when a struct is decoded, before anything is written.
MIN_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2100, 1, 1, tzinfo=UTC)
MIN_DAY, MAX_DAY = MIN_TIME.date(), MAX_TIME.date()
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]

# Free text (names, labels, device ids...): no NUL or other control characters, no bidi
# overrides or isolates (U+202A-202E, U+2066-2069) that make a name display as another.
SAFE_TEXT = "^[^\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]*$"
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=SAFE_TEXT)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=SAFE_TEXT)]
ShortText = Annotated[str, msgspec.Meta(max_length=50, pattern=SAFE_TEXT)]
DeviceId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=SAFE_TEXT)]
TimeZoneName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=SAFE_TEXT)]


def check_time(value: datetime, field: str) -> None:
    """Raise ValueError (msgspec turns it into a 422 naming `field`) outside MIN_TIME..MAX_TIME."""
    if not MIN_TIME <= value <= MAX_TIME:
        raise ValueError(f"{field} must be between {MIN_TIME:%Y-%m-%d} and {MAX_TIME:%Y-%m-%d}")


def check_day(value: date, field: str) -> None:
    if not MIN_DAY <= value <= MAX_DAY:
        raise ValueError(f"{field} must be between {MIN_DAY} and {MAX_DAY}")


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

    levels: Annotated[list[Label], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)
    tags: Annotated[list[Label], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)

    def admits(self, level: str | None, tags: list[str]) -> bool:
        if self.levels and level not in self.levels:
            return False
        return not self.tags or any(tag in self.tags for tag in tags)


class ActivityBase(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What every activity has, whatever its gameplay."""

    name: Name
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: TimeZoneName = "Asia/Shanghai"
    skin: ShortText | None = None
    audience: Audience = msgspec.field(default_factory=Audience)
    experiment: Experiment | None = None  # A/B variants (activities/experiment.py)

    def __post_init__(self) -> None:
        check_time(self.starts_at, "starts_at")
        check_time(self.ends_at, "ends_at")


class ActivitySpec(ActivityBase, kw_only=True):
    """A lottery: wheel, blind box or golden egg."""

    type: LotteryType
    limits: Limits = msgspec.field(default_factory=Limits)
    points_cost: NonNegative = 0
    prizes: Annotated[list[PrizeSpec], msgspec.Meta(max_length=50)]


def validate_common(spec: ActivityBase) -> None:
    """The rules of every activity: a known time zone, a window that ends after it starts."""
    if spec.timezone not in _timezones():
        raise invalid("unknown_timezone", f"unknown time zone {spec.timezone!r}", field="timezone")
    if spec.ends_at <= spec.starts_at:
        raise invalid("window_invalid", "ends_at must be after starts_at", field="ends_at")
    if spec.experiment is not None:
        prizes = getattr(spec, "prizes", None)
        validate_experiment(spec.experiment, None if prizes is None else len(prizes))


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
    experiment: Experiment | None = None

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
