"""Time, injectable. The "day" of every quota is the activity's local day."""

from __future__ import annotations

import functools
import time
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FixedClock:
    """A clock tests move by hand: no sleeping tests."""

    def __init__(self, now_ms: int) -> None:
        self._now_ms = now_ms

    def now_ms(self) -> int:
        return self._now_ms

    def set(self, when: datetime) -> None:
        self._now_ms = to_ms(when)

    def advance(self, **delta: float) -> None:
        self._now_ms += int(timedelta(**delta).total_seconds() * 1000)


def to_ms(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    return int(when.timestamp() * 1000)


def from_ms(ms: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz)


def local_day(now_ms: int, tz: ZoneInfo) -> date:
    return from_ms(now_ms, tz).date()


@functools.lru_cache(maxsize=4096)  # a pure function of (day, zone), on every action's path
def day_end_ms(day: date, tz: ZoneInfo) -> int:
    """The first millisecond of the next local day (DST-safe: midnight is resolved in the zone)."""
    next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz)
    return to_ms(next_midnight)
