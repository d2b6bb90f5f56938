"""The member's month calendar (签到日历): which days are signed, made up, missed, today or
upcoming, which can still be made up, and the rewards within reach. `month_view` is pure;
`marked_days` reads the days before the current cycle from SQL."""

from __future__ import annotations

from datetime import date, timedelta

from activities.model import Activity
from checkin.cycles import first_day, last_day, makeups_left, reward_indexes
from checkin.model import CheckinRules
from checkin.repository import CheckinRepository
from checkin.schemas import Calendar, CalendarDay, NextRewardView, RewardView
from checkin.store import MemberCycle
from checkin.streak import (
    MISSED,
    Period,
    current_streak,
    day_status,
    made_up_count,
    makeup_refusal,
    marked_count,
    next_rewards,
)

Marked = dict[date, tuple[str, list[int]]]  # day -> (how it was marked, its reward indexes)


async def marked_days(
    repository: CheckinRepository,
    activity: Activity,
    user_id: str,
    first: date,
    last: date,
    period: Period,
    member: MemberCycle,
) -> Marked:
    """(kind, reward indexes) of the member's marked days from `first` to `last`: the current
    cycle live from Redis (`member`), days before it from SQL (only those the activity was open:
    later days cannot be marked yet)."""
    marked: Marked = {}
    since, until = max(first, first_day(activity)), min(last, period.start - timedelta(days=1))
    if since <= until:
        for row in await repository.marks_of_member(activity.id, user_id, since, until):
            marked[date.fromisoformat(row.day)] = (row.kind, reward_indexes(row.rewards))
    for offset, record in member.records.items():
        marked[period.day(offset)] = (record.kind, record.rewards)
    return marked


def month_view(
    activity: Activity,
    rules: CheckinRules,
    today: date,
    first: date,
    last: date,
    period: Period,
    member: MemberCycle,
    marked: Marked,
) -> Calendar:
    """The calendar of the month from `first` to `last`, seen on `today`."""
    open_from, open_until = first_day(activity), last_day(activity)
    left = makeups_left(rules, made_up_count(member.marks))
    can_make_up_now = activity.status == "live" and open_from <= today <= open_until and bool(left)
    rewards = rules.rewards()
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        kind, indexes = marked.get(day, ("", []))
        status = day_status(day, kind, today, open_from, open_until)
        can_make_up = (
            status == "missed"
            and can_make_up_now
            and rules.makeup is not None
            and makeup_refusal(day, today, period, open_from, rules.makeup.max_days_back) is None
        )
        views = [RewardView(*rewards[i]) for i in indexes]
        days.append(CalendarDay(day, status, day == today, can_make_up, views))
    today_offset = period.offset(today)
    return Calendar(
        activity_id=activity.id,
        month=first.strftime("%Y-%m"),
        today=today,
        cycle_start=period.start,
        cycle_end=period.end - timedelta(days=1),
        streak=current_streak(member.marks, today_offset),
        cumulative=marked_count(member.marks),
        signed_today=member.marks[today_offset] != MISSED,
        makeups_left=left,
        makeup_cost=rules.makeup.points_cost if rules.makeup else None,
        days=days,
        next_rewards=[
            NextRewardView(n.rule, n.at, rewards[n.reward_index][2], n.sign_ins_needed, n.reachable)
            for n in next_rewards(member.marks, today_offset, rules.thresholds())
        ],
    )
