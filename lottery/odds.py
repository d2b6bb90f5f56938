"""The pure rules of a draw: the weighted pick and the out-of-stock fallback.

`draw.lua` implements exactly the same arithmetic; tests run both on the same inputs.

The random number is a 32-bit integer drawn with `secrets` in Python and passed to Lua, so any
draw can be re-derived from the logged number. The pick point is ``rand * total // 2**32``: with
total weight below 2**21 the product stays below 2**53, so Lua's doubles compute it exactly.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


def is_available(rule: PrizeRule, state: Availability) -> bool:
    if rule.limited and state.stock_left.get(rule.id, 0) <= 0:
        return False
    if rule.daily_stock and state.granted_today.get(rule.id, 0) >= rule.daily_stock:
        return False
    return not (rule.per_user_cap and state.user_wins.get(rule.id, 0) >= rule.per_user_cap)


def decide(rules: Sequence[PrizeRule], rand: int, state: Availability) -> tuple[PrizeRule, PrizeRule]:
    """(picked, won): the pick follows the disclosed odds; an unavailable pick falls back to the
    consolation prize, so no other prize's odds ever rise above what was disclosed."""
    picked = pick(rules, rand)
    if is_available(picked, state):
        return picked, picked
    return picked, next(rule for rule in rules if rule.consolation)
