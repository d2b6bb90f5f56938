"""The reservation's pure rules: when a date opens, until when a reservation can be cancelled,
which pool of units it takes from, the rules the schema cannot say, the rows of its events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from activities.clock import to_ms
from activities.errors import PromoError
from reservation.audit import reservation_rows
from reservation.db import reservation_changes, reservations
from reservation.model import (
    ReservationRules,
    cancel_until_ms,
    day_start_ms,
    opens_at_ms,
    validate_rules,
)
from tests.conftest import reservation_spec

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
JUNE_3 = date(2026, 6, 3)


def rules(method: str = "pickup", **changes: Any) -> ReservationRules:
    return msgspec.convert(reservation_spec(method, reservation=changes)["reservation"], ReservationRules)


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = SHANGHAI) -> int:
    return to_ms(datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz))


def test_a_date_opens_days_ahead_at_its_time_never_before_the_activity() -> None:
    sneakers = rules()  # opens at 10:00 three days ahead
    early_start = at(date(2026, 5, 1), 0)
    assert opens_at_ms(JUNE_3, sneakers, SHANGHAI, early_start) == at(date(2026, 5, 31), 10)
    late_start = at(date(2026, 6, 1), 12)
    assert opens_at_ms(JUNE_3, sneakers, SHANGHAI, late_start) == late_start
    always_open = rules(opening=None)
    assert opens_at_ms(JUNE_3, always_open, SHANGHAI, early_start) == early_start


def test_the_cancel_cutoff_counts_back_from_the_end_of_the_day() -> None:
    assert cancel_until_ms(JUNE_3, rules(), SHANGHAI) == at(date(2026, 6, 2), 12)  # 36 hours: noon the day before
    assert cancel_until_ms(JUNE_3, rules(cancel_cutoff_hours=6), SHANGHAI) == at(JUNE_3, 18)
    assert cancel_until_ms(JUNE_3, rules(cancel_cutoff_hours=0), SHANGHAI) == at(date(2026, 6, 4), 0)


def test_day_arithmetic_is_local_across_dst() -> None:
    """8 March 2026 has 23 hours in New York: the day's start and end are local midnights."""
    dst = date(2026, 3, 8)
    assert day_start_ms(dst, NEW_YORK) == at(dst, 0, tz=NEW_YORK)
    no_cutoff = rules(cancel_cutoff_hours=0, dates=[{"date": "2026-03-08", "quantity": 1}])
    assert cancel_until_ms(dst, no_cutoff, NEW_YORK) - day_start_ms(dst, NEW_YORK) == 23 * 3600 * 1000


def test_pools_a_store_with_its_own_quantity_and_the_shared_one() -> None:
    pickup = rules()  # S1 has 10 of its own a day, S2 shares the date's 100
    assert pickup.pools() == {
        "2026-06-03|all": 100,
        "2026-06-03|S1": 10,
        "2026-06-04|all": 100,
        "2026-06-04|S1": 10,
    }
    assert pickup.pool_of(JUNE_3, "S1") == "2026-06-03|S1"
    assert pickup.pool_of(JUNE_3, "S2") == "2026-06-03|all"
    assert pickup.quantity(JUNE_3) == 100 and pickup.quantity(date(2026, 6, 5)) is None
    delivery = rules("delivery")
    assert delivery.pools() == {"2026-06-03|all": 100, "2026-06-04|all": 100}
    assert delivery.pool_of(JUNE_3, None) == "2026-06-03|all"
    assert delivery.script_rules() == '{"per_date":1,"total":0}'


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"dates": []}, "no_dates"),
        ({"dates": [{"date": "2026-06-03", "quantity": 1}] * 2}, "dates_invalid"),
        ({"stores": []}, "stores_required"),
        ({"stores": [{"id": "S1", "name": "A"}, {"id": "S1", "name": "B"}]}, "stores_invalid"),
        ({"item": {"sku": "X", "name": "X", "price_cny": "10.00", "deposit_cny": "20.00"}}, "deposit_invalid"),
        ({"item": {"sku": "X", "name": "X", "price_cny": "10.001"}}, "price_invalid"),
    ],
)
def test_rules_the_schema_cannot_say(changes: dict[str, Any], code: str) -> None:
    with pytest.raises(PromoError) as caught:
        validate_rules(rules(**changes))
    assert caught.value.code == code
    validate_rules(rules())  # the example itself is fine


def test_the_rows_of_a_reservation_and_of_a_change() -> None:
    made = {
        "type": "reservation",
        "code": "ABC",
        "user_id": "u1",
        "date": "2026-06-03",
        "store": "S1",
        "pool": "2026-06-03|S1",
        "purchase": "in_store",
        "idempotency_key": "k1",
        "fingerprint": "f",
        "cancel_until_ms": "5",
        "created_at_ms": "4",
    }
    ((table, row),) = reservation_rows(7, "1-0", made)
    assert table is reservations
    assert (row["activity_id"], row["cancel_until_ms"], row["created_at_ms"], row["stream_id"]) == (7, 5, 4, "1-0")
    changed = {"type": "reservation_change", "code": "ABC", "status": "redeemed", "actor": "op", "at_ms": "9"}
    ((table, row),) = reservation_rows(7, "1-1", changed)
    assert table is reservation_changes and (row["status"], row["at_ms"]) == ("redeemed", 9)
    with pytest.raises(ValueError):
        reservation_rows(None, "1-2", changed)
