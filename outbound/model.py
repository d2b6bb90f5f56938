"""The outbound side's rules and shapes: event types, the retry schedule, configuration, the
bodies operators and members send and the views they get back."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from activities.model import SAFE_TEXT

# Fulfilment (the CRM issues the coupon, ships the goods) and notifications (the brand's messaging).
FULFILMENT_EVENTS = ("fulfilment.requested", "fulfilment.address_changed", "fulfilment.cancelled")
NOTIFICATION_EVENTS = (
    "prize.won",
    "checkin.reminder",
    "reservation.reminder",
    "initiative.expiring",
    "initiative.completed",
)
EVENT_TYPES = FULFILMENT_EVENTS + NOTIFICATION_EVENTS
EventType = Literal[
    "fulfilment.requested",
    "fulfilment.address_changed",
    "fulfilment.cancelled",
    "prize.won",
    "checkin.reminder",
    "reservation.reminder",
    "initiative.expiring",
    "initiative.completed",
]

# Seconds after each failed attempt before the next: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h (about
# 17.6 hours in all, seven attempts). After the last one the delivery is a dead letter.
RETRY_SCHEDULE_S = (5, 300, 1800, 7200, 18000, 36000)

FULFILMENT_STATUSES = ("pending", "delivered", "issued", "failed", "cancelled")
DELIVERY_STATUSES = ("pending", "delivered", "dead", "cancelled")
EDITABLE = ("pending", "delivered", "failed")  # a goods address may change until shipped (issued)


def iso_utc(ms: int) -> str:
    """RFC 3339 in UTC, milliseconds: 2026-06-01T04:00:00.000Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hours(value: str) -> tuple[int, int] | None:
    if not value or value == "off":
        return None
    start, _, end = value.partition("-")
    return int(start) % 24, int(end) % 24


@dataclass(frozen=True)
class OutboundConfig:
    """PROMO_* settings of the outbound side (README, Configuration)."""

    external_types: tuple[str, ...] = ("coupon", "goods")  # PROMO_EXTERNAL_PRIZE_TYPES
    daily_cap: int = 3  # PROMO_NOTIFY_DAILY_CAP: notifications per member per day, all activities
    quiet_hours: tuple[int, int] | None = (22, 8)  # PROMO_QUIET_HOURS "22-8" (local), "off"
    checkin_reminder_hour: int = 20  # PROMO_CHECKIN_REMINDER_HOUR (local)
    reservation_reminder_hour: int = 9  # PROMO_RESERVATION_REMINDER_HOUR (local)
    timeout_s: float = 10.0  # PROMO_WEBHOOK_TIMEOUT_S: one attempt, connect to last byte
    default_max_in_flight: int = 8
    # PROMO_WEBHOOK_LEASE_S: how long a claimed delivery is left to its dispatcher before another
    # may take it (a dispatcher that died); at least the timeout + 2 s. Default max(60, 3 x timeout).
    lease_s: float | None = None

    def lease_ms(self) -> int:
        lease = self.lease_s if self.lease_s is not None else max(60.0, self.timeout_s * 3)
        return int(max(lease, self.timeout_s + 2) * 1000)

    @classmethod
    def from_env(cls) -> OutboundConfig:
        env = os.environ.get
        types = tuple(t.strip() for t in env("PROMO_EXTERNAL_PRIZE_TYPES", "coupon,goods").split(",") if t.strip())
        return cls(
            external_types=types,
            daily_cap=int(env("PROMO_NOTIFY_DAILY_CAP", "3")),
            quiet_hours=_hours(env("PROMO_QUIET_HOURS", "22-8")),
            checkin_reminder_hour=int(env("PROMO_CHECKIN_REMINDER_HOUR", "20")),
            reservation_reminder_hour=int(env("PROMO_RESERVATION_REMINDER_HOUR", "9")),
            timeout_s=float(env("PROMO_WEBHOOK_TIMEOUT_S", "10")),
            lease_s=float(env("PROMO_WEBHOOK_LEASE_S", "0")) or None,
        )


Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2000, pattern=r"^https?://[^\s/?#@]+(/[^\s]*)?$")]
Text = Annotated[str, msgspec.Meta(max_length=100, pattern=SAFE_TEXT)]


class EndpointSpec(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    event_types: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=len(EVENT_TYPES))]
    description: Text = ""
    enabled: bool = True
    max_in_flight: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8


class EndpointPatch(msgspec.Struct, forbid_unknown_fields=True):
    """What changes (a field left out stays as it is): disable an endpoint, change its types..."""

    url: Url | None = None
    event_types: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=len(EVENT_TYPES))] | None = None
    description: Text | None = None
    enabled: bool | None = None
    max_in_flight: Annotated[int, msgspec.Meta(ge=1, le=64)] | None = None


class RotateBody(msgspec.Struct, forbid_unknown_fields=True):
    # How long the old secret keeps signing beside the new one (receivers switch meanwhile).
    overlap_s: Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 3600)] = 24 * 3600


class EndpointView(msgspec.Struct):
    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    max_in_flight: int
    previous_secret_until: str | None  # RFC 3339 (UTC): the old secret signs too until then
    created_at: str
    secret: str | None = None  # shown once: on creation and rotation


class DeliveryView(msgspec.Struct):
    id: int
    webhook_id: str
    event_type: str
    endpoint_id: int
    status: str
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None


Line = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=SAFE_TEXT)]


class Address(msgspec.Struct, forbid_unknown_fields=True):
    """A delivery address in mainland China (a goods prize)."""

    name: Line  # the recipient
    phone: Annotated[str, msgspec.Meta(pattern=r"^1[3-9][0-9]{9}$")]  # a mainland mobile number
    province: Line
    city: Line
    district: Line
    street: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=SAFE_TEXT)]
    postal_code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")] | None = None


class IssueBody(msgspec.Struct, forbid_unknown_fields=True):
    """The CRM's confirmation: its coupon code or order (shipping) number."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:/#\-]+$")]


class PrizeRef(msgspec.Struct):
    id: int
    name: str
    type: str


class MyPrize(msgspec.Struct):
    grant_id: str
    activity_id: int
    prize: PrizeRef
    status: str  # pending | delivered | issued | failed | cancelled
    won_at: str
    code: str | None  # when issued: the coupon code or order number
    address_required: bool  # a goods prize without an address yet
    address_editable: bool
    address: Address | None  # the member's own, as given


class FulfilmentView(msgspec.Struct):
    grant_id: str
    activity_id: int
    user_id: str
    prize: PrizeRef
    status: str
    won_at: str
    code: str | None
    address: Address | None  # masked unless revealed


class ResendResult(msgspec.Struct):
    id: int
    status: str
    next_attempt_at: str
