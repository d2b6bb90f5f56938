"""The public view of an activity (with its odds: a legal disclosure), for players' front ends."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from api.params import Id
from api.schemas import ActivityView, activity_view
from api.security import platform_of


@get("/activities/{activity_id:int}", tags=["activities"], opt={"activity": "published"})
async def public_view(request: Request[Any, Any, Any], activity_id: Id) -> ActivityView:
    """An activity as players see it, odds included.

    The odds of every prize are a legal disclosure; no token is needed. Drafts do not exist here."""
    platform = platform_of(request)
    return await activity_view(platform, await platform.activities.get_published(activity_id), operator=False)
