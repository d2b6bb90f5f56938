"""A lottery's live state as SQL rebuilds it: what the draw scripts need (the state hash's
fields, stock left, the activity's counters), read from the audit trail's aggregates.
lottery/store.py writes it to Redis; lottery/recovery.py holds back units of it after a loss;
lottery/members.py reads a member's own state when the member first asks after a rebuild."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date

from activities.clock import day_end_ms, local_day, to_ms
from activities.service import DAY_KEY_GRACE_MS
from lottery.model import Lottery, Prize
from lottery.pacing import FIRST, Periods, counter_field, period_bounds_ms, periods, to_fen
from lottery.repository import LotteryRepository
from lottery.versions import next_versions_field


@dataclass
class Snapshot:
    """The activity-level part of the lottery's live state, recomputed from SQL aggregates (the
    `lottery_counts` rows kept beside the draws: a few hundred rows however long the campaign).
    Members are loaded one by one on their first request (lottery/members.py) when SQL holds
    anything of theirs (`lazy` is then this load's token; "0": every member starts from zero)."""

    activity: Lottery
    day: date
    day_ttl_ms: int
    draws_total: int = 0  # draws, with or without a chance (not grants)
    draws_today: int = 0
    granted: dict[int, int] = field(default_factory=dict)
    granted_today: dict[int, int] = field(default_factory=dict)
    held_stock: dict[int, int] = field(default_factory=dict)  # held back by a fail-closed rebuild
    lazy: str = "0"
    spent_fen: int = 0  # of the budget (if any), by every unit handed out (lottery/pacing.py)
    paced: dict[str, int] = field(default_factory=dict)  # the pacing hash's release counters
    periods: Periods = FIRST  # the release periods of the moment it was read
    # A bucket's share of the stock left (lottery/buckets.py; None: the activity's whole stock
    # left) and the bucket's own state fields ("buckets", its load's "load" token).
    stock_split: dict[int, int] | None = None
    state_extra: dict[str, str | int] = field(default_factory=dict)

    def stock_left(self) -> dict[int, int]:
        if self.stock_split is not None:
            return dict(self.stock_split)
        return {
            p.id: max(p.stock - self.granted.get(p.id, 0) - self.held_stock.get(p.id, 0), 0)
            for p in self.activity.prizes
            if p.stock is not None
        }


@dataclass
class MemberState:
    """One member's part of the live state, from SQL."""

    user_total: int = 0
    user_today: int = 0
    user_prize: dict[int, int] = field(default_factory=dict)  # capped prizes only
    chances: int = 0
    pity_streak: int = 0  # consecutive consolation draws at the tail of its draws (the pity rule)
    # (local day, idempotency key, stored record, ms its day's hash has left) of the member's draws
    idempotency: list[tuple[date, str, str, int]] = field(default_factory=list)
    # (reference, stored record, seconds left) of grants; (reference, seconds left) of chance credits
    grant_refs: list[tuple[str, str, int]] = field(default_factory=list)
    chance_refs: list[tuple[str, int]] = field(default_factory=list)


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
            **pacing_fields(p),
        }
        for p in activity.prizes
    ]
    totals = {f"total:{p.id}": p.stock for p in activity.prizes if p.stock is not None}  # see add_stock.lua
    return (
        totals
        | compact_fields(prizes)
        | {
            "status": activity.status,
            "starts_at_ms": to_ms(activity.starts_at),
            "ends_at_ms": to_ms(activity.ends_at),
            "per_user_daily": activity.limits.per_user_daily or 0,
            "per_user_total": activity.limits.per_user_total or 0,
            "global_daily": activity.limits.global_daily or 0,
            "prizes": json.dumps(prizes, separators=(",", ":")),
            "pity_after": activity.pity_after or 0,
            "lazy": "0",  # the load writes its own (Snapshot.lazy)
            "config_version": activity.config_version,  # issue 18: the version `prizes` is
            "next_versions": next_versions_field(activity),  # and the later ones (lottery/versions.py)
            "budget_fen": -1 if activity.budget_cny is None else to_fen(activity.budget_cny),
        }
    )


def compact_fields(prizes: list[dict[str, int | str]]) -> dict[str, str | int]:
    """What draw.lua reads instead of decoding the whole table each draw (issue 17): the weights
    ("w1,w2,..."), the consolation prize's 1-based index, and each prize's terms alone."""
    fields: dict[str, str | int] = {f"prize:{i}": json.dumps(p, separators=(",", ":")) for i, p in enumerate(prizes, 1)}
    fields["weights"] = ",".join(str(p["w"]) for p in prizes)
    fields["consolation"] = next((i for i, p in enumerate(prizes, 1) if p["c"] == 1), 0)
    return fields


def pacing_fields(prize: Prize) -> dict[str, int | str]:
    """A prize's value in fen and release plan, as draw.lua and grant.lua read them."""
    fields: dict[str, int | str] = {"v_fen": to_fen(prize.value_cny)}
    if prize.release is not None:
        fields |= {
            "rel_per": prize.release.per,
            "rel_units": prize.release.units,
            "rel_roll": int(prize.release.rollover),
        }
    return fields


async def read_pacing(repo: LotteryRepository, snapshot: Snapshot, now_ms: int) -> None:
    """The budget spent and the release counters of the current periods, from SQL: the budget's
    sum and an hour's count read the draws (only for an activity with a budget, a prize with an
    hourly plan without rollover); the rest comes from the aggregates already read."""
    activity = snapshot.activity
    if activity.budget_cny is not None:
        snapshot.spent_fen = await repo.spent_fen(activity.id)
    at = snapshot.periods = periods(now_ms, activity.starts_at, activity.tz)
    for prize in activity.prizes:
        if prize.release is None:
            continue
        if prize.release.rollover:
            units = snapshot.granted.get(prize.id, 0)
        elif prize.release.per == "day" and at.day >= 0:
            units = snapshot.granted_today.get(prize.id, 0)  # the current period is today
        else:
            first, end = period_bounds_ms(prize.release, at, activity.starts_at, activity.tz)
            units = await repo.granted_between(activity.id, prize.id, first, end)
        snapshot.paced[counter_field(prize.id, prize.release, at)] = units


async def read_snapshot(repo: LotteryRepository, activity: Lottery, now_ms: int) -> Snapshot:
    """A lottery's activity-level state as the SQL audit trail has it at `now_ms`: no per-member
    query, whatever the campaign's size."""
    day = local_day(now_ms, activity.tz)
    snapshot = Snapshot(activity=activity, day=day, day_ttl_ms=day_end_ms(day, activity.tz) + DAY_KEY_GRACE_MS - now_ms)
    today, units_total = day.isoformat(), 0
    for count in await repo.counts(activity.id):
        snapshot.draws_total += count.draws
        snapshot.granted[count.prize_id] = snapshot.granted.get(count.prize_id, 0) + count.units
        units_total += count.units
        if count.day == today:
            snapshot.draws_today += count.draws
            snapshot.granted_today[count.prize_id] = snapshot.granted_today.get(count.prize_id, 0) + count.units
    if units_total or await repo.has_chances(activity.id):
        snapshot.lazy = secrets.token_hex(8)
    await read_pacing(repo, snapshot, now_ms)
    return snapshot
