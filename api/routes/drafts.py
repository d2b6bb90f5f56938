"""The campaign workflow (issue 13): edit or delete a draft, clone any activity into a new draft,
templates, the calendar, and a live activity's end time extended. Every gameplay's spec comes
from the registry (api/gameplays.py): a PATCH is decoded and validated by the gameplay's own spec
and `create`, exactly as a create is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from activities import drafts, templates
from activities.auth import Identity
from activities.clock import to_ms
from activities.errors import invalid
from activities.model import Activity, AwareDatetime, Name
from api.body import decode
from api.error_codes import spec_errors
from api.gameplays import GAMEPLAY_BY_TYPE
from api.params import Id
from api.schemas import ActivityView, activity_view, spec_of
from api.security import platform_of, provide_operator

_operator = {"operator": Provide(provide_operator)}
_any = {"activity": "any"}  # api/lookup.py: 404 first for an unknown activity, drafts included


def _edit_errors() -> tuple[str, ...]:
    """An edit is a create of the draft's gameplay: its spec checks, and the edit's own."""
    return ("not_a_draft", "type_change", *spec_errors())


def _template_errors() -> tuple[str, ...]:
    return ("template_not_found", *spec_errors())


class DraftChanges(msgspec.Struct):
    """Any fields of the draft's create body (see POST /operator/activities): each replaces the
    draft's (send the whole `prizes` list); validated as a create is."""


class CloneBody(msgspec.Struct, forbid_unknown_fields=True):
    """A new draft from an activity or a template: its own name and dates (default: the same)."""

    name: Name | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


class TemplateBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None


class WindowBody(msgspec.Struct, forbid_unknown_fields=True):
    ends_at: AwareDatetime


class Templates(msgspec.Struct):
    items: list[templates.Template]


class CalendarEntry(msgspec.Struct):
    id: int
    name: str
    type: str
    status: str
    starts_at: datetime
    ends_at: datetime


class Calendar(msgspec.Struct):
    month: str
    activities: list[CalendarEntry]


async def _create(request: Request[Any, Any, Any], spec: dict[str, Any], operator: Identity) -> Activity:
    """A draft from a create body, through its gameplay (the registry), as POST /operator/activities."""
    gameplay = GAMEPLAY_BY_TYPE.get(str(spec.get("type")))
    if gameplay is None:
        raise invalid("invalid_body", f"unknown activity type {spec.get('type')!r}", field="type")
    decoded = decode(msgspec.json.encode(spec), gameplay.spec)
    return await platform_of(request).services[gameplay.name].create(decoded, operator.subject)


async def _spec_of(request: Request[Any, Any, Any], activity: Activity) -> dict[str, Any]:
    return await spec_of(platform_of(request), activity)


def _redated(spec: dict[str, Any], body: CloneBody, default_name: str) -> dict[str, Any]:
    spec = {**spec, "name": body.name or default_name}
    if body.starts_at is not None:
        spec["starts_at"] = body.starts_at.isoformat()
    if body.ends_at is not None:
        spec["ends_at"] = body.ends_at.isoformat()
    return spec


@patch("/operator/activities/{activity_id:int}", dependencies=_operator, opt={**_any, "errors": _edit_errors})
async def edit_draft(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
) -> ActivityView:
    """Edit a draft: any fields of its create body (top-level fields replace the draft's: send
    the whole `prizes` list), validated as a create is. A published activity: 409 `not_a_draft`
    (clone it instead)."""
    platform = platform_of(request)
    activity = await platform.activities.get(activity_id)
    if activity.status != "draft":
        raise drafts.not_a_draft()
    changes = decode(await request.body(), dict[str, Any])
    gameplay = GAMEPLAY_BY_TYPE[activity.type]
    spec = {**await _spec_of(request, activity), **changes}
    if GAMEPLAY_BY_TYPE.get(str(spec.get("type"))) is not gameplay:
        raise invalid("type_change", f"a {activity.type} stays a {gameplay.name} activity", field="type")
    decoded = decode(msgspec.json.encode(spec), gameplay.spec)
    token = drafts.EDITING.set(activity_id)
    try:
        edited = await platform.services[gameplay.name].create(decoded, operator.subject)
    finally:
        drafts.EDITING.reset(token)
    return await activity_view(platform_of(request), edited, operator=True)


