"""Hot-item reservations (热门商品预约): what operators send, the rules it must satisfy, and the
pure rules of the calendar (when a date opens, until when a reservation can be cancelled, which
pool of units a reservation takes from).

An activity of type "reservation" carries the kernel's fields and `reservation`: the item, the
dates it can be reserved for with a quantity each, how it is handed over (delivery, or pickup at
one of the stores, a store having its own quantity per date if set), how it is paid (recorded on
every reservation), the per-member limits, the cancellation cutoff, and when reservations open.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec

from activities.clock import day_end_ms, to_ms
from activities.errors import invalid
from activities.model import MAX_CNY, Activity, ActivityBase, Name, check_day

Quantity = Annotated[int, msgspec.Meta(ge=0, le=10_000_000)]
StoreId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
Sku = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
SHARED = "all"  # the pool of a date that delivery, and stores without a quantity of their own, share


class Item(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    sku: Sku
    name: Name
    price_cny: Decimal
    deposit_cny: Decimal | None = None


class DateQuantity(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    date: date
    quantity: Quantity

    def __post_init__(self) -> None:
        check_day(self.date, "date")


class Store(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: StoreId
    name: Name
    quantity: Quantity | None = None  # its own units per date; None: it shares the date's quantity


class Opening(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A date opens for reservations at `time` (local), `days_ahead` days before it."""

    time: Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    days_ahead: Annotated[int, msgspec.Meta(ge=0, le=365)]


class ReservationRules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    item: Item
    dates: Annotated[list[DateQuantity], msgspec.Meta(max_length=1000)]  # 366 at most: dates_invalid
    method: Literal["delivery", "pickup"]
    stores: Annotated[list[Store], msgspec.Meta(max_length=1000)] = msgspec.field(default_factory=list)  # pickup
    purchase: Literal["prepay", "in_store"]
    per_user_per_date: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    per_user_total: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    cancel_cutoff_hours: Annotated[int, msgspec.Meta(ge=0, le=720)] = 0  # before the reserved day ends
    opening: Opening | None = None  # None: every date is open from the activity's start

    def quantity(self, day: date) -> int | None:
        return next((d.quantity for d in self.dates if d.date == day), None)

    def store(self, store_id: str) -> Store | None:
        return next((s for s in self.stores if s.id == store_id), None)

    def pools(self) -> dict[str, int]:
        """Every pool of units: "<date>|<store or all>" -> quantity."""
        pools: dict[str, int] = {}
        for day in self.dates:
            if self.method == "delivery" or any(s.quantity is None for s in self.stores):
                pools[pool_field(day.date, SHARED)] = day.quantity
            for store in self.stores:
                if store.quantity is not None:
                    pools[pool_field(day.date, store.id)] = store.quantity
        return pools

    def pool_of(self, day: date, store_id: str | None) -> str:
        store = self.store(store_id) if store_id else None
        return pool_field(day, store.id if store and store.quantity is not None else SHARED)

    def script_rules(self) -> str:
        return json.dumps(
            {"per_date": self.per_user_per_date, "total": self.per_user_total or 0}, separators=(",", ":")
        )


class ReservationSpec(ActivityBase, kw_only=True):
    type: Literal["reservation"]
    reservation: ReservationRules


def request_fingerprint(activity_id: int, day: str, store: str) -> str:
    """What a reservation request is (an Idempotency-Key used again must be the same request)."""
    return hashlib.sha256(f"{activity_id}:{day}:{store}".encode()).hexdigest()[:32]


def pool_field(day: date, store: str) -> str:
    return f"{day.isoformat()}|{store}"


def config_of(rules: ReservationRules) -> dict[str, Any]:
    config: dict[str, Any] = msgspec.to_builtins(rules)
    return config


def rules_of(activity: Activity) -> ReservationRules:
    return msgspec.convert(activity.config, ReservationRules)


def day_start_ms(day: date, tz: ZoneInfo) -> int:
    return to_ms(datetime.combine(day, time.min, tz))


def opens_at_ms(day: date, rules: ReservationRules, tz: ZoneInfo, activity_start_ms: int) -> int:
    """When reservations for `day` open: the opening time `days_ahead` days before, and never
    before the activity starts."""
    if rules.opening is None:
        return activity_start_ms
    hour, minute = (int(part) for part in rules.opening.time.split(":"))
    opening_day = day - timedelta(days=rules.opening.days_ahead)
    return max(to_ms(datetime.combine(opening_day, time(hour, minute), tz)), activity_start_ms)


def cancel_until_ms(day: date, rules: ReservationRules, tz: ZoneInfo) -> int:
    """A reservation for `day` can be cancelled until `cancel_cutoff_hours` before the day ends:
    0 until the day is over, 6 until 18:00 that day, 36 until noon the day before."""
    return day_end_ms(day, tz) - rules.cancel_cutoff_hours * 3600 * 1000


def validate_rules(rules: ReservationRules) -> None:
    """The rules a schema cannot express; raises an `invalid` PromoError naming the first."""
    item = rules.item
    for name, amount in (("price_cny", item.price_cny), ("deposit_cny", item.deposit_cny)):
        if amount is not None and not (amount.is_finite() and 0 <= amount <= MAX_CNY and amount == round(amount, 2)):
            raise invalid("price_invalid", f"item.{name} must be an amount in CNY with at most two decimals")
    if item.deposit_cny is not None and item.deposit_cny > item.price_cny:
        raise invalid("deposit_invalid", "the deposit cannot be more than the price", field="reservation.item")
    if not rules.dates:
        raise invalid("no_dates", "offer at least one date", field="reservation.dates")
    if len(rules.dates) > 366 or len({d.date for d in rules.dates}) != len(rules.dates):
        raise invalid("dates_invalid", "at most 366 dates, each once", field="reservation.dates")
    if (rules.method == "pickup") != bool(rules.stores):
        raise invalid("stores_required", "pickup needs its stores, and only pickup has stores", field="reservation")
    if len({s.id for s in rules.stores}) != len(rules.stores) or len(rules.stores) > 500:
        raise invalid("stores_invalid", "at most 500 stores, each id once", field="reservation.stores")
