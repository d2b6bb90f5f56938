"""Cost so far against a lottery's budget: read from the spec when it declares `budget_cny`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from analytics.reports import _budget


@dataclass
class _WithBudget:
    budget_cny: Decimal | None


def test_budget_used_and_left() -> None:
    assert _budget(_WithBudget(Decimal("200")), 5_000) == {
        "budget_cny": "200.00",
        "budget_left_cny": "150.00",
        "budget_used": 0.25,
    }


def test_no_budget_declared() -> None:
    none = {"budget_cny": None, "budget_left_cny": None, "budget_used": None}
    assert _budget(None, 100) == none
    assert _budget(object(), 100) == none
    assert _budget(_WithBudget(None), 100) == none
