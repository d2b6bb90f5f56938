"""What players' front ends call for sign-in activities (签到): sign in, make up a day, the month
calendar; and the draw chances a member holds on a lottery."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from activities.auth import Identity
from activities.model import check_day
from api.body import NoBody, decode
from api.lookup import published_activity
from api.params import Id
from api.security import platform_of, provide_player
from checkin.results import Calendar, MarkResult
from checkin.service import CheckinService

_player = {"player": Provide(provide_player)}


class MakeupBody(msgspec.Struct, forbid_unknown_fields=True):
    day: date  # the missed day, YYYY-MM-DD in the activity's time zone

    def __post_init__(self) -> None:
        check_day(self.day, "day")


@post("/activities/{activity_id:int}/signins", dependencies=_player)
async def sign_in(request: Request[Any, Any, Any], player: NamedDependency[Identity], activity_id: Id) -> MarkResult:
    """Sign in today (the activity's local day). Once a day: signing in again that day returns the
    same sign-in with `replayed: true`, so a retry is always safe."""
    await published_activity(request, activity_id)  # 404 first, whatever the body (api/lookup.py)
    decode(await request.body(), NoBody)
    return await platform_of(request).service(CheckinService).sign_in(player, activity_id)


@post("/activities/{activity_id:int}/makeups", dependencies=_player)
async def make_up(request: Request[Any, Any, Any], player: NamedDependency[Identity], activity_id: Id) -> MarkResult:
    """Make up a missed day of the current cycle (补签), paying the make-up cost in points if the
    activity sets one. Making up the same day again returns the same make-up, uncharged."""
    await published_activity(request, activity_id)
    body = decode(await request.body(), MakeupBody)
    return await platform_of(request).service(CheckinService).make_up(player, activity_id, body.day)


@get("/activities/{activity_id:int}/calendar", dependencies=_player)
async def calendar(
    request: Request[Any, Any, Any],
    player: NamedDependency[Identity],
    activity_id: Id,
    month: Annotated[str | None, QueryParameter(pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$")] = None,
) -> Calendar:
    """The member's month (YYYY-MM, default this month): each day signed, made up, missed, today
    or upcoming; the current streak, the cumulative count, make-ups left and the next rewards."""
    return await platform_of(request).service(CheckinService).calendar(player, activity_id, month)


ROUTES = [sign_in, make_up, calendar]
