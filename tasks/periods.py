"""Task periods (pure: no clock, no state): the local day, the local week (Monday first) or the
whole activity, as instants in the activity's time zone. DST-safe: boundaries are local
midnights resolved in the zone, so a period may last 23 or 25 hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["daily", "weekly", "once"]
ONCE = "once"  # the period name of a one-off task


@dataclass(frozen=True)
class TaskPeriod:
    name: str  # "2026-06-01" (a day, or the Monday of a week) or "once": part of Redis keys
    start_ms: int  # first millisecond of the period
    end_ms: int  # first millisecond after it ("once": the activity's end)


def midnight_ms(day: date, tz: ZoneInfo) -> int:
    """The first millisecond of a local day (a midnight that does not exist in the zone, at a DST
    jump, resolves to the first instant after it)."""
    # fold=0 of a midnight in a gap takes the offset before the jump: the first instant of the day
    return int(datetime.combine(day, datetime.min.time(), tz).timestamp() * 1000)


def period_of(kind: PeriodKind, now_ms: int, tz: ZoneInfo, activity_start_ms: int, activity_end_ms: int) -> TaskPeriod:
    """The period of a task of `kind` holding the instant `now_ms`."""
    if kind == "once":
        return TaskPeriod(ONCE, activity_start_ms, activity_end_ms)
    day = datetime.fromtimestamp(now_ms / 1000, tz).date()
    if kind == "weekly":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    else:
        first, last = day, day + timedelta(days=1)
    return TaskPeriod(first.isoformat(), midnight_ms(first, tz), midnight_ms(last, tz))
