"""The pure rules of a draw: the weighted pick, the out-of-stock fallback, pity and unlock tiers.

`draw.lua` implements exactly the same arithmetic; tests run both on the same inputs.

The random number is a 32-bit integer drawn with `secrets` in Python and passed to Lua, so any
draw can be re-derived from the logged number. The pick point is ``rand * total // 2**32``: with
total weight below 2**21 the product stays below 2**53, so Lua's doubles compute it exactly.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lottery.pacing import FIRST, Periods, ReleasePlan, release_room

RAND_RANGE = 2**32


def new_rand() -> int:
    return secrets.randbelow(RAND_RANGE)


@dataclass(frozen=True)
class PrizeRule:
    id: int
    weight: int
    limited: bool = False  # has a total stock
    daily_stock: int = 0  # 0: no daily stock
    per_user_cap: int = 0  # 0: no cap
    consolation: bool = False
    unlock_after: int = 0  # unlock tier: drawable from the member's Kth draw on (0: from the first)
    pity: bool = False  # one of the pity rule's prizes
    value_fen: int = 0  # what a unit spends of the budget (lottery/pacing.py)
    release: ReleasePlan | None = None  # paced release; None: all stock at once


def pick(rules: Sequence[PrizeRule], rand: int) -> PrizeRule:
    """The prize whose slice of the weights contains the point ``rand * total // 2**32``."""
    if not 0 <= rand < RAND_RANGE:
        raise ValueError("rand out of range")
    total = sum(rule.weight for rule in rules)
    point = rand * total // RAND_RANGE
    reached = 0
    for rule in rules:
        reached += rule.weight
        if point < reached:
            return rule
    raise ValueError("no prize has a positive weight")


@dataclass(frozen=True)
class Availability:
    """What the draw script reads from Redis before deciding."""

    stock_left: Mapping[int, int]
    granted_today: Mapping[int, int]
    user_wins: Mapping[int, int]
    user_draws: int = 0  # the member's draws so far that count against the limits (user_total)
    streak: int = 0  # the member's consecutive consolation draws (the pity counter)
    # Paced release and budget (lottery/pacing.py): the pacing hash's counters, the period of
    # the draw, the budget in fen (None: no budget).
    paced: Mapping[str, int] = field(default_factory=dict)
    periods: Periods = FIRST
    budget_fen: int | None = None


def is_available(rule: PrizeRule, state: Availability) -> bool:
    if rule.limited and state.stock_left.get(rule.id, 0) <= 0:
        return False
    if rule.daily_stock and state.granted_today.get(rule.id, 0) >= rule.daily_stock:
        return False
    if rule.per_user_cap and state.user_wins.get(rule.id, 0) >= rule.per_user_cap:
        return False
    return paced_available(rule, state)


def paced_available(rule: PrizeRule, state: Availability) -> bool:
    """Within its release plan, and affordable within the budget left (draw.lua's paced_available)."""
    if rule.release is not None and release_room(rule.release, rule.id, state.periods, state.paced) <= 0:
        return False
    if state.budget_fen is None or rule.value_fen == 0:
        return True
    return state.paced.get("spent", 0) + rule.value_fen <= state.budget_fen


def decide(
    rules: Sequence[PrizeRule], rand: int, state: Availability, pity_after: int = 0
) -> tuple[PrizeRule, PrizeRule]:
    """(picked, won): the pick follows the disclosed odds; an unavailable pick (or one still
    locked for this member) falls back to the consolation prize, so no other prize's odds ever
    rise above what was disclosed. A draw the pity rule guarantees picks from its prizes instead."""
    guaranteed = pity_pick(rules, rand, state, pity_after)
    if guaranteed is not None:
        return guaranteed, guaranteed
    picked = pick(rules, rand)
    if is_available(picked, state) and is_unlocked(picked, state):
        return picked, picked
    return picked, next(rule for rule in rules if rule.consolation)


# --- pity (保底) and unlock tiers -------------------------------------------------------------
#
# Unlock tier: a prize with ``unlock_after = K`` is drawable from the member's Kth draw on, the
# draws counted as the per-member total limit counts them (draws paid with a chance do not count:
# the `user_total` counter). Before that, a pick of it falls back to the consolation prize, like
# an out-of-stock pick: the disclosed odds of every other prize stay as they are.
#
# Pity: with ``pity_after = N``, once a member's last N draws (of any kind) all won the consolation
# prize, their next draw picks among the pity prizes that are available and unlocked, by their
# relative weights, with the same random number (``rand * subtotal // 2**32``). If none is, it is
# a normal draw. The streak counts every draw won by the consolation prize and restarts at 0 on
# any other win (`next_streak`); grants are not draws and leave it alone.


def is_unlocked(rule: PrizeRule, state: Availability) -> bool:
    return state.user_draws + 1 >= rule.unlock_after


def pity_pick(rules: Sequence[PrizeRule], rand: int, state: Availability, pity_after: int) -> PrizeRule | None:
    """The prize a pity draw guarantees, or None (no pity rule, streak too short, nothing left)."""
    if not pity_after or state.streak < pity_after:
        return None
    pool = [r for r in rules if r.pity and r.weight > 0 and is_available(r, state) and is_unlocked(r, state)]
    return pick(pool, rand) if pool else None


def next_streak(streak: int, won: PrizeRule) -> int:
    return streak + 1 if won.consolation else 0
