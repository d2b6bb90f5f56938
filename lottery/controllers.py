"""The lottery's routes: draws, the draw history, the chances a member holds; adding stock."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from activities.auth import Identity
from activities.errors import Kind, PromoError
from activities.model import MAX_COUNT
from activities.pages import Page
from api.body import check_idempotency_key, decode
from api.lookup import published_activity
from api.params import Cursor, Id, IdFilter, Limit
from api.schemas import ActivityView, activity_view
from api.security import platform_of, provide_anyone, provide_operator, provide_player
from lottery.service import DrawBody, DrawResult, DrawService

_player = {"player": Provide(provide_player)}


@post("/activities/{activity_id:int}/draws", dependencies=_player)
async def draw(
    request: Request[Any, Any, Any],
    player: NamedDependency[Identity],
    activity_id: Id,
) -> DrawResult:
    """Draw once. The Idempotency-Key header is required: a retry with the same key returns the
    first result instead of drawing again."""
    await published_activity(request, activity_id)  # 404 first, whatever the body (api/lookup.py)
    key = check_idempotency_key(request.headers.get("idempotency-key"))
    body = decode(await request.body(), DrawBody)
    return await platform_of(request).service(DrawService).draw(player, activity_id, key, body)


@get("/me/draws", dependencies=_player)
async def my_draws(
    request: Request[Any, Any, Any],
    player: NamedDependency[Identity],
    activity: IdFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DrawResult]:
    """The member's draws, newest first: `{"items", "next_cursor"}`; pass `next_cursor` back as
    `?cursor=` for the next page (null: the last page)."""
    return await platform_of(request).service(DrawService).history(player.subject, activity, limit, cursor)


@get("/players/{user_id:str}/draws", dependencies={"caller": Provide(provide_anyone)})
async def player_draws(
    request: Request[Any, Any, Any],
    caller: NamedDependency[Identity],
    user_id: FromPath[str],
    activity: IdFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DrawResult]:
    """A member's draws, a page at a time: operators may read anyone's, players only their own."""
    if caller.role != "operator" and caller.subject != user_id:
        raise PromoError(Kind.FORBIDDEN, "not_your_data", "players can only read their own draws")
    return await platform_of(request).service(DrawService).history(user_id, activity, limit, cursor)


class Chances(msgspec.Struct):
    activity_id: int
    chances: int


@get("/activities/{activity_id:int}/chances", dependencies=_player)
async def my_chances(request: Request[Any, Any, Any], player: NamedDependency[Identity], activity_id: Id) -> Chances:
    """Draw chances the member holds on a lottery; the next draws use them first."""
    chances = await platform_of(request).service(DrawService).chances_left(activity_id, player.subject)
    return Chances(activity_id=activity_id, chances=chances)


class AddStock(msgspec.Struct, forbid_unknown_fields=True):
    # Bounded here (a 422 naming the field); zero and below are `units_not_positive` (service).
    units: Annotated[int, msgspec.Meta(ge=-MAX_COUNT, le=MAX_COUNT)]


@post(
    "/operator/activities/{activity_id:int}/prizes/{prize_id:int}/stock",
    status_code=200,
    dependencies={"operator": Provide(provide_operator)},
)
async def add_stock(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id, prize_id: Id
) -> ActivityView:
    """Add units to a prize's total stock (a live activity too); the new total is logged."""
    platform = platform_of(request)
    admin = platform.service(DrawService).admin
    await admin.prize_of(activity_id, prize_id)  # 404 first (api/lookup.py)
    body = decode(await request.body(), AddStock)
    lottery = await admin.add_stock(activity_id, prize_id, body.units, operator.subject)
    return await activity_view(platform, lottery, operator=True)


ROUTES = [draw, my_draws, player_draws, my_chances, add_stock]
