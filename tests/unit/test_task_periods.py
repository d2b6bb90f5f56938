"""Task periods across DST: every instant lies in exactly one period, periods tile, start at a
local midnight (the first instant of the local day), and weeks start on Mondays."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.periods import midnight_ms, period_of

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago"]
instants = st.integers(min_value=946_684_800_000, max_value=2_208_988_800_000)  # 2000..2040


@settings(max_examples=400, deadline=None)
@given(instants, st.sampled_from(ZONES), st.sampled_from(["daily", "weekly"]))
def test_periods_hold_the_instant_and_tile(now_ms: int, zone: str, kind: str) -> None:
    tz = ZoneInfo(zone)
    period = period_of(kind, now_ms, tz, 0, 0)  # type: ignore[arg-type]
    assert period.start_ms <= now_ms < period.end_ms
    following = period_of(kind, period.end_ms, tz, 0, 0)  # type: ignore[arg-type]
    assert following.start_ms == period.end_ms  # no gap, no overlap
    previous = period_of(kind, period.start_ms - 1, tz, 0, 0)  # type: ignore[arg-type]
    assert previous.end_ms == period.start_ms
    start = datetime.fromtimestamp(period.start_ms / 1000, tz)
    assert start.date().isoformat() == period.name  # the first instant of the local day
    assert datetime.fromtimestamp((period.start_ms - 1) / 1000, tz).date() < start.date()
    hours = (period.end_ms - period.start_ms) / 3_600_000
    if kind == "daily":
        assert 22 <= hours <= 26  # 23 or 25 on DST days (23.5/24.5 at Lord Howe)
    else:
        assert start.weekday() == 0 and 7 * 24 - 2 <= hours <= 7 * 24 + 2


def test_a_spring_forward_day_is_23_hours_in_new_york() -> None:
    tz = ZoneInfo("America/New_York")
    day = datetime(2026, 3, 8, 12, tzinfo=tz)
    period = period_of("daily", int(day.timestamp() * 1000), tz, 0, 0)
    assert period.end_ms - period.start_ms == int(timedelta(hours=23).total_seconds() * 1000)


def test_a_midnight_that_does_not_exist_starts_the_day_at_the_jump() -> None:
    tz = ZoneInfo("America/Santiago")  # 2026-09-06 00:00 does not exist: clocks jump to 01:00
    start = datetime.fromtimestamp(midnight_ms(datetime(2026, 9, 6).date(), tz) / 1000, tz)
    assert (start.date().isoformat(), start.hour) == ("2026-09-06", 1)


def test_once_is_the_whole_activity() -> None:
    period = period_of("once", 5, ZoneInfo("UTC"), 1, 10)
    assert (period.name, period.start_ms, period.end_ms) == ("once", 1, 10)
