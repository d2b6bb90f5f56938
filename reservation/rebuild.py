"""A reservation activity's live state as the SQL audit trail rebuilds it (issue 17: a cold
rebuild that does not grow with the campaign): the state hash the scripts read, the units left
per pool, the per date and store counters, from the aggregates the triggers keep
(`reservation_counts`, a few rows per date); nothing of any member. If SQL holds reservations,
the state's `lazy` is this load's token and each member is loaded on its first request, or when
one of its codes is first reached (reservation/members.py, with `member_state` below).

The sweep's deadlines: one item "@<date>" per date that SQL still has reserved codes of, due at
the end of that day; the sweep then expires that date's codes one by one (service.py)."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import date, timedelta

from activities.clock import day_end_ms, local_day, to_ms
from activities.model import Activity
from activities.service import IDEMPOTENCY_TTL_S
from reservation.model import ReservationRules, day_start_ms
from reservation.repository import ReservationRepository, ReservationRow
from reservation.store import MemberReservations, ReservationSnapshot

KEEP_DAYS = 30  # a reservation stays in Redis (and in the member's list) 30 days after its date
DATE_ITEM = "@"  # a deadlines item "@<date>": the date's codes SQL has as reserved (a lazy rebuild)


async def snapshot(
    activity: Activity, rules: ReservationRules, repository: ReservationRepository, now_ms: int
) -> ReservationSnapshot:
    """The activity-level state from the aggregates: no per-member or per-code query."""
    tz = activity.tz
    stats: Counter[str] = Counter()
    held_per_pool: Counter[str] = Counter()
    open_per_date: Counter[str] = Counter()
    totals: Counter[str] = Counter()  # cancelled_total... (reservations made: the stats' sum)
    made = 0
    for row in await repository.counts(activity.id):
        stats[f"{row.date}|{row.store}|{row.status}"] += row.n
        sign = 1 if row.status == "reserved" else -1
        open_per_date[row.date] += sign * row.n
        if row.status == "reserved":
            made += row.n
            held_per_pool[row.pool] += row.n
        else:
            totals[f"{row.status}_total"] += row.n
            if row.status == "cancelled":  # a cancelled one gave its unit back
                held_per_pool[row.pool] -= row.n
    snap = ReservationSnapshot(state={}, pools={})
    snap.deadlines = {
        DATE_ITEM + day: day_end_ms(date.fromisoformat(day), tz) for day, n in open_per_date.items() if n > 0
    }
    snap.state = {
        "status": activity.status,
        "starts_at_ms": to_ms(activity.starts_at),
        "ends_at_ms": to_ms(activity.ends_at),
        "rules": rules.script_rules(),
        "per_date": rules.per_user_per_date,
        "per_total": rules.per_user_total or 0,
        "lazy": secrets.token_hex(8) if made else "0",
        **totals,
    }
    snap.pools = {pool: n - held_per_pool[pool] for pool, n in rules.pools().items()}
    snap.stats = dict(stats)
    return snap


def keep_s(day: date, activity: Activity, now_ms: int) -> int:
    """How long a reservation of `day` stays in Redis from now."""
    return max((day_start_ms(day, activity.tz) - now_ms) // 1000, 0) + (KEEP_DAYS + 1) * 86400


def member_state(activity: Activity, rows: list[ReservationRow], now_ms: int) -> MemberReservations:
    """One member's part of the live state, from its rows in SQL: what it holds per date and in
    all, its reservations of the last KEEP_DAYS days, the reserved ones' deadlines, and the
    idempotency records of those made within PROMO_IDEMPOTENCY_TTL_S (a replay after a loss
    answers the first request, as before it)."""
    member = MemberReservations()
    oldest = local_day(now_ms, activity.tz) - timedelta(days=KEEP_DAYS)
    since = now_ms - IDEMPOTENCY_TTL_S * 1000
    for row in rows:
        day = date.fromisoformat(row.date)
        if row.status != "cancelled":  # held: it keeps its unit and counts for the member's limits
            member.total += 1
            member.dates[row.date] = member.dates.get(row.date, 0) + 1
        if day >= oldest:
            fields = {
                "user_id": row.user_id,
                "date": row.date,
                "store": row.store,
                "pool": row.pool,
                "status": row.status,
                "purchase": row.purchase,
                "cancel_until_ms": str(row.cancel_until_ms),
                "created_ms": str(row.created_at_ms),
            }
            if row.changed_at_ms is not None:
                fields["changed_ms"] = str(row.changed_at_ms)
            due = day_end_ms(day, activity.tz) if row.status == "reserved" else 0
            member.reservations.append((row.code, keep_s(day, activity, now_ms), due, fields))
        if row.created_at_ms >= since and row.idempotency_key:  # reserve.lua checks the record's age
            member.idempotency.append((row.idempotency_key, f"{row.fingerprint} {row.code} {row.created_at_ms}"))
    return member
