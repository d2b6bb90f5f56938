"""The console's analytics pages of an activity, drawn with ECharts (the console's vendored copy):
the overview (/console/activities/{id}/analytics: participants and actions per day, actions by
channel, wins per prize) and one page per other report (.../analytics/{funnel|checkin|assist|
points|experiment}: its charts, its totals and its table); links to every report's CSV."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Request, Response, get
from litestar.params import FromPath

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
    context: dict[str, Any] = {"activity": activity, "overview": overview, "data": data, "pages": PAGE_REPORTS}
    return render(request, "analytics.html", session, **context, reports=REPORTS)


PAGE_REPORTS = ("funnel", "checkin", "assist", "points", "experiment")
PageName = Literal["funnel", "checkin", "assist", "points", "experiment"]
TITLES = {
    "funnel": "Funnel · 漏斗",
    "checkin": "Sign-ins · 签到",
    "assist": "Assist · 助力",
    "points": "Points · 积分",
    "experiment": "A/B experiment · 实验",
}


@get("/console/activities/{activity_id:int}/analytics/{name:str}", include_in_schema=False)
async def report_page(request: Request[Any, Any, Any], activity_id: Id, name: FromPath[PageName]) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    platform = platform_of(request)
    activity = await platform.activities.get(activity_id)
    report = await Reports(platform.engine).build(name, activity, None, None)
    data = msgspec.json.encode(report).decode().replace("</", "<\\/")
    context: dict[str, Any] = {
        "activity": activity,
        "report": report,
        "data": data,
        "report_name": name,
        "title": TITLES[name],
    }
    return render(request, "analytics_report.html", session, **context, reports=REPORTS, pages=PAGE_REPORTS)
