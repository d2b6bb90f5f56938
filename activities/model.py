"""Activities: the shapes every gameplay shares, the bounds of the boundary, the rules of every activity.

Every gameplay shares `ActivityBase` (name, window, time zone, audience) and `Activity` (what
the kernel keeps of it); each gameplay adds its own settings in its own package (its spec, kept
as the activity's `config` or in its own tables). Validation that a JSON schema cannot express
(end after start, a known time zone) lives in plain functions: `validate_common` here, each
gameplay's own beside its spec.
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
ActivityType = str  # a registered gameplay's type (api/gameplays.py names them)
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


ListId = Annotated[int, msgspec.Meta(ge=1, le=MAX_SAFE_INT)]


class AudienceLists(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Operators' audience lists (`POST /operator/lists`): a member must be in one of the `require`
    (allow) lists, if any, and in none of the `exclude` (deny) lists."""

    require: Annotated[list[ListId], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=list)
    exclude: Annotated[list[ListId], msgspec.Meta(max_length=10)] = msgspec.field(default_factory=list)


class Audience(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Empty lists mean everyone. A member qualifies with an allowed level AND any allowed tag
    (and, with `lists`, by the audience lists: checked in Redis, `ActivityService.admit`)."""

    levels: Annotated[list[Label], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)
    tags: Annotated[list[Label], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)
    lists: AudienceLists | None = None

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


def validate_common(spec: ActivityBase) -> None:
    """The rules of every activity: a known time zone, a window that ends after it starts."""
    if spec.timezone not in _timezones():
        raise invalid("unknown_timezone", f"unknown time zone {spec.timezone!r}", field="timezone")
    if spec.ends_at <= spec.starts_at:
        raise invalid("window_invalid", "ends_at must be after starts_at", field="ends_at")
    if spec.experiment is not None:
        prizes = getattr(spec, "prizes", None)
        validate_experiment(spec.experiment, None if prizes is None else len(prizes))


_TIMEZONES: set[str] | None = None


def _timezones() -> set[str]:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = available_timezones()
    return _TIMEZONES


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
    config: dict[str, Any] = msgspec.field(default_factory=dict)  # a gameplay's own settings (JSON)
    experiment: Experiment | None = None
    buckets: int = 1  # Redis slots its live state spreads over (activities/keys.py `tag`)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


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
