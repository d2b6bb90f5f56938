"""Hot-item reservations (热门商品预约): members reserve, list and cancel; store staff redeem
(核销) by code or QR payload (operator token)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from activities.auth import Identity
from activities.pages import Page
from api.body import NoBody, check_idempotency_key, decode
from api.lookup import published_activity
from api.params import Cursor, Id, Limit
from api.roles import check_store
from api.security import platform_of, provide_operator, provide_player
from reservation.schemas import RedeemBody, ReservationView, ReserveBody
from reservation.service import ReservationService

_player = {"player": Provide(provide_player)}


@post("/activities/{activity_id:int}/reservations", dependencies=_player)
async def reserve(
    request: Request[Any, Any, Any], player: NamedDependency[Identity], activity_id: Id
) -> ReservationView:
    """Reserve for a date ({"date", "store_id"?}); the Idempotency-Key header is required: a
    retry with the same key returns the same reservation."""
    await published_activity(request, activity_id)  # 404 first, whatever the body (api/lookup.py)
    key = check_idempotency_key(request.headers.get("idempotency-key"))
    body = decode(await request.body(), ReserveBody)
    return await platform_of(request).service(ReservationService).reserve(player, activity_id, key, body)


@get("/activities/{activity_id:int}/reservations", dependencies=_player)
async def my_reservations(
    request: Request[Any, Any, Any],
    player: NamedDependency[Identity],
    activity_id: Id,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ReservationView]:
    """The member's own reservations (upcoming, and up to 30 days back), by date, a page at a
    time: pass `next_cursor` back as `?cursor=`."""
    return await platform_of(request).service(ReservationService).mine(player, activity_id, limit, cursor)


@post("/activities/{activity_id:int}/reservations/{code:str}/cancel", status_code=200, dependencies=_player)
async def cancel_reservation(
    request: Request[Any, Any, Any], player: NamedDependency[Identity], activity_id: Id, code: FromPath[str]
) -> ReservationView:
    """Cancel one's own reservation before its cutoff; the unit returns to the pool at once."""
    await platform_of(request).service(ReservationService).known(activity_id, code)
    decode(await request.body(), NoBody)
    return await platform_of(request).service(ReservationService).cancel(player, activity_id, code)


@post(
    "/operator/activities/{activity_id:int}/redemptions",
    status_code=200,
    dependencies={"operator": Provide(provide_operator)},
)
async def redeem(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
) -> ReservationView:
    """Store staff redeem (核销) a reservation: {"code"} as typed, or {"qr"} as scanned, and the
    redeeming store's {"store_id"} (pickup). Once, on its date, at its store."""
    await published_activity(request, activity_id)
    body = decode(await request.body(), RedeemBody)
    check_store(operator, body.store_id)  # a clerk: only at its own stores
    return await platform_of(request).service(ReservationService).redeem(operator, activity_id, body)


ROUTES = [reserve, my_reservations, cancel_reservation, redeem]
