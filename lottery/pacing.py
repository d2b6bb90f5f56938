"""Paced release and budgets (issue 18): the rules shared by the draw and grant scripts, the
Python mirror (lottery/odds.py), the rebuild (lottery/snapshot.py), the views and the simulator.

- **Release plan** (optional, per prize): ``{"per": "hour" | "day", "units": N, "rollover": bool}``.
  Periods are counted from the start: period 0 is the clock hour (or the activity's local day)
  the activity starts in, period k the k-th after it. Clock hours are whole hours of UTC, which
  are the local clock hours in every zone with a whole-hour offset (Asia/Shanghai); days are
  the activity's local days. With rollover the units released so far are (k + 1) x N and the
  prize is drawable while the units granted since the start stay below that; without, the
  prize is drawable while the units granted in the current period stay below N (what a period
  leaves unused is gone). A prize beyond its release falls back to the consolation prize
  exactly like one out of stock.
- **Budget** (optional, per activity): ``budget_cny``, a Decimal string (at most 2 decimals). Every
  unit handed out spends its prize's ``value_cny``; a prize whose value would take the spending
  above the budget is not drawable (falls back like out-of-stock). Amounts are integer fen in
  Redis and in the draws table (``cost_fen``), so the budget is never overspent by rounding.
  With a budget the consolation prize must be worth 0 (it is the fallback: it cannot run out).

Redis (``LotteryKeys.pacing``, one hash): ``spent`` -> fen spent; ``r:<prize>`` -> units of a
rollover prize counted against its release since the start; ``r:<prize>:<period>`` -> units of
a prize without rollover granted in that period. A fail-closed rebuild holds back units of
these counters like stock ("release:<prize>[:<period>]", "budget": lottery/recovery.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from activities.model import Positive

HOUR_MS = 3_600_000
MAX_BUDGET_CNY = Decimal(10_000_000)  # 10^9 fen: a bounded count (MAX_COUNT) like every other
Per = Literal["hour", "day"]


class ReleasePlan(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Units of a prize released per hour or per local day; unreleased units roll over or not."""

    per: Per
    units: Positive
    rollover: bool = True


def to_fen(cny: Decimal) -> int:
    """An amount in CNY as integer fen (values are stored with 2 decimals; a third is rounded)."""
    return int((cny * 100).to_integral_value())


def from_fen(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


@dataclass(frozen=True)
class Periods:
    """The period a moment falls in, counted from the activity's start (0: the first)."""

    hour: int
    day: int

    def of(self, per: str) -> int:
        return self.hour if per == "hour" else self.day

    @property
    def argv(self) -> tuple[int, int]:
        """The scripts' arguments: hour period, day period."""
        return self.hour, self.day


FIRST = Periods(0, 0)


def periods(now_ms: int, starts_at: datetime, tz: ZoneInfo) -> Periods:
    start_ms = int(starts_at.timestamp() * 1000)
    day = (datetime.fromtimestamp(now_ms / 1000, tz).date() - starts_at.astimezone(tz).date()).days
    return Periods(hour=now_ms // HOUR_MS - start_ms // HOUR_MS, day=day)


def counter_field(prize_id: int, plan: ReleasePlan, at: Periods) -> str:
    """The pacing hash's field counting `prize_id`'s units against its release (see module doc)."""
    return f"r:{prize_id}" if plan.rollover else f"r:{prize_id}:{at.of(plan.per)}"


def released(plan: ReleasePlan, at: Periods) -> int:
    """Units the plan allows to be counted in its field by now: (k + 1) x N, or N this period."""
    return (at.of(plan.per) + 1) * plan.units if plan.rollover else plan.units


def release_room(plan: ReleasePlan, prize_id: int, at: Periods, paced: Mapping[str, int]) -> int:
    return max(released(plan, at) - paced.get(counter_field(prize_id, plan, at), 0), 0)


def period_bounds_ms(plan: ReleasePlan, at: Periods, starts_at: datetime, tz: ZoneInfo) -> tuple[int, int]:
    """[first, last) millisecond of the current period of `plan` (a rebuild counts its grants)."""
    if plan.per == "hour":
        first = (int(starts_at.timestamp() * 1000) // HOUR_MS + at.hour) * HOUR_MS
        return first, first + HOUR_MS
    day = starts_at.astimezone(tz).date() + timedelta(days=at.day)
    first_dt = datetime.combine(day, datetime.min.time(), tz)
    next_dt = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz)
    return int(first_dt.timestamp() * 1000), int(next_dt.timestamp() * 1000)
