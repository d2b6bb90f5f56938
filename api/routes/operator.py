"""Back office: create and run activities, add stock, watch live counters."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeAlias, Union

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from activities.auth import Identity
from activities.errors import invalid, not_found
from activities.model import TRANSITIONS
from activities.pages import Page
from api.body import TypeOnly, decode
from api.gameplays import GAMEPLAY_BY_TYPE, GAMEPLAYS
from api.params import Cursor, Id, Limit
from api.schemas import ActivityView, activity_view
from api.security import platform_of, provide_operator

log = logging.getLogger("promo.api")


class OperatorController(Controller):
    path = "/operator/activities"
    dependencies = {"operator": Provide(provide_operator)}  # noqa: RUF012 (Litestar's class attribute)

    @post("/")
    async def create(self, request: Request[Any, Any, Any], operator: NamedDependency[Identity]) -> ActivityView:
        """A draft activity of any registered gameplay, picked by the body's `type` (see the
        request body's schemas: one per gameplay)."""
        body = await request.body()
        activity_type = decode(body, TypeOnly).type
        gameplay = GAMEPLAY_BY_TYPE.get(activity_type)
        if gameplay is None:
            raise invalid(
                "invalid_body",
                f"unknown activity type {activity_type!r}; use one of {sorted(GAMEPLAY_BY_TYPE)}",
                field="type",
            )
        platform = platform_of(request)
        activity = await platform.services[gameplay.name].create(decode(body, gameplay.spec), operator.subject)
        return await activity_view(platform, activity, operator=True)

    @get("/")
    async def list_activities(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[ActivityView]:
        """Every activity, newest first, a page at a time: pass `next_cursor` back as `?cursor=`."""
        platform = platform_of(request)
        page = await platform.activities.list_page(limit, cursor)
        views = []
        for activity in page.items:
            try:
                views.append(await activity_view(platform, activity, operator=True))
            except (ValueError, OverflowError) as exc:  # one odd row never fails the list
                log.error("activity %d cannot be shown, left out of the list: %s", activity.id, exc)
        return Page(items=views, next_cursor=page.next_cursor)

    @get("/{activity_id:int}")
    async def read(
        self, request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
    ) -> ActivityView:
        platform = platform_of(request)
        return await activity_view(platform, await platform.activities.get(activity_id), operator=True)

    @post("/{activity_id:int}/{action:str}", status_code=200)
    async def transition(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        activity_id: Id,
        action: FromPath[str],
    ) -> ActivityView:
        """publish | pause | resume | end"""
        if action not in TRANSITIONS:
            raise not_found("unknown_action", f"unknown action {action!r}; use one of {sorted(TRANSITIONS)}")
        platform = platform_of(request)
        activity = await platform.activities.transition(activity_id, action, operator.subject)
        return await activity_view(platform, activity, operator=True)

    @get("/{activity_id:int}/counters")
    async def counters(
        self, request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
    ) -> Counters:
        """Live counters from Redis (a lottery's stock and draws, a sign-in's sign-ins, make-ups
        and rewards, an assist's initiatives and helps, a reservation's per date and store),
        beside what the SQL audit trail holds."""
        platform = platform_of(request)
        activity = await platform.activities.get(activity_id)
        return await platform.services[GAMEPLAY_BY_TYPE[activity.type].name].counters(activity)


# Whichever gameplay's counters (the OpenAPI document shows each).
if TYPE_CHECKING:
    Counters: TypeAlias = msgspec.Struct
else:
    Counters = Union[tuple(g.counters for g in GAMEPLAYS)]  # noqa: UP007
