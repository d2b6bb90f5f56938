"""The pure rules of sign-in (签到): cycles, marks, streaks, the rewards they reach, make-up checks.

A member's record of one cycle is a string of marks, one character per day of the cycle: "0"
not signed, "1" signed in, "2" made up (补签). `mark.lua` computes exactly the same on the same
strings; tests run both on the same inputs.

Rewards follow from the marks alone. A streak reward of N days is reached once the cycle holds
N consecutive marked days; a cumulative reward of N once it holds N marked days. Marks are only
ever added within a cycle, so runs only grow: each reward is granted once per cycle, the moment
it is first reached, including when a make-up joins two runs into one that reaches it. A daily
reward, if any, goes with every sign-in (not with a make-up, which restores a streak).

Cycles are calendar periods in the activity's time zone: `weekly` from Monday, `monthly` from
the 1st, `rolling` N days at a time from the activity's first day. A streak never crosses a
cycle: it starts again with the new cycle.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

MISSED, SIGNED, MADE_UP = "0", "1", "2"
CycleKind = Literal["weekly", "monthly", "rolling"]
MarkKind = Literal["signin", "makeup"]
DayStatus = Literal["signed", "made_up", "missed", "today", "upcoming", "closed"]


@dataclass(frozen=True)
class Period:
    """One cycle: `length` days from `start`."""

    start: date
    length: int

    @property
    def end(self) -> date:
        """The first day after the cycle."""
        return self.start + timedelta(days=self.length)

    def offset(self, day: date) -> int:
        return (day - self.start).days

    def day(self, offset: int) -> date:
        return self.start + timedelta(days=offset)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end


def cycle_of(day: date, kind: CycleKind, *, rolling_days: int = 0, first_day: date | None = None) -> Period:
    """The cycle holding `day`. A rolling cycle counts from `first_day`, the activity's first day."""
    if kind == "weekly":
        return Period(day - timedelta(days=day.weekday()), 7)
    if kind == "monthly":
        return Period(day.replace(day=1), calendar.monthrange(day.year, day.month)[1])
    if first_day is None or rolling_days < 1:
        raise ValueError("a rolling cycle needs its length and the activity's first day")
    index = (day - first_day).days // rolling_days  # floor: days before the first day fall in cycle -1
    return Period(first_day + timedelta(days=index * rolling_days), rolling_days)


def longest_run(marks: str) -> int:
    best = run = 0
    for mark in marks:
        run = run + 1 if mark != MISSED else 0
        best = max(best, run)
    return best


def marked_count(marks: str) -> int:
    return len(marks) - marks.count(MISSED)


def made_up_count(marks: str) -> int:
    return marks.count(MADE_UP)


def current_streak(marks: str, today: int) -> int:
    """Consecutive marked days ending today, or yesterday while today is not signed yet (the
    streak is still alive until the day is over)."""
    index = today if marks[today] != MISSED else today - 1
    streak = 0
    while index >= 0 and marks[index] != MISSED:
        streak += 1
        index -= 1
    return streak


def set_mark(marks: str, offset: int, kind: MarkKind) -> str:
    if marks[offset] != MISSED:
        raise ValueError(f"day {offset} of the cycle is already marked")
    return marks[:offset] + (SIGNED if kind == "signin" else MADE_UP) + marks[offset + 1 :]


@dataclass(frozen=True)
class Thresholds:
    """When the rewards of a sign-in activity are granted; each names its reward by index."""

    daily: int | None = None  # given with every sign-in
    streak: Sequence[tuple[int, int]] = field(default_factory=tuple)  # (days, index), ascending days
    cumulative: Sequence[tuple[int, int]] = field(default_factory=tuple)  # (count, index), ascending count


def newly_reached(before: str, after: str, thresholds: Thresholds, kind: MarkKind) -> list[int]:
    """The rewards a mark grants, in order: daily, then streak, then cumulative (ascending)."""
    run_before, run_after = longest_run(before), longest_run(after)
    count_before, count_after = marked_count(before), marked_count(after)
    rewards = [thresholds.daily] if kind == "signin" and thresholds.daily is not None else []
    rewards += [index for days, index in thresholds.streak if run_before < days <= run_after]
    rewards += [index for count, index in thresholds.cumulative if count_before < count <= count_after]
    return rewards


@dataclass(frozen=True)
class Outcome:
    marks: str
    streak: int
    cumulative: int
    rewards: list[int]


def apply_mark(marks: str, offset: int, today: int, kind: MarkKind, thresholds: Thresholds) -> Outcome:
    """Mark a day (today for a sign-in, an earlier day of the cycle for a make-up)."""
    after = set_mark(marks, offset, kind)
    return Outcome(
        marks=after,
        streak=current_streak(after, today),
        cumulative=marked_count(after),
        rewards=newly_reached(marks, after, thresholds, kind),
    )


def makeup_refusal(target: date, today: date, period: Period, first_day: date, max_days_back: int) -> str | None:
    """Why a make-up of `target` is not allowed by the calendar rules, or None. (Whether the day
    is free and the member has make-ups left depends on the live state: the script checks.)"""
    if target >= today:
        return "makeup_not_in_past"
    if target < first_day:
        return "makeup_before_start"
    if target not in period:
        return "makeup_outside_cycle"
    if (today - target).days > max_days_back:
        return "makeup_too_far_back"
    return None


@dataclass(frozen=True)
class NextReward:
    rule: Literal["streak", "cumulative"]
    at: int  # streak days or cumulative count
    reward_index: int
    sign_ins_needed: int  # from today on, without a break
    reachable: bool  # enough days are left in the cycle


def next_rewards(marks: str, today: int, thresholds: Thresholds) -> list[NextReward]:
    """The next streak reward and the next cumulative reward not reached yet in this cycle."""
    days_left = len(marks) - today - (marks[today] != MISSED)  # sign-ins still possible, today included
    found: list[NextReward] = []
    longest, streak, count = longest_run(marks), current_streak(marks, today), marked_count(marks)
    for days, index in thresholds.streak:
        if days > longest:
            found.append(NextReward("streak", days, index, days - streak, days - streak <= days_left))
            break
    for total, index in thresholds.cumulative:
        if total > count:
            found.append(NextReward("cumulative", total, index, total - count, total - count <= days_left))
            break
    return found


def day_status(day: date, kind: str, today: date, open_from: date, open_until: date) -> DayStatus:
    """What a calendar shows for a day; `kind` is how the day was marked ("" if not), the
    activity is open from `open_from` to `open_until` (local days, both included)."""
    if kind:
        return "signed" if kind == "signin" else "made_up"
    if not open_from <= day <= open_until:
        return "closed"
    return "missed" if day < today else "today" if day == today else "upcoming"
