"""A sign-in activity's live state as the SQL audit trail rebuilds it: the state hash the mark
script reads and today's counters, from aggregates; a member's marks of the current cycle and
the outcome of each marked day, read when the member first asks (checkin/members.py)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from activities.clock import day_end_ms, local_day, to_ms
from activities.model import Activity
from checkin.cycles import key_ttls_ms, period_of, reward_indexes
from checkin.model import CheckinRules
from checkin.repository import CheckinRepository
from checkin.store import CheckinSnapshot, MarkRecord, MemberCycle
from checkin.streak import MISSED, Period, set_mark


async def snapshot(
    activity: Activity, rules: CheckinRules, repository: CheckinRepository, now_ms: int
) -> CheckinSnapshot:
    """The activity's state and counters from the aggregates (checkin_counts): nothing of any
    member; members are loaded on their first request (checkin/members.py) when SQL holds
    marks (`lazy` is then this load's token)."""
    today = local_day(now_ms, activity.tz)
    period = period_of(activity, rules, today)
    cycle_ttl_ms, day_ttl_ms = key_ttls_ms(activity, period, today, now_ms)
    totals: dict[str, int] = {}
    signins_today = 0
    for day, kind, marks in await repository.counts(activity.id):
        totals[kind] = totals.get(kind, 0) + marks
        signins_today += marks if kind == "signin" and day == today.isoformat() else 0
    since, until = day_end_ms(today - timedelta(days=1), activity.tz), day_end_ms(today, activity.tz)
    makeups_today = await repository.count_between(activity.id, "makeup", since, until)
    today_counts = {"signin": signins_today, "makeup": makeups_today}
    return CheckinSnapshot(
        state={
            "status": activity.status,
            "starts_at_ms": to_ms(activity.starts_at),
            "ends_at_ms": to_ms(activity.ends_at),
            "terms": rules.script_terms(),
            "signins_total": totals.get("signin", 0),
            "makeups_total": totals.get("makeup", 0),
            "rewards_total": totals.get("reward", 0),
            "lazy": secrets.token_hex(8) if totals.get("signin", 0) + totals.get("makeup", 0) else "0",
        },
        cycle=period,
        cycle_ttl_ms=cycle_ttl_ms,
        today=today,
        day_ttl_ms=day_ttl_ms,
        today_counts={kind: n for kind, n in today_counts.items() if n},
    )


async def member_cycle(repository: CheckinRepository, activity_id: int, user_id: str, period: Period) -> MemberCycle:
    """One member's marks of `period` and the outcome of each, from SQL (checkin/members.py)."""
    marks = MISSED * period.length
    records: dict[int, MarkRecord] = {}
    last = period.end - timedelta(days=1)
    for row in await repository.marks_of_member(activity_id, user_id, period.start, last):
        offset = period.offset(date.fromisoformat(row.day))
        marks = set_mark(marks, offset, "signin" if row.kind == "signin" else "makeup")
        records[offset] = MarkRecord(
            row.mark_id, row.kind, row.streak, row.cumulative, reward_indexes(row.rewards), row.at_ms
        )
    return MemberCycle(marks=marks, records=records)
