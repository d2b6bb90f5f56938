"""Paced release and budgets, pure (lottery/pacing.py and their part of lottery/odds.py): periods
counted from the start, what a plan releases, the budget's fallback, the spec's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from activities.clock import to_ms
from activities.errors import PromoError
from lottery.model import LotterySpec, validate_spec
from lottery.odds import Availability, PrizeRule, decide, is_available
from lottery.pacing import (
    Periods,
    ReleasePlan,
    counter_field,
    from_fen,
    period_bounds_ms,
    periods,
    release_room,
    released,
    to_fen,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 6, 1, 10, 30, tzinfo=SHANGHAI)


def test_periods_count_clock_hours_and_local_days_from_the_start() -> None:
    assert periods(to_ms(START), START, SHANGHAI) == Periods(hour=0, day=0)
    assert periods(to_ms(START.replace(minute=59, second=59)), START, SHANGHAI) == Periods(0, 0)
    assert periods(to_ms(START.replace(hour=11, minute=0)), START, SHANGHAI) == Periods(1, 0)  # the next clock hour
    assert periods(to_ms(START.replace(hour=23, minute=59)), START, SHANGHAI) == Periods(13, 0)
    # Local midnight in Shanghai, not UTC's: 00:00 +08:00 is already day 1.
    assert periods(to_ms(datetime(2026, 6, 2, 0, 0, tzinfo=SHANGHAI)), START, SHANGHAI) == Periods(14, 1)
    assert periods(to_ms(START + timedelta(days=3)), START, SHANGHAI) == Periods(72, 3)


def test_period_bounds_are_the_clock_hour_and_the_local_day() -> None:
    at = periods(to_ms(START + timedelta(hours=2, minutes=5)), START, SHANGHAI)
    hourly = ReleasePlan(per="hour", units=3)
    assert period_bounds_ms(hourly, at, START, SHANGHAI) == (
        to_ms(datetime(2026, 6, 1, 12, 0, tzinfo=SHANGHAI)),
        to_ms(datetime(2026, 6, 1, 13, 0, tzinfo=SHANGHAI)),
    )
    daily = ReleasePlan(per="day", units=3)
    assert period_bounds_ms(daily, at, START, SHANGHAI) == (
        to_ms(datetime(2026, 6, 1, tzinfo=SHANGHAI)),
        to_ms(datetime(2026, 6, 2, tzinfo=SHANGHAI)),
    )


def test_rollover_accumulates_and_no_rollover_resets_each_period() -> None:
    roll = ReleasePlan(per="hour", units=5, rollover=True)
    fixed = ReleasePlan(per="hour", units=5, rollover=False)
    at = Periods(hour=3, day=0)
    assert released(roll, at) == 20 and released(fixed, at) == 5
    assert counter_field(7, roll, at) == "r:7" and counter_field(7, fixed, at) == "r:7:3"
    assert release_room(roll, 7, at, {"r:7": 18}) == 2
    assert release_room(fixed, 7, at, {"r:7:2": 5, "r:7:3": 4}) == 1  # last hour's units do not count
    assert release_room(fixed, 7, at, {"r:7:3": 9}) == 0  # never negative


RULES = [
    PrizeRule(id=1, weight=50, limited=True, value_fen=100_00, release=ReleasePlan(per="hour", units=2)),
    PrizeRule(id=2, weight=50, limited=True, value_fen=30_00),
    PrizeRule(id=3, weight=0, consolation=True),
]


def _state(paced: dict[str, int], budget_fen: int | None = None, hour: int = 0) -> Availability:
    return Availability(
        stock_left={1: 10, 2: 10}, granted_today={}, user_wins={}, paced=paced, periods=Periods(hour, 0),
        budget_fen=budget_fen,
    )  # fmt: skip


def test_a_prize_beyond_its_release_falls_back_like_out_of_stock() -> None:
    assert is_available(RULES[0], _state({"r:1": 1}))
    assert not is_available(RULES[0], _state({"r:1": 2}))
    assert is_available(RULES[0], _state({"r:1": 2}, hour=1))  # the next hour releases 2 more
    picked, won = decide(RULES, 0, _state({"r:1": 2}))
    assert (picked.id, won.id) == (1, 3)


def test_a_prize_worth_more_than_the_budget_left_is_not_drawable() -> None:
    assert is_available(RULES[0], _state({"spent": 400_00}, budget_fen=500_00))  # exactly the budget: fine
    assert not is_available(RULES[0], _state({"spent": 400_01}, budget_fen=500_00))
    assert is_available(RULES[1], _state({"spent": 400_01}, budget_fen=500_00))  # a cheaper one still is
    assert is_available(RULES[0], _state({"spent": 10**9}))  # no budget
    assert is_available(RULES[2], _state({"spent": 500_00}, budget_fen=500_00))  # the consolation: worth 0


def test_fen_conversions() -> None:
    assert to_fen(Decimal("4999.99")) == 499_999 and to_fen(Decimal(10)) == 1000
    assert from_fen(499_999) == "4999.99" and from_fen(0) == "0.00"


WINDOW = {"starts_at": "2026-12-01T00:00:00+08:00", "ends_at": "2027-12-01T00:00:00+08:00"}
COUPON = {"name": "C", "type": "coupon", "weight": 1, "stock": 5, "value_cny": "10"}
THANKS = {"name": "T", "type": "thanks", "weight": 9}


def _code(prizes: list[dict[str, Any]], **more: Any) -> str | None:
    spec = msgspec.convert({"type": "wheel", "name": "W", **WINDOW, "prizes": prizes, **more}, LotterySpec)
    try:
        validate_spec(spec)
    except PromoError as error:
        return error.code
    return None


def test_spec_rules_of_release_plans_and_budgets() -> None:
    plan = {"per": "day", "units": 2, "rollover": False}
    assert _code([{**COUPON, "release": plan}, THANKS], budget_cny="1000.50") is None
    assert _code([COUPON, {**THANKS, "release": plan}]) == "consolation_must_be_unlimited"
    assert _code([COUPON, THANKS], budget_cny="0") == "budget_invalid"
    assert _code([COUPON, THANKS], budget_cny="10.001") == "budget_invalid"
    assert _code([COUPON, THANKS], budget_cny="10000000.01") == "budget_invalid"
    assert _code([COUPON, THANKS], budget_cny="NaN") == "budget_invalid"
    assert _code([COUPON, {**THANKS, "value_cny": "0.5"}], budget_cny="100") == "budget_consolation_value"
    assert _code([COUPON, {**THANKS, "value_cny": "0.5"}]) is None  # without a budget it may have a value
    for bad in ({"per": "week", "units": 1}, {"per": "hour", "units": 0}, {"per": "hour"}, {**plan, "x": 1}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert({"type": "wheel", "name": "W", **WINDOW, "prizes": [{**COUPON, "release": bad}, THANKS]},
                            LotterySpec)  # fmt: skip


def test_utc_activities_count_days_in_their_zone() -> None:
    start = datetime(2026, 6, 1, 23, 0, tzinfo=UTC)
    assert periods(to_ms(datetime(2026, 6, 2, 0, 30, tzinfo=UTC)), start, ZoneInfo("UTC")).day == 1
    # The same instants in Shanghai (07:00 and 08:30 on 2 June) are the same local day.
    assert periods(to_ms(datetime(2026, 6, 2, 0, 30, tzinfo=UTC)), start, SHANGHAI).day == 0


def test_the_console_dashboard_shows_the_budget_as_a_bar() -> None:
    from console.dashboard import Bar, _bars

    counters = {"budget_cny": "5000.00", "budget_left_cny": "1234.50", "budget_spent_cny": "3765.50", "prizes": []}
    assert _bars(counters) == [Bar("budget CNY", 5000, 1234, 3765)]
    assert _bars({"budget_cny": None, "prizes": []}) == []
