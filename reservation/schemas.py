"""What the reservation API receives and answers: a reservation request, a reservation (with its
code and a QR-ready payload), a redemption, the operator's counters per date and store."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from activities.channels import Origin
from activities.model import SAFE_TEXT, check_day
from reservation.model import StoreId

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=SAFE_TEXT)]


class ReserveBody(Origin, forbid_unknown_fields=True, kw_only=True):
    date: date
    store_id: StoreId | None = None  # required for pickup

    def __post_init__(self) -> None:
        check_day(self.date, "date")


class CancelBody(Origin, forbid_unknown_fields=True, kw_only=True):
    """Optional: where the cancellation came from (`channel`, `source`)."""


class RedeemBody(Origin, forbid_unknown_fields=True, kw_only=True):
    """The code as staff type it, or the payload of its QR code; the redeeming store."""

    code: Code | None = None
    qr: Annotated[str, msgspec.Meta(max_length=200, pattern=SAFE_TEXT)] | None = None
    store_id: StoreId | None = None


class ItemView(msgspec.Struct):
    sku: str
    name: str
    price_cny: str
    deposit_cny: str | None


class StoreView(msgspec.Struct):
    id: str
    name: str


class ReservationView(msgspec.Struct):
    code: str  # show it, or the QR code of qr_payload, at the store
    qr_payload: str
    activity_id: int
    item: ItemView
    date: date
    method: str  # delivery | pickup
    store: StoreView | None
    purchase: str  # prepay | in_store
    status: str  # reserved | cancelled | redeemed | expired
    reserved_at: datetime
    cancel_until: datetime
    changed_at: datetime | None = None
    replayed: bool = False


class DateStoreCounters(msgspec.Struct):
    date: str
    store: str  # a store id, or "all" (delivery)
    quantity: int | None  # its own units; None: it shares the date's pool (see pools)
    left: int | None
    reserved: int  # reservations made (whatever became of them)
    cancelled: int
    redeemed: int
    expired: int
    reserved_in_sql: int
    cancelled_in_sql: int
    redeemed_in_sql: int
    expired_in_sql: int


class PoolCounters(msgspec.Struct):
    pool: str  # "<date>|<store or all>"
    quantity: int
    left: int
    held: int  # reserved, redeemed or expired: not cancelled


class ReservationCounters(msgspec.Struct):
    activity_id: int
    status: str
    loaded: bool
    reservations_total: int
    cancelled_total: int
    redeemed_total: int
    expired_total: int
    pools: list[PoolCounters]
    by_date_and_store: list[DateStoreCounters]
    audit_backlog: int
    quarantined: int = 0  # events the audit writer could not write (GET /operator/audit/quarantine)
