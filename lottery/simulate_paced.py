"""The simulator's consumption of stock hour by hour, for lotteries with release plans or a budget
(lottery/pacing.py); `simulate` (lottery/simulate.py) calls it instead of its day-at-once
`_consume` when a prize is paced or the activity has a budget.

Each hour, in order: the hour's picks (multinomial, the exact odds) are thinned by the per-member
caps as `_consume` does; a prize's picks win up to the least of its stock left, today's stock left
and its release plan's room (rollover: (k + 1) x N released by period k, minus the units granted
since the start; without: N minus the units of this period), which is what sequential draws do.
Budget: a prize worth more than the budget left is out for the hour; when the hour's wins would
cost more than is left, every prize's wins are cut by the same share (the draws of an hour
interleave, so the budget runs out at the same moment for all of them), rounded down: the cost
never exceeds the budget. A stock-out (and the budget's exhaustion: less left than the cheapest
prize with a value) is placed inside its hour like `_consume` does.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from lottery.pacing import HOUR_MS, to_fen
from lottery.simulate import F64, I64, UNLIMITED, Calendar, SimConfig, _split


def consume_paced(
    rng: np.random.Generator,
    arrivals: I64,
    probs: F64,
    caps: dict[int, tuple[F64, F64]],
    members: int,
    config: SimConfig,
    cal: Calendar,
) -> tuple[I64, F64, F64, F64 | None]:
    """(wins (R, D, K), share of picks granted (R, D, K), stock-out hours (R, K), budget
    exhaustion hours (R,) or None without a budget). `probs`: (K,) or, with pity or tiers, (D, K)."""
    prizes = config.prizes
    runs, n_days, _ = arrivals.shape
    n_prizes = len(prizes)
    day_probs = np.broadcast_to(probs, (n_days, n_prizes))
    stock = np.array([UNLIMITED if p.stock is None else p.stock for p in prizes], dtype=np.int64)
    daily = np.array([UNLIMITED if p.daily_stock is None else p.daily_stock for p in prizes], dtype=np.int64)
    values = np.array([to_fen_float(p.value_cny) for p in prizes], dtype=np.int64)
    consolation = next(k for k, p in enumerate(prizes) if p.consolation)
    budget = None if config.budget_cny is None else to_fen(config.budget_cny)
    cheapest = int(values[values > 0].min()) if (values > 0).any() else None
    plans = [(k, p.release) for k, p in enumerate(prizes) if p.release is not None]
    start_hour = int(config.starts_at.timestamp() * 1000) // HOUR_MS

    left = np.broadcast_to(stock, (runs, n_prizes)).copy()
    granted = np.zeros((runs, n_prizes), dtype=np.int64)
    in_period = np.zeros((runs, n_prizes), dtype=np.int64)  # units of the current period (no rollover)
    period_of: dict[int, int] = {}
    spent = np.zeros(runs, dtype=np.int64)
    wins = np.zeros((runs, n_days, n_prizes), dtype=np.int64)
    picked = np.zeros((runs, n_days, n_prizes), dtype=np.int64)
    out_h = np.full((runs, n_prizes), np.inf)
    out_h[:, stock == 0] = 0.0
    budget_out = None if budget is None else np.full(runs, np.inf)
    limited = stock < UNLIMITED
    for d in range(n_days):
        picks = _split(rng, arrivals[:, d, :], day_probs[d])  # (R, 24, K)
        day_left = np.broadcast_to(daily, (runs, n_prizes)).copy()
        day_won = np.zeros((runs, n_prizes), dtype=np.int64)
        day_fresh = np.zeros((runs, n_prizes), dtype=np.int64)
        for h in range(24):
            fresh = picks[:, h, :].copy()
            for k, (per_member, share) in caps.items():
                fresh[:, k] = rng.binomial(picks[:, h, k], np.interp(granted[:, k] / members, per_member, share))
            room = np.minimum(left, day_left)
            hour = _hour_index(cal.days[d], h, start_hour)
            for k, plan in plans:
                period = hour if plan.per == "hour" else d
                if plan.rollover:
                    allowed = (period + 1) * plan.units - granted[:, k]
                else:
                    if period_of.get(k) != period:
                        period_of[k] = period
                        in_period[:, k] = 0
                    allowed = plan.units - in_period[:, k]
                room[:, k] = np.minimum(room[:, k], np.maximum(allowed, 0))
            won = np.minimum(fresh, room)
            won[:, consolation] = 0
            if budget is not None:
                won = _within_budget(won, values, budget - spent)
            hit = (won >= left) & (left > 0) & limited & np.isinf(out_h)
            out_h = np.where(hit, d * 24 + h + left / (fresh + 1), out_h)
            left -= won
            day_left -= won
            granted += won
            in_period += won
            spent += won @ values
            if budget is not None and budget_out is not None and cheapest is not None:
                gone = (budget - spent < cheapest) & np.isinf(budget_out)
                budget_out = np.where(gone, d * 24 + h + 0.5, budget_out)
            day_won += won
            day_fresh += fresh
        wins[:, d, :] = day_won
        picked[:, d, :] = day_fresh
        wins[:, d, consolation] = arrivals[:, d, :].sum(axis=1) - day_won.sum(axis=1)
    share = np.divide(wins, picked, out=np.ones(wins.shape), where=picked > 0)
    return wins, share, out_h, budget_out


def to_fen_float(value_cny: float) -> int:
    return round(value_cny * 100)


def _hour_index(midnight: datetime, h: int, start_hour: int) -> int:
    """The release period (clock hours since the start's hour) of local hour `h` of a day."""
    return (int(midnight.timestamp() * 1000) + h * HOUR_MS) // HOUR_MS - start_hour


def _within_budget(won: I64, values: I64, budget_left: I64) -> I64:
    """The hour's wins that the budget left pays for: prizes worth more than is left are out,
    and all wins are cut by the same share when they would cost more (rounded down)."""
    won = np.where(values[None, :] > budget_left[:, None], 0, won)
    cost = won @ values
    over = cost > budget_left
    if over.any():
        ratio = np.divide(budget_left, cost, out=np.ones(len(cost)), where=cost > 0)
        cut = np.floor(won * ratio[:, None]).astype(np.int64)
        won = np.where(over[:, None], cut, won)
    return won
