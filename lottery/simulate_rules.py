"""Pity (保底) and unlock tiers in the pre-launch simulator (lottery/simulate.py).

Both rules depend on a member's own past: the draw number (a tier unlocks from the member's Kth
draw on) and the run of consolation draws before it (pity). The simulator's campaigns are
aggregates (draws per hour, not per member), so the rules enter as the odds of each day: the
sampled members' draws are played one by one, in order, with `lottery/odds.py`'s rules (a locked
pick falls back to the consolation prize; after `pity_after` consolations in a row the draw picks
among the unlocked pity prizes by their weights, the same random number's share), and the share of
each prize among the outcomes of a day's draws becomes that day's pick probabilities.

Approximated: stock is not seen here (the campaigns' consumption applies it afterwards, as for
every pick), so a guaranteed draw whose prizes are all gone, which the engine turns into an
ordinary draw, counts as a pick of a pity prize that then falls back to the consolation prize.
Every simulated draw is a member's own (no draw chances), so every draw counts towards the tiers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from lottery.simulate import SimConfig

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def has_rules(config: SimConfig) -> bool:
    return bool(config.pity_after and any(p.pity for p in config.prizes)) or any(p.unlock_after for p in config.prizes)


def rule_probs(rng: np.random.Generator, config: SimConfig, sample: I64, probs: F64) -> F64 | None:
    """(days, prizes): the share of each prize among the rules' outcomes of each day's draws, from
    the sampled members' draws (`sample`: members x days); None when the lottery has neither rule
    (the pick probabilities stand as they are)."""
    if not has_rules(config) or sample.size == 0:
        return None
    prizes = config.prizes
    n_members, n_days = sample.shape
    consolation = next(k for k, p in enumerate(prizes) if p.consolation)
    unlock = np.array([p.unlock_after for p in prizes], dtype=np.int64)
    pity = np.array([p.pity and p.weight > 0 for p in prizes]) if config.pity_after else np.zeros(len(prizes), bool)
    weights = np.array([p.weight for p in prizes], dtype=np.float64)
    cum_probs = np.cumsum(probs)
    draws_by = np.cumsum(sample, axis=1)  # (S, D): draws made by the end of each day
    totals = draws_by[:, -1]
    streak = np.zeros(n_members, dtype=np.int64)
    counts = np.zeros((n_days, len(prizes)), dtype=np.float64)
    for j in range(int(totals.max(initial=0))):
        who = np.flatnonzero(totals > j)
        number = j + 1  # the members' draw number
        u = rng.random(len(who))
        won = np.minimum(np.searchsorted(cum_probs, u * cum_probs[-1], side="right"), len(prizes) - 1)
        won = np.where(unlock[won] > number, consolation, won)
        pool = pity & (unlock <= number)
        if config.pity_after and pool.any():
            due = streak[who] >= config.pity_after
            pool_cum = np.cumsum(np.where(pool, weights, 0.0))
            guaranteed = np.searchsorted(pool_cum, u * pool_cum[-1], side="right")
            won = np.where(due, np.minimum(guaranteed, len(prizes) - 1), won)
        streak[who] = np.where(won == consolation, streak[who] + 1, 0)
        day = (draws_by[who] <= j).sum(axis=1)  # the day of each member's (j+1)th draw
        np.add.at(counts, (day, won), 1.0)
    per_day = counts.sum(axis=1, keepdims=True)
    return np.where(per_day > 0, counts / np.where(per_day > 0, per_day, 1.0), probs[None, :])


def mean_probs(day_probs: F64, sample: I64) -> F64:
    """The rules' outcome shares over the whole campaign, weighted by each day's draws."""
    weight = sample.sum(axis=0).astype(np.float64)
    if weight.sum() <= 0:
        return np.asarray(day_probs.mean(axis=0), dtype=np.float64)
    return np.asarray((day_probs * weight[:, None]).sum(axis=0) / weight.sum(), dtype=np.float64)
