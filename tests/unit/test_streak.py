"""The pure sign-in rules: cycles, streaks, rewards reached, make-up checks; and a property test
of the reward arithmetic against a plain reference model (hypothesis)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkin.streak import (
    Period,
    Thresholds,
    apply_mark,
    current_streak,
    cycle_of,
    day_status,
    longest_run,
    makeup_refusal,
    marked_count,
    newly_reached,
    next_rewards,
)

# Daily reward 0; streak rewards at 3 days (1) and 7 days (2); cumulative at 5 (3).
TABLE = Thresholds(daily=0, streak=((3, 1), (7, 2)), cumulative=((5, 3),))


def test_cycles_are_calendar_periods() -> None:
    wednesday = date(2026, 6, 3)
    assert cycle_of(wednesday, "weekly") == Period(date(2026, 6, 1), 7)  # from Monday
    assert cycle_of(date(2026, 6, 7), "weekly") == Period(date(2026, 6, 1), 7)  # Sunday: same week
    assert cycle_of(date(2026, 6, 8), "weekly") == Period(date(2026, 6, 8), 7)
    assert cycle_of(wednesday, "monthly") == Period(date(2026, 6, 1), 30)
    assert cycle_of(date(2028, 2, 29), "monthly") == Period(date(2028, 2, 1), 29)  # a leap February
    first = date(2026, 5, 30)
    assert cycle_of(first, "rolling", rolling_days=10, first_day=first) == Period(first, 10)
    assert cycle_of(date(2026, 6, 8), "rolling", rolling_days=10, first_day=first) == Period(first, 10)
    assert cycle_of(date(2026, 6, 9), "rolling", rolling_days=10, first_day=first) == Period(date(2026, 6, 9), 10)
    with pytest.raises(ValueError):
        cycle_of(first, "rolling", rolling_days=10)


def test_period_arithmetic() -> None:
    week = Period(date(2026, 6, 1), 7)
    assert week.end == date(2026, 6, 8)
    assert week.offset(date(2026, 6, 3)) == 2 and week.day(2) == date(2026, 6, 3)
    assert date(2026, 6, 7) in week and date(2026, 6, 8) not in week and date(2026, 5, 31) not in week


def test_streaks() -> None:
    assert longest_run("0110111") == 3
    assert marked_count("0210120") == 4
    assert current_streak("1110000", 3) == 3  # today not signed yet: yesterday's streak still counts
    assert current_streak("1111000", 3) == 4
    assert current_streak("1101000", 3) == 1  # today signed after a gap
    assert current_streak("1100000", 3) == 0  # yesterday missed: the streak is broken
    assert current_streak("2000000", 0) == 1


def test_a_sign_in_grants_the_daily_reward_and_thresholds_it_reaches() -> None:
    day3 = apply_mark("1100000", 2, 2, "signin", TABLE)
    assert (day3.marks, day3.streak, day3.cumulative, day3.rewards) == ("1110000", 3, 3, [0, 1])
    day4 = apply_mark("1110000", 3, 3, "signin", TABLE)
    assert day4.rewards == [0]  # the 3-day streak reward is not granted twice


def test_a_make_up_joining_two_runs_grants_what_the_joined_run_newly_reaches() -> None:
    # Signed Mon-Tue and Thu-Sun, Wed missed: runs of 2 and 4, six days (the 5-day reward).
    marks = "1101111"
    assert newly_reached("0000000", marks, TABLE, "signin") == [0, 1, 3]  # (daily, 3-day, 5 days)
    joined = apply_mark(marks, 2, 6, "makeup", TABLE)
    assert joined.marks == "1121111"
    assert joined.streak == 7 and joined.cumulative == 7
    assert joined.rewards == [2]  # the 7-day reward, once; no daily reward for a make-up
    with pytest.raises(ValueError):
        apply_mark(joined.marks, 2, 6, "makeup", TABLE)


def test_make_up_calendar_rules() -> None:
    week = Period(date(2026, 6, 1), 7)
    today, first = date(2026, 6, 5), date(2026, 5, 1)

    def why(day: date, first_day: date = first) -> str | None:
        return makeup_refusal(day, today, week, first_day, max_days_back=3)

    assert why(date(2026, 6, 2)) is None  # 3 days back
    assert why(date(2026, 6, 1)) == "makeup_too_far_back"
    assert why(date(2026, 6, 5)) == "makeup_not_in_past"
    assert why(date(2026, 6, 6)) == "makeup_not_in_past"
    assert why(date(2026, 5, 31)) == "makeup_outside_cycle"
    assert why(date(2026, 6, 3), first_day=date(2026, 6, 4)) == "makeup_before_start"


def test_next_rewards() -> None:
    # Wednesday, signed Mon-Tue: two more sign-ins reach 3 days; three more reach 5 in the week.
    found = next_rewards("1100000", 2, TABLE)
    assert [(n.rule, n.at, n.reward_index, n.sign_ins_needed, n.reachable) for n in found] == [
        ("streak", 3, 1, 1, True),
        ("cumulative", 5, 3, 3, True),
    ]
    # Saturday, only Saturday signed: with Sunday left, neither is within reach this week.
    late = next_rewards("0000010", 5, TABLE)
    assert [(n.at, n.sign_ins_needed, n.reachable) for n in late] == [(3, 2, False), (5, 4, False)]
    # Friday, not signed yet, Mon-Thu signed: today and the weekend reach 7 days.
    assert [(n.at, n.sign_ins_needed, n.reachable) for n in next_rewards("1111000", 4, TABLE)] == [
        (7, 3, True),
        (5, 1, True),
    ]
    assert next_rewards("1111111", 6, TABLE) == []


def test_day_status() -> None:
    today, opens, closes = date(2026, 6, 10), date(2026, 6, 5), date(2026, 6, 20)

    def status(day: int, kind: str = "") -> str:
        return day_status(date(2026, 6, day), kind, today, opens, closes)

    assert [status(4), status(5), status(9), status(10), status(11), status(20), status(21)] == [
        "closed",
        "missed",
        "missed",
        "today",
        "upcoming",
        "upcoming",
        "closed",
    ]
    assert (status(9, "signin"), status(9, "makeup"), status(10, "signin")) == ("signed", "made_up", "signed")


# --- property test against a reference model ----------------------------------------------------


def reference_streak(signed: set[int], today: int) -> int:
    day = today if today in signed else today - 1
    streak = 0
    while day in signed:
        streak += 1
        day -= 1
    return streak


def reference_longest(signed: set[int]) -> int:
    return max((reference_streak(signed, start) for start in signed), default=0)


@st.composite
def histories(draw: st.DrawFn) -> tuple[int, Thresholds, list[tuple[int, str, int]]]:
    """A cycle length, a reward table, and a member's history: (today, kind, day) in time order,
    each day signed in or not, with make-ups of earlier free days in between."""
    length = draw(st.integers(min_value=1, max_value=31))
    streak_days = sorted(draw(st.sets(st.integers(min_value=1, max_value=length), max_size=4)))
    counts = sorted(draw(st.sets(st.integers(min_value=1, max_value=length), max_size=3)))
    daily = draw(st.sampled_from([None, 0]))
    first = 0 if daily is None else 1
    table = Thresholds(
        daily=daily,
        streak=tuple((d, first + i) for i, d in enumerate(streak_days)),
        cumulative=tuple((c, first + len(streak_days) + i) for i, c in enumerate(counts)),
    )
    history: list[tuple[int, str, int]] = []
    marked: set[int] = set()
    for today in range(length):
        if draw(st.booleans()):
            history.append((today, "signin", today))
            marked.add(today)
        free = [d for d in range(today) if d not in marked]
        for day in draw(st.lists(st.sampled_from(free), max_size=2, unique=True)) if free else []:
            history.append((today, "makeup", day))
            marked.add(day)
    return length, table, history


@settings(max_examples=300, deadline=None)
@given(histories())
def test_rewards_and_streaks_match_the_reference_model(
    case: tuple[int, Thresholds, list[tuple[int, str, int]]],
) -> None:
    length, table, history = case
    marks = "0" * length
    signed: set[int] = set()
    granted: list[int] = []
    for today, kind, day in history:
        outcome = apply_mark(marks, day, today, kind, table)  # type: ignore[arg-type]
        signed.add(day)
        # The reference: what is reached now and was not reached before, in table order.
        expected = [table.daily] if kind == "signin" and table.daily is not None else []
        expected += [i for d, i in table.streak if d <= reference_longest(signed) and i not in granted]
        expected += [i for c, i in table.cumulative if c <= len(signed) and i not in granted]
        assert outcome.rewards == expected
        assert outcome.streak == reference_streak(signed, today)
        assert outcome.cumulative == len(signed)
        granted += outcome.rewards
        marks = outcome.marks
    # Every threshold reward is granted at most once, and exactly those the final marks reach.
    once = [i for i in granted if i != table.daily]
    assert len(once) == len(set(once))
    assert set(once) == {i for d, i in table.streak if d <= longest_run(marks)} | {
        i for c, i in table.cumulative if c <= marked_count(marks)
    }
