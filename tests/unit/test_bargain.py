"""The bargain's cuts (a pure rule): positive, adding up to the discount, the same for a seed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assist.bargain import cuts, from_cents, price_after, to_cents


@given(
    discount=st.integers(min_value=1, max_value=10_000_000),
    helps=st.integers(min_value=1, max_value=1000),
    seed=st.integers(min_value=0, max_value=2**62),
)
def test_cuts_are_positive_and_reach_the_floor_exactly(discount: int, helps: int, seed: int) -> None:
    if discount < helps:
        with pytest.raises(ValueError):
            cuts(discount, helps, seed)
        return
    drawn = cuts(discount, helps, seed)
    assert len(drawn) == helps and min(drawn) >= 1 and sum(drawn) == discount
    assert cuts(discount, helps, seed) == drawn  # reproducible from the seed
    assert price_after(discount + 990, drawn, helps) == 990


def test_every_split_is_equally_likely() -> None:
    """5 cents in 3 cuts: the 6 compositions of 5 into 3 positive parts come up evenly."""
    seen: dict[tuple[int, ...], int] = {}
    for seed in range(6000):
        key = tuple(cuts(5, 3, seed))
        seen[key] = seen.get(key, 0) + 1
    assert set(seen) == {(1, 1, 3), (1, 3, 1), (3, 1, 1), (1, 2, 2), (2, 1, 2), (2, 2, 1)}
    assert all(800 <= n <= 1200 for n in seen.values()), seen


def test_cents() -> None:
    assert to_cents(Decimal("99.90")) == 9990 and to_cents(Decimal("5")) == 500
    assert from_cents(990) == Decimal("9.9")
    with pytest.raises(ValueError):
        to_cents(Decimal("1.005"))
    assert price_after(9900, [100, 200, 300], 2) == 9600
