"""What players' front ends call for sign-in activities (签到): sign in, make up a day, the month
calendar.

The guards answer first (api/security.py: the token; api/lookup.py: `opt["activity"]`, 404 for an
unknown or unpublished activity), then the body is decoded (`data:`, api/body.py), then the rules.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter

from activities.auth import Identity
from api.params import Id
from api.security import identity_of, platform_of, provide_player, service_for
from checkin.schemas import Calendar, MakeupBody, MarkResult, SigninBody
from checkin.service import CheckinService

# What the activity's own script refuses about it, whatever the gameplay (activities/errors.py).
_ACTIVITY = ("wrong_activity_type", "audience_not_allowed", "activity_not_live", "not_started", "already_ended")
_MAKEUP = (
    "makeup_disabled",
    "makeup_limit",
    "day_already_signed",
    "makeup_not_in_past",
    "makeup_before_start",
    "makeup_outside_cycle",
    "makeup_too_far_back",
    "points_insufficient",
)
Month = Annotated[str | None, QueryParameter(pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$")]


class CheckinController(Controller):
    """Members' sign-ins, make-ups and calendar on a published sign-in activity."""

    path = "/activities/{activity_id:int}"
    dependencies = {  # noqa: RUF012 (Litestar's class attribute)
        "player": Provide(provide_player),
        "checkins": Provide(service_for(CheckinService, "player"), sync_to_thread=False),
    }

    @post(
        "/signins",
        opt={"activity": "published", "action": "signin", "errors": (*_ACTIVITY, "day_already_signed")},
    )
    async def sign_in(
        self, request: Request[Any, Any, Any], activity_id: Id, data: JSONBody[SigninBody | None] = None
    ) -> MarkResult:
        """Sign in today.

        Signs the member in on the activity's local day, once: signing in again that day returns
        the same sign-in with `replayed: true`, so a retry is always safe. The answer carries the
        streak, the cumulative count of the cycle and the rewards this sign-in earned (`pending`
        while a delivery is being completed). The optional body says where it came from
        (`channel`, `source`: analytics)."""
        # the player and the service without dependencies (see api/security.py `identity_of`)
        checkins = platform_of(request).service(CheckinService)
        return await checkins.sign_in(identity_of(request), activity_id, data)

    @post("/makeups", opt={"activity": "published", "action": "makeup", "errors": _ACTIVITY + _MAKEUP})
    async def make_up(
        self,
        player: NamedDependency[Identity],
        checkins: NamedDependency[CheckinService],
        activity_id: Id,
        data: JSONBody[MakeupBody],
    ) -> MarkResult:
        """Make up a missed day (补签).

        Marks a missed day of the current cycle, paying the make-up cost in points if the activity
        sets one. Making up the same day again returns the same make-up (`replayed: true`),
        uncharged."""
        return await checkins.make_up(player, activity_id, data.day, data)

    @get("/calendar", opt={"activity": "published", "errors": ("wrong_activity_type", "invalid_parameter")})
    async def calendar(
        self,
        player: NamedDependency[Identity],
        checkins: NamedDependency[CheckinService],
        activity_id: Id,
        month: Month = None,
    ) -> Calendar:
        """The member's month of sign-ins.

        Each day of the month (`?month=YYYY-MM`, default this month) signed, made up, missed,
        today or upcoming, and whether it can still be made up; the current streak, the cumulative
        count, the make-ups left and the next rewards within reach."""
        return await checkins.calendar(player, activity_id, month)


ROUTES = [CheckinController]
