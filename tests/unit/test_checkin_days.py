"""The sign-in's pure day rules beyond the streak arithmetic (tests/unit/test_streak.py): the
activity's first and last local day, rolling cycles counted from it, the lifetimes of the cycle's
and the day's keys, the month a calendar shows, the calendar itself, the rows of a mark."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from activities.clock import day_end_ms, to_ms
from activities.errors import PromoError
from activities.model import Activity, Audience
from activities.service import DAY_KEY_GRACE_MS
from checkin.audit import mark_rows
from checkin.cycles import first_day, key_ttls_ms, last_day, makeups_left, month_bounds, period_of, reward_indexes
from checkin.db import checkin_rewards, checkins
from checkin.model import CheckinRules, config_of, script_terms
from checkin.month import month_view
from checkin.store import MarkRecord, MemberCycle
from checkin.streak import Period, Thresholds

SHANGHAI = ZoneInfo("Asia/Shanghai")


def rules(**changes: object) -> CheckinRules:
    base = {
        "cycle": {"kind": "weekly"},
        "daily_reward": {"type": "points", "points": 5},
        "streak_rewards": [{"days": 3, "reward": {"type": "points", "points": 20}}],
        "cumulative_rewards": [{"count": 5, "reward": {"type": "coupon", "coupon": "C5", "name": "5 CNY off"}}],
        "makeup": {"per_cycle": 2, "max_days_back": 3, "points_cost": 10},
    }
    return msgspec.convert({**base, **changes}, CheckinRules)


def activity(starts: datetime, ends: datetime, checkin: CheckinRules, status: str = "live") -> Activity:
    return Activity(
        id=7,
        type="checkin",
        name="Sign-in",
        status=status,  # type: ignore[arg-type]
        starts_at=starts,
        ends_at=ends,
        timezone="Asia/Shanghai",
        skin=None,
        audience=Audience(),
        config=config_of(checkin),
    )


# Starts at 16:30 UTC on 1 March = 00:30 on 2 March in Shanghai; ends at midnight UTC on 31 March
# = 08:00 on 31 March in Shanghai.
STARTS = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
ENDS = datetime(2026, 3, 31, 0, 0, tzinfo=UTC)


def test_first_and_last_day_are_local_days() -> None:
    shown = activity(STARTS, ENDS, rules())
    assert first_day(shown) == date(2026, 3, 2)
    assert last_day(shown) == date(2026, 3, 31)
    ends_at_local_midnight = activity(STARTS, datetime(2026, 3, 31, tzinfo=SHANGHAI), rules())
    assert last_day(ends_at_local_midnight) == date(2026, 3, 30)  # the end is exclusive


def test_a_rolling_cycle_counts_from_the_first_local_day() -> None:
    rolling = rules(cycle={"kind": "rolling", "days": 10})
    shown = activity(STARTS, ENDS, rolling)
    assert period_of(shown, rolling, date(2026, 3, 2)) == Period(date(2026, 3, 2), 10)
    assert period_of(shown, rolling, date(2026, 3, 11)) == Period(date(2026, 3, 2), 10)
    assert period_of(shown, rolling, date(2026, 3, 12)) == Period(date(2026, 3, 12), 10)
    weekly = rules()
    assert period_of(activity(STARTS, ENDS, weekly), weekly, date(2026, 3, 12)) == Period(date(2026, 3, 9), 7)


def test_keys_live_a_day_past_the_cycle_and_the_day() -> None:
    shown = activity(STARTS, ENDS, rules())
    today = date(2026, 3, 12)  # a Thursday: the cycle runs Monday 9 to Sunday 15
    now_ms = to_ms(datetime(2026, 3, 12, 9, 0, tzinfo=SHANGHAI))
    cycle_ttl, day_ttl = key_ttls_ms(shown, Period(date(2026, 3, 9), 7), today, now_ms)
    assert now_ms + cycle_ttl == day_end_ms(date(2026, 3, 15), SHANGHAI) + DAY_KEY_GRACE_MS
    assert now_ms + day_ttl == day_end_ms(today, SHANGHAI) + DAY_KEY_GRACE_MS
    assert day_ttl == (15 + 24) * 3600 * 1000


def test_month_bounds() -> None:
    assert month_bounds(None, date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert month_bounds("2028-02", date(2026, 2, 14)) == (date(2028, 2, 1), date(2028, 2, 29))
    assert month_bounds("2026-12", date(2026, 2, 14)) == (date(2026, 12, 1), date(2026, 12, 31))
    with pytest.raises(PromoError) as caught:
        month_bounds("2026-13", date(2026, 2, 14))
    assert (caught.value.code, caught.value.details) == ("invalid_parameter", {"field": "month"})


def test_make_ups_left_and_reward_indexes() -> None:
    assert makeups_left(rules(), 0) == 2
    assert makeups_left(rules(), 3) == 0
    assert makeups_left(rules(makeup=None), 0) is None
    assert reward_indexes("0,2") == [0, 2]
    assert reward_indexes("") == reward_indexes("-") == []


def test_the_month_view_marks_each_day() -> None:
    checkin = rules()
    shown = activity(STARTS, ENDS, checkin)
    today, period = date(2026, 3, 12), Period(date(2026, 3, 9), 7)
    # Monday and Tuesday signed, Wednesday missed; today (Thursday) not signed yet.
    member = MemberCycle(
        marks="1100000",
        records={
            0: MarkRecord("m0", "signin", 1, 1, [0], 0),
            1: MarkRecord("m1", "signin", 2, 2, [0], 0),
        },
    )
    marked = {date(2026, 3, 5): ("signin", [0]), date(2026, 3, 9): ("signin", [0]), date(2026, 3, 10): ("signin", [0])}
    view = month_view(shown, checkin, today, date(2026, 3, 1), date(2026, 3, 31), period, member, marked)
    status = {d.date.day: d.status for d in view.days}
    assert status[1] == "closed"  # before the first local day (2 March)
    assert (status[2], status[5], status[9], status[11], status[12], status[13]) == (
        "missed",
        "signed",
        "signed",
        "missed",
        "today",
        "upcoming",
    )
    assert status[31] == "upcoming"
    can_make_up = [d.date.day for d in view.days if d.can_make_up]
    assert can_make_up == [11]  # of the cycle, in the past, at most 3 days back
    assert (view.cycle_start, view.cycle_end) == (date(2026, 3, 9), date(2026, 3, 15))
    # Wednesday broke the run: the streak starts again today.
    assert (view.streak, view.cumulative, view.signed_today, view.makeups_left) == (0, 2, False, 2)
    assert [(n.rule, n.at, n.sign_ins_needed, n.reachable) for n in view.next_rewards] == [
        ("streak", 3, 3, True),
        ("cumulative", 5, 3, True),
    ]
    paused = activity(STARTS, ENDS, checkin, status="paused")
    view = month_view(paused, checkin, today, date(2026, 3, 1), date(2026, 3, 31), period, member, marked)
    assert not any(d.can_make_up for d in view.days)


def test_the_rows_of_a_mark() -> None:
    checkin = rules(linked_lottery_id=3, streak_rewards=[{"days": 3, "reward": {"type": "chances", "chances": 2}}])
    fields = {
        "mark_id": "m1",
        "user_id": "u1",
        "at_ms": "1000",
        "rewards": "0,1",
        "day": "2026-03-12",
        "kind": "signin",
        "cycle_start": "2026-03-09",
        "streak": "3",
        "cumulative": "3",
    }
    rows = mark_rows(7, "1-0", fields, checkin)
    assert [table for table, _ in rows] == [checkins, checkin_rewards, checkin_rewards]
    assert rows[0][1]["rewards"] == "0,1" and rows[0][1]["stream_id"] == "1-0"
    points, chances = rows[1][1], rows[2][1]
    assert (points["ref"], points["type"], points["amount"], points["lottery_id"]) == ("ck:m1:0", "points", 5, None)
    assert (chances["ref"], chances["type"], chances["amount"], chances["lottery_id"]) == ("ck:m1:1", "chances", 2, 3)
    assert mark_rows(7, "1-1", {**fields, "rewards": "-"}, None)[0][1]["rewards"] == ""
    with pytest.raises(ValueError):
        mark_rows(7, "1-2", fields, None)  # rewards need the rules


def test_first_day_is_stable_across_the_utc_date_line() -> None:
    """An activity starting a minute before local midnight starts that local day."""
    starts = datetime(2026, 3, 1, 23, 59, tzinfo=SHANGHAI)
    shown = activity(starts, starts + timedelta(days=3), rules())
    assert first_day(shown) == date(2026, 3, 1)


def test_the_rules_as_the_mark_script_reads_them() -> None:
    """`terms`: daily reward index (-1: none), make-ups a cycle, streak and cumulative thresholds
    "at:index" by ascending threshold ("-": none)."""
    rules = msgspec.convert(
        {
            "cycle": {"kind": "weekly"},
            "daily_reward": {"type": "points", "points": 5},
            "streak_rewards": [
                {"days": 7, "reward": {"type": "points", "points": 50}},
                {"days": 3, "reward": {"type": "points", "points": 20}},
            ],
            "cumulative_rewards": [{"count": 5, "reward": {"type": "points", "points": 50}}],
            "makeup": {"per_cycle": 1, "max_days_back": 2},
        },
        CheckinRules,
    )
    assert rules.script_terms() == "0 1 3:2,7:1 5:3"
    assert script_terms(Thresholds(daily=None), 0) == "-1 0 - -"
