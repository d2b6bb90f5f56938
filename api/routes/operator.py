"""Back office: create and run activities, add stock, watch live counters."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from activities.auth import Identity
from activities.errors import not_found
from activities.model import TRANSITIONS, ActivitySpec
from activities.pages import Page
from activities.service import ActivityCounters
from api.params import Cursor, Id, Limit
from api.schemas import ActivityView, AddStock, TypeOnly, activity_view, decode
from api.security import platform_of, provide_operator
from assist.model import AssistSpec
from assist.results import AssistCounters
from assist.service import ACTIVITY_TYPE as ASSIST
from checkin.model import CheckinSpec
from checkin.results import CheckinCounters
from checkin.service import ACTIVITY_TYPE as CHECKIN
from reservation.model import ReservationSpec
from reservation.results import ReservationCounters
from reservation.service import ACTIVITY_TYPE as RESERVATION

log = logging.getLogger("promo.api")


class OperatorController(Controller):
    path = "/operator/activities"
    dependencies = {"operator": Provide(provide_operator)}  # noqa: RUF012 (Litestar's class attribute)

    @post("/")
    async def create(self, request: Request[Any, Any, Any], operator: NamedDependency[Identity]) -> ActivityView:
        """A draft activity: a lottery (`wheel`, `blind_box`, `golden_egg`), a sign-in (`checkin`),
        a friend assist (`assist`) or a hot-item reservation (`reservation`)."""
        body = await request.body()
        platform = platform_of(request)
        activity_type = decode(body, TypeOnly).type
        if activity_type == CHECKIN:
            activity = await platform.checkins.create(decode(body, CheckinSpec), operator.subject)
        elif activity_type == ASSIST:
            activity = await platform.assists.create(decode(body, AssistSpec), operator.subject)
        elif activity_type == RESERVATION:
            activity = await platform.reservations.create(decode(body, ReservationSpec), operator.subject)
        else:
            activity = await platform.activities.create(decode(body, ActivitySpec), operator.subject)
        return activity_view(activity, operator=True)

    @get("/")
    async def list_activities(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[ActivityView]:
        """Every activity, newest first, a page at a time: pass `next_cursor` back as `?cursor=`."""
        page = await platform_of(request).activities.list_page(limit, cursor)
        views = []
        for activity in page.items:
            try:
                views.append(activity_view(activity, operator=True))
            except (ValueError, OverflowError) as exc:  # one odd row never fails the list
                log.error("activity %d cannot be shown, left out of the list: %s", activity.id, exc)
        return Page(items=views, next_cursor=page.next_cursor)

    @get("/{activity_id:int}")
    async def read(
        self, request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
    ) -> ActivityView:
        return activity_view(await platform_of(request).activities.get(activity_id), operator=True)

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
        activity = await platform_of(request).activities.transition(activity_id, action, operator.subject)
        return activity_view(activity, operator=True)

    @post("/{activity_id:int}/prizes/{prize_id:int}/stock", status_code=200)
    async def add_stock(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        activity_id: Id,
        prize_id: Id,
    ) -> ActivityView:
        await platform_of(request).activities.prize_of(activity_id, prize_id)  # 404 first (api/lookup.py)
        body = decode(await request.body(), AddStock)
        activity = await platform_of(request).activities.add_stock(activity_id, prize_id, body.units, operator.subject)
        return activity_view(activity, operator=True)

    @get("/{activity_id:int}/counters")
    async def counters(
        self, request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
    ) -> ActivityCounters | CheckinCounters | AssistCounters | ReservationCounters:
        """Live counters from Redis (a lottery's stock and draws, a sign-in's sign-ins, make-ups
        and rewards, an assist's initiatives and helps, a reservation's per date and store),
        beside what the SQL audit trail holds."""
        platform = platform_of(request)
        activity = await platform.activities.get(activity_id)
        if activity.type == CHECKIN:
            return await platform.checkins.counters(activity)
        if activity.type == ASSIST:
            return await platform.assists.counters(activity)
        if activity.type == RESERVATION:
            return await platform.reservations.counters(activity)
        return await platform.activities.counters(activity_id)
