"""What the API sends back, and strict decoding of what it receives."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, TypeVar

import msgspec

from activities.errors import Kind, PromoError, invalid
from activities.model import MAX_COUNT, Activity, Audience, Limits
from assist.model import AssistRules
from assist.model import rules_of as assist_rules_of
from checkin.model import CheckinRules
from checkin.model import rules_of as checkin_rules_of
from reservation.model import ReservationRules
from reservation.model import rules_of as reservation_rules_of

T = TypeVar("T")


def decode(body: bytes, type_: type[T]) -> T:
    """Decode a JSON body strictly: malformed JSON is 400, a wrong shape 422 naming the field."""
    if not body.strip():
        body = b"{}"
    try:
        return msgspec.json.decode(body, type=type_, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = field_of(message)
        raise (invalid("invalid_body", message, field=field) if field else invalid("invalid_body", message)) from exc
    except msgspec.DecodeError as exc:
        raise PromoError(Kind.MALFORMED, "malformed_json", f"the body is not valid JSON: {exc}") from exc


_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_NAMED = re.compile(r"^Object (?:missing required|contains unknown) field `(?P<name>[^`]+)`")


def field_of(message: str) -> str | None:
    """The offending field of a msgspec validation message, as `details.field`: "limits.per_user_daily"
    for "... - at `$.limits.per_user_daily`", "prizes[0].weight" for a missing (or unknown) field
    `weight` at `$.prizes[0]`; None when the body as a whole is wrong (not an object)."""
    at = _AT.search(message)
    path = at["path"] if at else ""
    named = _NAMED.match(message)
    if named:
        path = f"{path}.{named['name']}" if path else named["name"]
    return path or None


class PrizeView(msgspec.Struct):
    id: int
    name: str
    type: str
    value_cny: str
    odds: str  # disclosed probability of being picked, e.g. "0.0125" (1.25 %)
    odds_percent: str
    stock: int | None = None  # operator view only
    daily_stock: int | None = None
    per_user_cap: int | None = None
    weight: int | None = None
    points: int | None = None  # credited by a "points" prize


class ActivityView(msgspec.Struct):
    id: int
    type: str
    name: str
    status: str
    skin: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str
    audience: Audience
    limits: Limits
    points_cost: int
    prizes: list[PrizeView]
    odds_rule: str | None = None  # lotteries: how the odds and the fallback work
    checkin: CheckinRules | None = None  # sign-in activities: cycle, rewards, make-up, linked lottery
    assist: AssistRules | None = None  # friend assist activities: kind, helps needed, prize, caps
    reservation: ReservationRules | None = None  # reservations: item, dates, stores, limits, opening


ODDS_RULE = (
    "Each draw picks a prize with the odds shown. If the picked prize is out of stock, or you "
    "have reached its per-person cap, you receive the consolation prize instead."
)


def activity_view(activity: Activity, *, operator: bool) -> ActivityView:
    odds = activity.odds()
    tz = activity.tz
    return ActivityView(
        id=activity.id,
        type=activity.type,
        name=activity.name,
        status=activity.status,
        skin=activity.skin,
        starts_at=activity.starts_at.astimezone(tz),
        ends_at=activity.ends_at.astimezone(tz),
        timezone=activity.timezone,
        audience=activity.audience,
        limits=activity.limits,
        points_cost=activity.points_cost,
        prizes=[
            PrizeView(
                id=p.id,
                name=p.name,
                type=p.type,
                value_cny=str(p.value_cny),
                odds=f"{odds[p.id]:.6f}",
                odds_percent=f"{odds[p.id] * 100:.4f}%",
                stock=p.stock if operator else None,
                daily_stock=p.daily_stock if operator else None,
                per_user_cap=p.per_user_cap,
                weight=p.weight if operator else None,
                points=p.points,
            )
            for p in activity.prizes
        ],
        odds_rule=ODDS_RULE if activity.is_lottery else None,
        checkin=checkin_rules_of(activity) if activity.type == "checkin" else None,
        assist=assist_rules_of(activity) if activity.type == "assist" else None,
        reservation=reservation_rules_of(activity) if activity.type == "reservation" else None,
    )


class AddStock(msgspec.Struct, forbid_unknown_fields=True):
    # Bounded here (a 422 naming the field); zero and below are `units_not_positive` (service).
    units: Annotated[int, msgspec.Meta(ge=-MAX_COUNT, le=MAX_COUNT)]


class NoBody(msgspec.Struct, forbid_unknown_fields=True):
    """An empty JSON object (or no body at all)."""


class TypeOnly(msgspec.Struct):
    """The `type` of an activity being created, read first to pick the spec to decode."""

    type: Annotated[str, msgspec.Meta(max_length=20)] = ""


def check_idempotency_key(key: str | None) -> str:
    if not key:
        raise PromoError(
            Kind.MALFORMED,
            "idempotency_key_required",
            "send an Idempotency-Key header (any unique string, e.g. a UUID)",
        )
    if len(key) > 128 or not all(c.isalnum() or c in "-_.:" for c in key) or not key.isascii():
        raise invalid("idempotency_key_invalid", "the Idempotency-Key must be 1-128 of letters, digits, - _ . :")
    return key
