"""Console pages of activities: the list (filters, pages, empty state), the wheel form (create
and edit, with the prize table editor), the detail page with its live dashboard (an htmx
fragment refreshed every few seconds), the calendar."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery

from activities import drafts, templates
from activities.errors import PromoError
from activities.model import Activity
from api.gameplays import GAMEPLAY_BY_TYPE
from api.params import Id
from api.schemas import activity_view, spec_of
from api.security import platform_of
from console.dashboard import dashboard
from console.web import gate, render

STATUSES = ("draft", "live", "paused", "ended")
_BASE = ("skin", "audience")


def _pretty(spec: dict[str, Any]) -> str:
    return msgspec.json.format(msgspec.json.encode(spec), indent=2).decode()


async def _activity(request: Request[Any, Any, Any], activity_id: Id) -> Activity:
    try:
        return await platform_of(request).activities.get(activity_id)
    except PromoError as exc:
        raise NotFoundException(exc.message) from exc


@get("/console/activities", include_in_schema=False)
async def activity_list(
    request: Request[Any, Any, Any],
    status: FromQuery[str | None] = None,
    kind: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    status = status if status in STATUSES else None
    kind = kind if kind in GAMEPLAY_BY_TYPE else None
    q = (q or "").strip()[:100] or None
    where = drafts.filters(status, kind, q)
    try:
        page = await platform_of(request).activities.list_page(20, cursor, where)
    except PromoError:  # a cursor of another list: start again
        page = await platform_of(request).activities.list_page(20, None, where)
    return render(
        request,
        "activities.html",
        session,
        activities=page.items,
        next_cursor=page.next_cursor,
        status=status or "",
        kind=kind or "",
        q=q or "",
        statuses=STATUSES,
        kinds=sorted(GAMEPLAY_BY_TYPE),
        templates=await templates.all_templates(platform_of(request).engine),
    )


def _local(when: datetime, tz: str) -> str:
    return when.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def _has_prizes(activity_type: str) -> bool:
    """A gameplay whose create body has a prize table: the wheel form; others: the JSON form."""
    return "prizes" in GAMEPLAY_BY_TYPE[activity_type].spec.__struct_fields__


@get("/console/activities/new", include_in_schema=False)
async def new_wheel(request: Request[Any, Any, Any], kind: FromQuery[str | None] = None) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0)
    if kind in GAMEPLAY_BY_TYPE and not _has_prizes(kind):
        shape = GAMEPLAY_BY_TYPE[kind].spec
        skeleton: dict[str, Any] = {
            "type": kind,
            "name": "",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(days=30)).isoformat(),
            "timezone": "Asia/Shanghai",
        }
        skeleton |= {name: {} for name in shape.__struct_fields__ if name not in skeleton and name not in _BASE}
        return render(request, "json_form.html", session, activity=None, kind=kind, spec_text=_pretty(skeleton))
    spec = {
        "type": "wheel",
        "name": "",
        "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": now.replace(year=now.year + 1 if now.month == 12 else now.year).strftime("%Y-%m-%dT%H:%M"),
        "timezone": "Asia/Shanghai",
        "limits": {"per_user_daily": 3},
        "prizes": [{"name": "", "type": "thanks", "weight": 100}],
    }
    return render(request, "wheel_form.html", session, activity=None, spec_json=msgspec.json.encode(spec).decode())


@get("/console/activities/{activity_id:int}/edit", include_in_schema=False)
async def edit_wheel(request: Request[Any, Any, Any], activity_id: Id) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    activity = await _activity(request, activity_id)
    spec = await spec_of(platform_of(request), activity)
    if not _has_prizes(activity.type):
        return render(
            request, "json_form.html", session, activity=activity, kind=activity.type, spec_text=_pretty(spec)
        )
    spec["starts_at"], spec["ends_at"] = (
        _local(activity.starts_at, activity.timezone),
        _local(activity.ends_at, activity.timezone),
    )
    return render(request, "wheel_form.html", session, activity=activity, spec_json=msgspec.json.encode(spec).decode())


@get("/console/activities/{activity_id:int}", include_in_schema=False)
async def activity_detail(request: Request[Any, Any, Any], activity_id: Id) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    activity = await _activity(request, activity_id)
    view = msgspec.to_builtins(await activity_view(platform_of(request), activity, operator=True))
    return render(
        request,
        "activity.html",
        session,
        activity=activity,
        view=view,
        starts=_local(activity.starts_at, activity.timezone).replace("T", " "),
        ends=_local(activity.ends_at, activity.timezone).replace("T", " "),
        is_lottery=bool(view.get("prizes")),
    )


@get("/console/activities/{activity_id:int}/dashboard", include_in_schema=False)
async def dashboard_fragment(request: Request[Any, Any, Any], activity_id: Id) -> Response[Any]:
    """The live dashboard, as an htmx fragment (the detail page asks for it every 3 seconds)."""
    session = await gate(request)
    if isinstance(session, Response):
        return session
    activity = await _activity(request, activity_id)
    figures = await dashboard(platform_of(request), activity)
    chart = {"minutes": figures.minutes, "counts": figures.per_minute}
    return render(
        request,
        "dashboard.html",
        session,
        activity=activity,
        d=figures,
        chart_json=msgspec.json.encode(chart).decode(),
    )


@get("/console/calendar", include_in_schema=False)
async def calendar_page(request: Request[Any, Any, Any], month: FromQuery[str | None] = None) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    tz = ZoneInfo("Asia/Shanghai")
    today = datetime.fromtimestamp(platform_of(request).activities.clock.now_ms() / 1000, tz)
    try:
        year, number = (int(p) for p in (month or "").split("-"))
        first = datetime(year, number, 1, tzinfo=tz)
    except ValueError:
        first = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    label = first.strftime("%Y-%m")
    start, end = drafts.month_bounds(label, tz)
    platform = platform_of(request)
    ids = await drafts.filtered_ids(platform.engine, drafts.filters(starts_from=start, ends_before=end), 200, None)
    found = sorted([await platform.activities.get(i) for i in ids], key=lambda a: (a.starts_at, a.id))
    days = (end - start).days
    rows = []
    for activity in found:
        s = max(0, (activity.starts_at - start).days)
        e = min(days, (activity.ends_at - start).days + 1)
        rows.append({"activity": activity, "first": s + 1, "last": e})
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return render(
        request,
        "calendar.html",
        session,
        month=label,
        days=days,
        rows=rows,
        previous=previous.strftime("%Y-%m"),
        following=following.strftime("%Y-%m"),
    )


ROUTES = [activity_list, new_wheel, edit_wheel, activity_detail, dashboard_fragment, calendar_page]
