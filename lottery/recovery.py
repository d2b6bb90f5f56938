"""A lottery's counters of scarce units, for a fail-closed rebuild (activities/recovery.py).

Counters: "stock:<prize>" (units left), "daily:<prize>:<day>" (units left of the prize's daily
stock), "draws:<day>" (draws left under the global daily limit), "release:<prize>[:<period>]"
(units left of a release plan, lottery/pacing.py) and "budget" (fen left, held entirely: what
the window spent is unknown, so prizes with a value wait for the operator's word). A prize with a per-member cap is
held entirely: a member's wins of the lost window cannot be known. The lottery's DrawStore
gives units back (`release`) once an operator confirmed.
"""

from __future__ import annotations

from lottery.pacing import counter_field, release_room, to_fen
from lottery.snapshot import Snapshot


def scarce_units(snapshot: Snapshot) -> tuple[dict[str, int], set[str]]:
    """(units left per counter, counters to hold entirely)."""
    day = snapshot.day.isoformat()
    left: dict[str, int] = {}
    whole: set[str] = set()
    stock_left = snapshot.stock_left()
    for prize in snapshot.activity.prizes:
        if prize.stock is not None:
            left[f"stock:{prize.id}"] = stock_left[prize.id]
            if prize.per_user_cap:
                whole.add(f"stock:{prize.id}")
        if prize.daily_stock:
            left[f"daily:{prize.id}:{day}"] = max(prize.daily_stock - snapshot.granted_today.get(prize.id, 0), 0)
    if global_daily := snapshot.activity.limits.global_daily:
        left[f"draws:{day}"] = max(global_daily - snapshot.draws_today, 0)
    for prize in snapshot.activity.prizes:
        if prize.release is not None:
            suffix = counter_field(prize.id, prize.release, snapshot.periods).removeprefix("r:")
            left[f"release:{suffix}"] = release_room(prize.release, prize.id, snapshot.periods, snapshot.paced)
    if (budget := snapshot.activity.budget_cny) is not None:
        left["budget"] = max(to_fen(budget) - snapshot.spent_fen, 0)
        whole.add("budget")
    return left, whole


def hold(snapshot: Snapshot, held: dict[str, int]) -> Snapshot:
    """The snapshot with `held` units taken out of what is left: out of the stock, or counted
    as granted (today's grants) or drawn (today's draws) while the recovery is open."""
    for counter, units in held.items():
        kind, _, rest = counter.partition(":")
        if kind == "stock":
            prize_id = int(rest)
            snapshot.held_stock[prize_id] = snapshot.held_stock.get(prize_id, 0) + units
        elif kind == "daily":
            prize_id = int(rest.split(":")[0])
            snapshot.granted_today[prize_id] = snapshot.granted_today.get(prize_id, 0) + units
        elif kind == "draws":
            snapshot.draws_today += units
        elif kind == "budget":
            snapshot.spent_fen += units
        elif kind == "release":
            snapshot.paced[f"r:{rest}"] = snapshot.paced.get(f"r:{rest}", 0) + units
    return snapshot
