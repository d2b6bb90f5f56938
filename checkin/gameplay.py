"""Sign-in (签到): daily or cumulative cycles, streak rewards, make-ups (补签)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activities.gameplay import Gameplay, GameplayService, Kernel, ViewSection
from activities.model import Activity
from checkin.db import checkin_rewards, checkins
from checkin.model import CheckinRules, CheckinSpec, rules_of
from checkin.repository import CheckinRepository
from checkin.schemas import CheckinCounters
from checkin.service import ACTIVITY_TYPE, CheckinService
from checkin.store import CheckinStore
from lottery.service import DrawService


def build(kernel: Kernel) -> GameplayService:
    draws = kernel.service(DrawService)  # rewards may be chances or prizes of a linked lottery
    repository = CheckinRepository(kernel.engine)
    return CheckinService(
        kernel.activities, CheckinStore(kernel.batcher), repository, draws, kernel.points, kernel.clock
    )


def routes() -> Sequence[Any]:
    from checkin.controllers import ROUTES

    return ROUTES


def view(activity: Activity, operator: bool) -> dict[str, Any]:
    return {"checkin": rules_of(activity)}


async def checkin_member(engine: Any, user_id: str) -> Any:
    from checkin.back_office import of_member

    return await of_member(engine, user_id)


GAMEPLAY = Gameplay(
    name="checkin",
    types=(ACTIVITY_TYPE,),
    spec=CheckinSpec,
    build=build,
    counters=CheckinCounters,
    summary="Sign-in (签到): cycles, streak rewards, make-ups (补签), the month calendar",
    routes=routes,
    tables=(checkins, checkin_rewards),
    audit_ids={"mark": checkins.c.mark_id},  # sign-ins and make-ups
    view=ViewSection(fields=[("checkin", CheckinRules | None, None)], read=view),
    member=checkin_member,
)