@delete("/operator/activities/{activity_id:int}", dependencies=_operator, opt={**_any, "errors": ("not_a_draft",)})
async def delete_draft(request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id) -> None:
    """Delete a draft (a published activity: 409 `not_a_draft`)."""
    platform = platform_of(request)
    await drafts.delete(platform.engine, activity_id, operator.subject, platform.activities.clock.now_ms())


@post("/operator/activities/{activity_id:int}/clone", dependencies=_operator, opt={**_any, "errors": spec_errors})
async def clone(request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id) -> ActivityView:
    """A new draft with the activity's settings (any status): optional `name`, `starts_at`, `ends_at`."""
    activity = await platform_of(request).activities.get(activity_id)
    body = decode(await request.body(), CloneBody)
    spec = _redated(await _spec_of(request, activity), body, f"{activity.name} (copy)"[:100])
    return await activity_view(platform_of(request), await _create(request, spec, operator), operator=True)


@post("/operator/activities/{activity_id:int}/template", dependencies=_operator, opt={**_any, "errors": ()})
async def save_template(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
) -> templates.Template:
    """Save the activity's settings as a template (optional `name`)."""
    platform = platform_of(request)
    activity = await platform.activities.get(activity_id)
    body = decode(await request.body(), TemplateBody)
    name = body.name or activity.name
    now = platform.activities.clock.now_ms()
    return await templates.save(
        platform.engine, name, await _spec_of(request, activity), activity_id, operator.subject, now
    )


@get("/operator/templates", dependencies=_operator, opt={"errors": ()})
async def list_templates(request: Request[Any, Any, Any], operator: NamedDependency[Identity]) -> Templates:
    """List the saved activity templates."""
    return Templates(items=await templates.all_templates(platform_of(request).engine))


@post("/operator/templates/{template_id:int}/activities", dependencies=_operator, opt={"errors": _template_errors})
async def from_template(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], template_id: Id
) -> ActivityView:
    """A new draft from a template: optional `name`, `starts_at`, `ends_at`."""
    template = await templates.get(platform_of(request).engine, template_id)
    body = decode(await request.body(), CloneBody)
    spec = _redated(template.spec, body, template.name)
    return await activity_view(platform_of(request), await _create(request, spec, operator), operator=True)


@patch(
    "/operator/activities/{activity_id:int}/window",
    dependencies=_operator,
    opt={**_any, "errors": ("activity_not_live", "end_not_later")},
)
async def extend_window(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
) -> ActivityView:
    """A live or paused activity ends later: `{"ends_at"}` (only later; odds, prizes and the
    start stay as published)."""
    platform = platform_of(request)
    body = decode(await request.body(), WindowBody)
    now = platform.activities.clock.now_ms()
    await drafts.extend(platform.engine, activity_id, body.ends_at, operator.subject, now)
    buckets = (await platform.activities.get(activity_id)).buckets  # lottery/buckets.py
    await platform.activity_store.set_ends_at(activity_id, to_ms(body.ends_at), buckets)
    platform.activities.forget(activity_id)
    return await activity_view(platform_of(request), await platform.activities.get(activity_id), operator=True)


Month = Annotated[str, QueryParameter(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]


@get("/operator/calendar", dependencies=_operator, opt={"errors": ()})
async def calendar(request: Request[Any, Any, Any], operator: NamedDependency[Identity], month: Month) -> Calendar:
    """The activities whose window overlaps the month (YYYY-MM, in Asia/Shanghai), by start."""
    from zoneinfo import ZoneInfo

    start, end = drafts.month_bounds(month, ZoneInfo("Asia/Shanghai"))
    platform = platform_of(request)
    ids = await drafts.filtered_ids(platform.engine, drafts.filters(starts_from=start, ends_before=end), 500, None)
    found = [await platform.activities.get(i) for i in ids]
    entries = [
        CalendarEntry(a.id, a.name, a.type, a.status, a.starts_at.astimezone(a.tz), a.ends_at.astimezone(a.tz))
        for a in sorted(found, key=lambda a: (a.starts_at, a.id))
    ]
    return Calendar(month=month, activities=entries)


ROUTES = [edit_draft, delete_draft, clone, save_template, list_templates, from_template, extend_window, calendar]
