"""What an operator reads of a reservation activity: the live counters (Redis) beside what
the SQL audit trail holds, per pool and per date and store. Pure."""

from __future__ import annotations

from collections import Counter

from activities.model import Activity
from reservation.model import SHARED, ReservationRules
from reservation.schemas import DateStoreCounters, PoolCounters, ReservationCounters
from reservation.store import ReservationCountersLive


def counters_of(
    activity: Activity,
    rules: ReservationRules,
    live: ReservationCountersLive,
    in_sql: Counter[str],
    quarantined: int,
) -> ReservationCounters:
    """Live counters beside SQL's, per pool and per date and store."""
    pools = rules.pools()
    by_date_store = []
    for day in rules.dates:
        stores = [(s.id, s.quantity) for s in rules.stores] or [(SHARED, day.quantity)]
        for store_id, quantity in stores:
            prefix = f"{day.date.isoformat()}|{store_id}"
            own = quantity is not None
            by_date_store.append(
                DateStoreCounters(
                    date=day.date.isoformat(),
                    store=store_id,
                    quantity=quantity if own else None,
                    left=live.pools.get(prefix) if own else None,
                    **{k: live.stats.get(f"{prefix}|{k}", 0) for k in ("reserved", "cancelled", "redeemed", "expired")},
                    **{
                        f"{k}_in_sql": in_sql[f"{prefix}|{k}"] for k in ("reserved", "cancelled", "redeemed", "expired")
                    },
                )
            )
    return ReservationCounters(
        activity_id=activity.id,
        status=activity.status,
        loaded=live.status is not None,
        reservations_total=sum(n for key, n in live.stats.items() if key.endswith("|reserved")),
        cancelled_total=live.totals.get("cancelled_total", 0),
        redeemed_total=live.totals.get("redeemed_total", 0),
        expired_total=live.totals.get("expired_total", 0),
        pools=[
            PoolCounters(
                pool=pool, quantity=quantity, left=live.pools.get(pool, 0), held=quantity - live.pools.get(pool, 0)
            )
            for pool, quantity in pools.items()
        ],
        by_date_and_store=by_date_store,
        audit_backlog=live.audit_backlog,
        quarantined=quarantined,
    )
