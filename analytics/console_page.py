"""The console's analytics page of an activity (/console/activities/{id}/analytics): the overview
report drawn with ECharts (the console's vendored copy): participants and actions per day, actions
by channel, wins per prize; links to every report's CSV."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get

from analytics.reports import REPORTS, Reports
from api.params import Id
from api.security import platform_of
from console.web import gate, render


@get("/console/activities/{activity_id:int}/analytics", include_in_schema=False)
async def analytics_page(request: Request[Any, Any, Any], activity_id: Id) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    platform = platform_of(request)
    activity = await platform.activities.get(activity_id)
    overview = await Reports(platform.engine).build("overview", activity, None, None)
    data = msgspec.json.encode(overview).decode().replace("</", "<\\/")
    return render(request, "analytics.html", session, activity=activity, overview=overview, data=data, reports=REPORTS)
