"""The pure rule of a bargain (砍价): how the price comes down, help by help.

At the start of an initiative the whole discount (price - floor, in cents) is split into one cut
per help needed, at random but fairly: every way of writing the discount as a sum of that many
positive whole cents is equally likely (N-1 distinct cut points drawn uniformly between 1 and
the discount - 1). No cut is zero or negative, and after the last help the price is exactly
the floor. The cuts are drawn from a seed kept with the initiative, so they can be drawn again;
the help script only applies them in order.
"""

from __future__ import annotations

import itertools
import random
from decimal import Decimal


def to_cents(amount: Decimal) -> int:
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} has more than two decimals")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    return Decimal(cents) / 100


def cuts(discount_cents: int, helps: int, seed: int) -> list[int]:
    """`helps` positive cuts adding up to `discount_cents`, the same for the same seed."""
    if helps < 1 or discount_cents < helps:
        raise ValueError("every help needs a cut of at least one cent")
    points = sorted(random.Random(seed).sample(range(1, discount_cents), helps - 1))
    bounds = [0, *points, discount_cents]
    return [high - low for low, high in itertools.pairwise(bounds)]


def price_after(price_cents: int, cut_list: list[int], helps: int) -> int:
    """The price once `helps` helps have been made."""
    return price_cents - sum(cut_list[:helps])
