"""A sign-in activity's live state as the SQL audit trail rebuilds it: the state hash the mark
script reads, the current cycle's marks and the outcome of each marked day, today's counters."""

from __future__ import annotations

from datetime import date, timedelta

from activities.clock import day_end_ms, local_day, to_ms
from activities.model import Activity
from checkin.cycles import key_ttls_ms, period_of, reward_indexes
from checkin.model import CheckinRules
from checkin.repository import CheckinRepository
from checkin.store import CheckinSnapshot, MarkRecord
from checkin.streak import MISSED, set_mark


async def snapshot(
    activity: Activity, rules: CheckinRules, repository: CheckinRepository, now_ms: int
) -> CheckinSnapshot:
    today = local_day(now_ms, activity.tz)
    period = period_of(activity, rules, today)
    cycle_ttl_ms, day_ttl_ms = key_ttls_ms(activity, period, today, now_ms)
    totals = await repository.totals(activity.id)
    found = CheckinSnapshot(
        state={
            "status": activity.status,
            "starts_at_ms": to_ms(activity.starts_at),
            "ends_at_ms": to_ms(activity.ends_at),
            "rules": rules.script_rules(),
            "signins_total": totals.signins,
            "makeups_total": totals.makeups,
            "rewards_total": totals.rewards,
        },
        cycle=period,
        cycle_ttl_ms=cycle_ttl_ms,
        today=today,
        day_ttl_ms=day_ttl_ms,
        today_counts=await repository.counts_between(
            activity.id, day_end_ms(today - timedelta(days=1), activity.tz), day_end_ms(today, activity.tz)
        ),
    )
    for row in await repository.marks_of_cycle(activity.id, period.start):
        offset = period.offset(date.fromisoformat(row.day))
        marks = found.marks.get(row.user_id, MISSED * period.length)
        found.marks[row.user_id] = set_mark(marks, offset, "signin" if row.kind == "signin" else "makeup")
        found.records[(row.user_id, offset)] = MarkRecord(
            row.mark_id, row.kind, row.streak, row.cumulative, reward_indexes(row.rewards), row.at_ms
        )
    return found
