"""The public view of an activity (with its odds: a legal disclosure), for players' front ends."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from activities.errors import PromoError
from api.params import Id
from api.schemas import ActivityView, activity_view
from api.security import platform_of


@get("/activities/{activity_id:int}")
async def public_view(request: Request[Any, Any, Any], activity_id: Id) -> ActivityView:
    """The activity as players see it, odds included (a legal disclosure). No token needed; with a
    player's token, the odds are those of the member's A/B variant when the activity runs one."""
    platform = platform_of(request)
    activity = await platform.activities.get_published(activity_id)
    return activity_view(activity, operator=False, member=_member(request) if activity.experiment else None)


def _member(request: Request[Any, Any, Any]) -> str | None:
    """The player whose token came with the request, if a valid one did (never required here)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        identity = platform_of(request).tokens.verify(token.strip())
    except PromoError:
        return None
    return identity.subject if identity.role == "player" else None
