"""What players' front ends call: the public view (with odds), draws, their own history."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from activities.auth import Identity
from activities.errors import Kind, PromoError
from activities.pages import Page
from api.lookup import published_activity
from api.params import Cursor, Id, IdFilter, Limit
from api.schemas import ActivityView, activity_view, check_idempotency_key, decode
from api.security import platform_of, provide_anyone, provide_player
from lottery.service import DrawBody, DrawResult

_player = {"player": Provide(provide_player)}


@get("/activities/{activity_id:int}")
async def public_view(request: Request[Any, Any, Any], activity_id: Id) -> ActivityView:
    """The activity as players see it, odds included (a legal disclosure). No token needed."""
    return activity_view(await platform_of(request).activities.get_published(activity_id), operator=False)


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
    return await platform_of(request).draws.draw(player, activity_id, key, body)


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
    return await platform_of(request).draws.history(player.subject, activity, limit, cursor)


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
    return await platform_of(request).draws.history(user_id, activity, limit, cursor)
