"""The lottery's model, pure (no Redis, no SQL): the spec's rules, the disclosed odds, a Lottery
built on the kernel's Activity."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from activities.errors import PromoError
from activities.model import Activity, Audience
from lottery.model import Limits, Lottery, LotterySpec, Prize, PrizeType, validate_spec

WINDOW = {"starts_at": "2026-12-01T00:00:00+08:00", "ends_at": "2027-12-01T00:00:00+08:00"}


def _spec(prizes: list[dict[str, Any]], **more: Any) -> LotterySpec:
    body = {"type": "wheel", "name": "W", **WINDOW, "prizes": prizes, **more}
    return msgspec.convert(body, LotterySpec)


def _code(spec: LotterySpec) -> str:
    with pytest.raises(PromoError) as caught:
        validate_spec(spec)
    return caught.value.code


def test_a_spec_needs_one_unlimited_consolation_prize_and_bounded_values() -> None:
    coupon = {"name": "C", "type": "coupon", "weight": 1, "stock": 5}
    thanks = {"name": "T", "type": "thanks", "weight": 9}
    validate_spec(_spec([coupon, thanks]))  # fine
    assert _code(_spec([coupon])) == "consolation_prize_required"
    assert _code(_spec([coupon, thanks, thanks])) == "consolation_prize_required"
    assert _code(_spec([coupon, {**thanks, "stock": 3}])) == "consolation_must_be_unlimited"
    assert _code(_spec([{**coupon, "stock": None}, thanks])) == "stock_required"
    assert _code(_spec([{**coupon, "value_cny": "50000.01"}, thanks])) == "prize_value_too_high"
    assert _code(_spec([{**coupon, "weight": 0}, {**thanks, "weight": 0}])) == "weights_all_zero"
    assert _code(_spec([{**coupon, "weight": 2**21}, thanks])) == "weights_too_large"


def _activity() -> Activity:
    return Activity(
        id=7,
        type="wheel",
        name="W",
        status="live",
        starts_at=datetime(2026, 12, 1, tzinfo=UTC),
        ends_at=datetime(2027, 12, 1, tzinfo=UTC),
        timezone="Asia/Shanghai",
        skin=None,
        audience=Audience(),
    )


def _prize(id_: int, type_: PrizeType, weight: int) -> Prize:
    stock = None if type_ == "thanks" else 10
    return Prize(
        id=id_, name=str(id_), type=type_, weight=weight, stock=stock, daily_stock=None, per_user_cap=None,
        value_cny=Decimal(0),
    )  # fmt: skip


def test_a_lottery_is_its_activity_with_limits_cost_and_prizes() -> None:
    activity = _activity()
    lottery = Lottery.of(activity, Limits(per_user_daily=3), 10, [_prize(1, "coupon", 1), _prize(2, "thanks", 3)])
    assert isinstance(lottery, Activity)
    assert all(getattr(lottery, f) == getattr(activity, f) for f in Activity.__struct_fields__)
    assert lottery.odds() == {1: 0.25, 2: 0.75}
    assert lottery.consolation.id == 2 and lottery.prize(1).type == "coupon"
    again = Lottery.of(lottery, lottery.limits, 0, lottery.prizes)  # from a lottery too
    assert again.points_cost == 0 and again.limits.per_user_daily == 3
