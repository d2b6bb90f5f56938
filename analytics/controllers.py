"""Back office: the reports of an activity (`/operator/activities/{id}/reports/{name}`) as JSON
or streamed CSV, and its raw events as streamed CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from activities import db as kernel_db
from activities.auth import Identity
from activities.errors import not_found
from analytics.export import events_csv, report_csv
from analytics.reports import REPORTS, Reports, day_range
from api.gameplays import GAMEPLAY_BY_TYPE
from api.params import Id
from api.security import platform_of, provide_operator

Day = Annotated[str | None, QueryParameter(pattern=r"^\d{4}-\d{2}-\d{2}$")]
From = Annotated[str | None, QueryParameter(name="from", pattern=r"^\d{4}-\d{2}-\d{2}$")]
Format = Annotated[Literal["json", "csv"], QueryParameter()]
Metric = Annotated[Literal["win", "redemption", "d7"], QueryParameter()]
_OPERATOR = {"operator": Provide(provide_operator)}


@get(
    "/operator/activities/{activity_id:int}/reports/{name:str}",
    dependencies=_OPERATOR,
    opt={"activity": "any"},
)
async def read_report(
    request: Request[Any, Any, Any],
    operator: NamedDependency[Identity],
    activity_id: Id,
    name: FromPath[str],
    first: From = None,
    to: Day = None,
    format: Format = "json",
    metric: Metric = "win",
) -> Response[Any]:
    """overview | funnel | checkin | assist | points | experiment, over `?from=&to=` local days
    (the activity's time zone; by default its whole window), as JSON or `?format=csv`."""
    if name not in REPORTS:
        raise not_found("unknown_report", f"no report {name!r}; use one of {list(REPORTS)}")
    platform = platform_of(request)
    activity = await platform.activities.get(activity_id)
    opts = {"metric": metric} if name == "experiment" else {}
    report = await Reports(platform.engine).build(name, activity, first, to, **opts)
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
    dependencies=_OPERATOR,
    opt={"activity": "any"},
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
    start, end = day_range(activity, first, to)
    gameplay = GAMEPLAY_BY_TYPE.get(activity.type)
    kernel = [kernel_db.draws, kernel_db.chance_ledger, kernel_db.points_ledger]
    tables = list(dict.fromkeys([*kernel, *(gameplay.tables if gameplay else ())]))
    return Stream(
        events_csv(platform.engine, activity, tables, start, end),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="activity-{activity_id}-events-{start}-{end}.csv"'},
    )


ROUTES = (read_report, export_events)
