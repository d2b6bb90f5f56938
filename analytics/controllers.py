"""Back office: the reports of an activity (`/operator/activities/{id}/reports/{name}`) as JSON
or streamed CSV, and its raw events as streamed CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from activities import db as kernel_db
from activities.auth import Identity
from analytics.console_page import analytics_page, report_page
from analytics.export import events_csv, report_csv
from analytics.reports import Reports, day_range
from analytics.xlsx import MEDIA_TYPE, report_xlsx
from api.gameplays import GAMEPLAY_BY_TYPE
from api.params import Id
from api.security import platform_of, provide_operator

Day = Annotated[date | None, QueryParameter(description="a local day, YYYY-MM-DD")]
From = Annotated[date | None, QueryParameter(name="from", description="a local day, YYYY-MM-DD")]
Name = Literal["overview", "funnel", "checkin", "assist", "points", "experiment"]
Format = Annotated[Literal["json", "csv", "xlsx"], QueryParameter()]
Metric = Annotated[Literal["win", "redemption", "d7", "participation"], QueryParameter()]
_OPERATOR = {"operator": Provide(provide_operator)}


@get(
    "/operator/activities/{activity_id:int}/reports/{name:str}",
    dependencies=_OPERATOR,
    opt={
        "activity": "any",
        "also_csv": True,
        "also_xlsx": True,
        "errors": ("invalid_parameter", "range_invalid"),  # a bad day, from > to
    },
)
async def read_report(
    request: Request[Any, Any, Any],
    operator: NamedDependency[Identity],
    activity_id: Id,
    name: FromPath[Name],
    first: From = None,
    to: Day = None,
    format: Format = "json",
    metric: Metric = "win",
) -> Response[Any]:
    """overview | funnel | checkin | assist | points | experiment, over `?from=&to=` local days
    (the activity's time zone; by default its whole window), as JSON, `?format=csv` (its `rows`)
    or `?format=xlsx` (a workbook: a summary sheet and one sheet per table)."""
    platform = platform_of(request)
    activity = await platform.activities.get(activity_id)
    opts = {"metric": metric} if name == "experiment" else {}
    report = await Reports(platform.engine).build(name, activity, _iso(first), _iso(to), **opts)
    if format == "xlsx":
        filename = f"activity-{activity_id}-{name}-{report['from']}-{report['to']}.xlsx"
        return Stream(
            report_xlsx(report),
            media_type=MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    if format == "csv":
        filename = f"activity-{activity_id}-{name}-{report['from']}-{report['to']}.csv"
        return Stream(
            report_csv(report["rows"]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return Response(report)


@get(
    "/operator/activities/{activity_id:int}/events",
    media_type="text/csv",
    dependencies=_OPERATOR,
    opt={"activity": "any", "errors": ("invalid_parameter", "range_invalid")},  # a bad day, from > to
)
async def export_events(
    request: Request[Any, Any, Any],
    operator: NamedDependency[Identity],
    activity_id: Id,
    first: From = None,
    to: Day = None,
) -> Stream:
    """The activity's raw events (its audit trail) over `?from=&to=` local days, as streamed CSV."""
    platform = platform_of(request)
    activity = await platform.activities.get(activity_id)
    start, end = day_range(activity, _iso(first), _iso(to))
    gameplay = GAMEPLAY_BY_TYPE.get(activity.type)
    tables = [*(gameplay.tables if gameplay else ()), kernel_db.points_ledger]  # a lottery's: draws, chances
    return Stream(
        events_csv(platform.engine, activity, tables, start, end),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="activity-{activity_id}-events-{start}-{end}.csv"'},
    )


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


ROUTES = (read_report, export_events, analytics_page, report_page)
