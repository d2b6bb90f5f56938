"""The public view of an activity (with its odds: a legal disclosure), for players' front ends."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from api.params import Id
from api.schemas import ActivityView, activity_view
from api.security import platform_of


@get("/activities/{activity_id:int}")
async def public_view(request: Request[Any, Any, Any], activity_id: Id) -> ActivityView:
    """The activity as players see it, odds included (a legal disclosure). No token needed."""
    platform = platform_of(request)
    return await activity_view(platform, await platform.activities.get_published(activity_id), operator=False)
