"""Hot-item reservations (热门商品预约): members reserve, list and cancel; store staff redeem
(核销) by code or QR payload (operator token).

The guards answer first (api/security.py: the token; api/lookup.py: `opt["activity"]`, 404 for an
unknown or unpublished activity; `known_reservation` below: 404 for an unknown code; the
Idempotency-Key header, 400), then the body is decoded (`data:`, api/body.py), then the rules.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody

from activities.auth import Identity
from activities.pages import Page
from api.lookup import idempotency_key
from api.params import Cursor, Id, Limit
from api.roles import check_store
from api.security import identity_of, platform_of, provide_operator, provide_player, service_for
from reservation.schemas import CancelBody, RedeemBody, ReservationView, ReserveBody
from reservation.service import ReservationService


def _reservations(who: str) -> dict[str, Provide]:
    """The service, resolved after the identity `who` (one dependency batch each: api/security.py)."""
    return {"reservations": Provide(service_for(ReservationService, who), sync_to_thread=False)}


_STATES = ("reservation_cancelled", "reservation_redeemed", "reservation_expired")


async def known_reservation(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Route guard: 404 `reservation_not_found` for an unknown code, before the body is read."""
    activity_id, code = connection.path_params.get("activity_id"), connection.path_params.get("code")
    if isinstance(activity_id, int) and isinstance(code, str):
        await platform_of(connection).service(ReservationService).known(activity_id, code)


class ReservationController(Controller):
    """Members' reservations on a published reservation activity."""

    path = "/activities/{activity_id:int}/reservations"
    dependencies = {**_reservations("player"), "player": Provide(provide_player)}  # noqa: RUF012

    @post(
        "/",
        opt={
            "activity": "published",
            "idempotency": True,  # the Idempotency-Key checked by the API's guard (api/lookup.py)
            "action": "reserve",
            "errors": (
                "wrong_activity_type",
                "audience_not_allowed",
                "activity_not_live",
                "not_started",
                "already_ended",
                "date_not_offered",
                "store_required",
                "store_unknown",
                "store_not_applicable",
                "not_open_yet",
                "date_closed",
                "user_date_limit",
                "user_total_limit",
                "sold_out",
                "idempotency_key_reused",
            ),
        },
    )
    async def reserve(
        self,
        request: Request[Any, Any, Any],
        activity_id: Id,
        data: JSONBody[ReserveBody],
    ) -> ReservationView:
        """Reserve for a date.

        Reserves one unit for `date` (and, for pickup, at `store_id`) while that date's quantity
        lasts. The Idempotency-Key header is required: a retry with the same key returns the same
        reservation (`replayed: true`); the same key for another date or store is refused."""
        # the player and the service without dependencies (see api/security.py `identity_of`)
        reservations = platform_of(request).service(ReservationService)
        return await reservations.reserve(identity_of(request), activity_id, idempotency_key(request), data)

    @get("/", opt={"activity": "published", "errors": ("wrong_activity_type", "invalid_cursor")})
    async def my_reservations(
        self,
        player: NamedDependency[Identity],
        reservations: NamedDependency[ReservationService],
        activity_id: Id,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[ReservationView]:
        """The member's reservations.

        The member's own reservations (upcoming, and up to 30 days back), by date, a page at a
        time: pass `next_cursor` back as `?cursor=`."""
        return await reservations.mine(player, activity_id, limit, cursor)

    @post(
        "/{code:str}/cancel",
        status_code=200,
        guards=[known_reservation],
        opt={
            "activity": "published",
            "action": "cancel",
            "errors": ("wrong_activity_type", "reservation_not_found", *_STATES, "cancel_cutoff_passed"),
        },
    )
    async def cancel_reservation(
        self,
        player: NamedDependency[Identity],
        reservations: NamedDependency[ReservationService],
        activity_id: Id,
        code: FromPath[str],
        data: JSONBody[CancelBody | None] = None,
    ) -> ReservationView:
        """Cancel a reservation.

        Cancels one's own reservation before its cutoff; its unit returns to the pool at once.
        The optional body says where it came from (`channel`, `source`: analytics)."""
        return await reservations.cancel(player, activity_id, code, data)


class RedemptionController(Controller):
    """Store staff redeem reservations (operator token)."""

    path = "/operator/activities/{activity_id:int}/redemptions"
    opt = {"roles": "redeem"}  # noqa: RUF012 (Litestar's class attribute; api/roles.py)
    dependencies = {**_reservations("operator"), "operator": Provide(provide_operator)}  # noqa: RUF012

    @post(
        "/",
        status_code=200,
        opt={
            "activity": "published",
            "action": "redeem",
            "errors": (
                "wrong_activity_type",
                "code_required",
                "code_and_qr",
                "store_required",
                "reservation_not_found",
                *_STATES,
                "wrong_date",
                "wrong_store",
                "store_forbidden",
            ),
        },
    )
    async def redeem(
        self,
        operator: NamedDependency[Identity],
        reservations: NamedDependency[ReservationService],
        activity_id: Id,
        data: JSONBody[RedeemBody],
    ) -> ReservationView:
        """Redeem a reservation (核销).

        Store staff redeem a reservation by its `code` as typed or its `qr` payload as scanned,
        naming the redeeming store (`store_id`, pickup). Once, on its date, at its store."""
        check_store(operator, data.store_id)  # a clerk: only at its own stores
        return await reservations.redeem(operator, activity_id, data)


ROUTES = [ReservationController, RedemptionController]
