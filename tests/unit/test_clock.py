"""Local-day arithmetic of activities.clock (no Redis); the quotas that follow it: tests/integration/test_days.py."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from activities.clock import day_end_ms, local_day, to_ms


def test_day_arithmetic_across_dst() -> None:
    new_york = ZoneInfo("America/New_York")
    # 8 March 2026 has 23 hours in New York; 1 November has 25.
    assert day_end_ms(date(2026, 3, 8), new_york) - day_end_ms(date(2026, 3, 7), new_york) == 23 * 3600_000
    assert day_end_ms(date(2026, 11, 1), new_york) - day_end_ms(date(2026, 10, 31), new_york) == 25 * 3600_000
    just_before = to_ms(datetime(2026, 11, 1, 23, 59, 59, tzinfo=new_york))
    assert local_day(just_before, new_york) == date(2026, 11, 1)
    assert local_day(just_before + 1000, new_york) == date(2026, 11, 2)
