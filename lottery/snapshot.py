"""A lottery's live state as SQL rebuilds it: what the draw scripts need (the state hash's
fields, stock left, counters, idempotency records), read from the audit trail. lottery/store.py
writes it to Redis; lottery/recovery.py holds back units of it after a loss."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from activities.clock import day_end_ms, local_day, to_ms
from activities.service import DAY_KEY_GRACE_MS, IDEMPOTENCY_TTL_S, REFERENCE_TTL_S
from lottery.model import Lottery
from lottery.repository import LotteryRepository


@dataclass
class Snapshot:
    """Everything the lottery scripts need, recomputed from the SQL audit trail."""

    activity: Lottery
    day: date
    day_ttl_ms: int
    draws_total: int = 0  # draws, with or without a chance (not grants)
    draws_today: int = 0
    granted: dict[int, int] = field(default_factory=dict)
    user_total: dict[str, int] = field(default_factory=dict)  # draws that count against the limits
    user_prize: dict[tuple[str, int], int] = field(default_factory=dict)
    user_today: dict[str, int] = field(default_factory=dict)
    granted_today: dict[int, int] = field(default_factory=dict)
    chances: dict[str, int] = field(default_factory=dict)
    pity_streak: dict[str, int] = field(default_factory=dict)  # consecutive consolation draws (pity rule)
    # (user_id, idempotency key, stored record, seconds left)
    idempotency: list[tuple[str, str, str, int]] = field(default_factory=list)
    # (reference, stored record, seconds left) of grants, and references of chance credits
    grant_refs: list[tuple[str, str, int]] = field(default_factory=list)
    chance_refs: list[tuple[str, int]] = field(default_factory=list)
    held_stock: dict[int, int] = field(default_factory=dict)  # held back by a fail-closed rebuild

    def stock_left(self) -> dict[int, int]:
        return {
            p.id: max(p.stock - self.granted.get(p.id, 0) - self.held_stock.get(p.id, 0), 0)
            for p in self.activity.prizes
            if p.stock is not None
        }


def state_fields(activity: Lottery) -> dict[str, str | int]:
    """The state hash the draw script reads (0 means no limit)."""
    prizes = [
        {
            "id": p.id,
            "w": p.weight,
            "limited": int(p.stock is not None),
            "daily": p.daily_stock or 0,
            "cap": p.per_user_cap or 0,
            "c": int(p.is_consolation),
            "u": p.unlock_after_draws or 0,
            "p": int(p.pity),
        }
        for p in activity.prizes
    ]
    totals = {f"total:{p.id}": p.stock for p in activity.prizes if p.stock is not None}  # see add_stock.lua
    return totals | {
        "status": activity.status,
        "starts_at_ms": to_ms(activity.starts_at),
        "ends_at_ms": to_ms(activity.ends_at),
        "per_user_daily": activity.limits.per_user_daily or 0,
        "per_user_total": activity.limits.per_user_total or 0,
        "global_daily": activity.limits.global_daily or 0,
        "prizes": json.dumps(prizes, separators=(",", ":")),
        "pity_after": activity.pity_after or 0,
    }


async def read_snapshot(repo: LotteryRepository, activity: Lottery, now_ms: int) -> Snapshot:
    """A lottery's live state as the SQL audit trail has it at `now_ms`."""
    day = local_day(now_ms, activity.tz)
    capped = [p.id for p in activity.prizes if p.per_user_cap]
    snapshot = Snapshot(
        activity=activity,
        day=day,
        day_ttl_ms=day_end_ms(day, activity.tz) + DAY_KEY_GRACE_MS - now_ms,
        draws_total=await repo.count_draws(activity.id),
        draws_today=await repo.count_draws(activity.id, day),
        granted=await repo.granted_by_prize(activity.id),
        user_total=await repo.draws_by_user(activity.id),
        user_prize=await repo.wins_by_user_prize(activity.id, capped),
        user_today=await repo.draws_by_user(activity.id, day),
        granted_today=await repo.granted_by_prize(activity.id, day),
        chances=await repo.chance_balances(activity.id),
    )
    if activity.pity_after:
        snapshot.pity_streak = await repo.consolation_streaks(activity.id, activity.consolation.id)
    idempotency_since = now_ms - IDEMPOTENCY_TTL_S * 1000
    for row in await repo.draws_since(activity.id, idempotency_since, kinds=("draw", "chance")):
        record = " ".join(
            str(v)
            for v in (
                row.fingerprint,
                row.draw_id,
                row.prize_id,
                row.picked_prize_id,
                -1 if row.left_today is None else row.left_today,
                -1 if row.left_total is None else row.left_total,
                row.drawn_at_ms,
                row.kind,
            )
        )
        ttl_s = max(1, (row.drawn_at_ms - idempotency_since) // 1000)
        snapshot.idempotency.append((row.user_id, row.idempotency_key, record, ttl_s))
    references_since = now_ms - REFERENCE_TTL_S * 1000
    for row in await repo.draws_since(activity.id, references_since, kinds=("grant",)):
        ttl_s = max(1, (row.drawn_at_ms - references_since) // 1000)
        snapshot.grant_refs.append((row.idempotency_key, f"{row.draw_id} {row.prize_id} {row.picked_prize_id}", ttl_s))
    for ref in await repo.chance_credits_since(activity.id, references_since):
        snapshot.chance_refs.append((ref, REFERENCE_TTL_S))
    return snapshot
