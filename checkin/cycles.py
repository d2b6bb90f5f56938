"""A sign-in activity's days: its first and last local day, the cycle holding a day, how long
the cycle's and the day's Redis keys live, the month a calendar shows. Pure (no Redis, no SQL)."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from activities.clock import day_end_ms, local_day, to_ms
from activities.errors import Kind, PromoError
from activities.model import Activity
from activities.service import DAY_KEY_GRACE_MS
from checkin.model import CheckinRules
from checkin.streak import Period, cycle_of


def first_day(activity: Activity) -> date:
    """The activity's first local day."""
    return local_day(to_ms(activity.starts_at), activity.tz)


def last_day(activity: Activity) -> date:
    """The activity's last local day (its end is exclusive)."""
    return local_day(to_ms(activity.ends_at) - 1, activity.tz)


def period_of(activity: Activity, rules: CheckinRules, day: date) -> Period:
    """The cycle holding `day` (a rolling cycle counts from the activity's first day)."""
    cycle = rules.cycle
    return cycle_of(day, cycle.kind, rolling_days=cycle.days or 0, first_day=first_day(activity))


def key_ttls_ms(activity: Activity, period: Period, today: date, now_ms: int) -> tuple[int, int]:
    """How long the cycle's key and today's counters live from `now_ms`: a day past their end."""
    cycle_end = day_end_ms(period.end - timedelta(days=1), activity.tz)
    return cycle_end + DAY_KEY_GRACE_MS - now_ms, day_end_ms(today, activity.tz) + DAY_KEY_GRACE_MS - now_ms


def month_bounds(month: str | None, today: date) -> tuple[date, date]:
    """The first and last day of "YYYY-MM" (default: this month)."""
    first = today.replace(day=1)
    if month is not None:
        try:
            first = datetime.strptime(month, "%Y-%m").date()
        except ValueError as exc:
            raise PromoError(Kind.MALFORMED, "invalid_parameter", "month must be YYYY-MM", field="month") from exc
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def makeups_left(rules: CheckinRules, made_up: int) -> int | None:
    """Make-ups the member has left in the cycle; None: the activity has no make-up."""
    return None if rules.makeup is None else max(rules.makeup.per_cycle - made_up, 0)


def reward_indexes(rewards: str) -> list[int]:
    """The reward indexes of a mark as stored ("0,2", "" or "-": none)."""
    return [int(i) for i in rewards.split(",") if i and i != "-"]
