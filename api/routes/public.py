"""The public view of an activity (with its odds: a legal disclosure), for players' front ends."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, get
from litestar.params import QueryParameter

from activities.errors import PromoError
from api.params import Id
from api.schemas import ActivityView, activity_view
from api.security import platform_of


@get("/activities/{activity_id:int}", tags=["activities"], opt={"activity": "published"})
async def public_view(
    request: Request[Any, Any, Any],
    activity_id: Id,
    channel: Annotated[Literal["h5", "mini_program", "app", "other"] | None, QueryParameter()] = None,
    visitor: Annotated[str | None, QueryParameter(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] = None,
) -> ActivityView:
    """An activity as players see it, odds included.

    The odds of every prize are a legal disclosure; no token is needed. Drafts do not exist here.
    With a player's token, the odds are those of the member's A/B variant when the activity runs
    one. Each answer counts a view (`?channel=`, `other` by default) and, with `?visitor=` (an
    anonymous id the front end keeps) or a player's token, a unique visitor of the day."""
    platform = platform_of(request)
    activity = await platform.activities.get_published(activity_id)
    member = _member(request)
    if platform.views is not None:
        await platform.views.record(activity, channel, visitor or (f"m:{member}" if member else None))
    member = member if activity.experiment else None
    return await activity_view(platform, activity, operator=False, member=member)


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
