"""A reservation activity's live state as the SQL audit trail rebuilds it: the state hash the
scripts read, the units left per pool, the reservations of the last days (a member's list), the
members' holdings, the per date and store counters, the deadlines the sweep expires by."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from activities.clock import day_end_ms, local_day, to_ms
from activities.model import Activity
from reservation.model import ReservationRules, day_start_ms
from reservation.repository import ReservationRepository
from reservation.store import ReservationSnapshot

KEEP_DAYS = 30  # a reservation stays in Redis (and in the member's list) 30 days after its date


async def snapshot(
    activity: Activity, rules: ReservationRules, repository: ReservationRepository, now_ms: int
) -> ReservationSnapshot:
    """Everything the scripts need, from the SQL audit trail."""
    tz = activity.tz
    rows = await repository.all_of(activity.id)
    stats: Counter[str] = Counter()
    held_per_pool: Counter[str] = Counter()
    user_dates: Counter[str] = Counter()
    user_total: Counter[str] = Counter()
    totals: Counter[str] = Counter(reservations_total=len(rows))
    snap = ReservationSnapshot(state={}, pools={})
    oldest = local_day(now_ms, tz) - timedelta(days=KEEP_DAYS)
    for row in rows:
        day = date.fromisoformat(row.date)
        stats[f"{row.date}|{row.store}|reserved"] += 1
        if row.status != "reserved":
            stats[f"{row.date}|{row.store}|{row.status}"] += 1
            totals[f"{row.status}_total"] += 1
        if row.status != "cancelled":  # held: it keeps its unit and counts for the member's limits
            held_per_pool[row.pool] += 1
            user_dates[f"{row.user_id}|{row.date}"] += 1
            user_total[row.user_id] += 1
        if row.status == "reserved":
            snap.deadlines[row.code] = day_end_ms(day, tz)
        if day >= oldest:
            fields: dict[str, str | int] = {
                "user_id": row.user_id,
                "date": row.date,
                "store": row.store,
                "pool": row.pool,
                "status": row.status,
                "purchase": row.purchase,
                "cancel_until_ms": row.cancel_until_ms,
                "created_ms": row.created_at_ms,
            }
            if row.changed_at_ms is not None:
                fields["changed_ms"] = row.changed_at_ms
            snap.reservations[row.code] = fields
            snap.ttl_s[row.code] = max((day_start_ms(day, tz) - now_ms) // 1000, 0) + (KEEP_DAYS + 1) * 86400
    snap.state = {
        "status": activity.status,
        "starts_at_ms": to_ms(activity.starts_at),
        "ends_at_ms": to_ms(activity.ends_at),
        "rules": rules.script_rules(),
        **totals,
    }
    snap.pools = {pool: n - held_per_pool[pool] for pool, n in rules.pools().items()}
    snap.user_dates, snap.user_total, snap.stats = dict(user_dates), dict(user_total), dict(stats)
    return snap
