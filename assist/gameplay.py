"""Friend assist and bargain (助力, 砍价): a member starts, friends help through a share link."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activities.gameplay import Gameplay, GameplayService, Kernel, ViewSection
from activities.model import Activity
from assist.db import assist_helps, assist_initiatives, assist_outcomes
from assist.model import AssistRules, AssistSpec, rules_of
from assist.repository import AssistRepository
from assist.schemas import AssistCounters
from assist.service import ACTIVITY_TYPE, AssistService
from assist.store import AssistStore


def build(kernel: Kernel) -> GameplayService:
    repository = AssistRepository(kernel.engine)
    return AssistService(
        kernel.activities, AssistStore(kernel.batcher), repository, kernel.points, kernel.tokens, kernel.clock
    )


def routes() -> Sequence[Any]:
    from assist.controllers import ROUTES

    return ROUTES


def view(activity: Activity, operator: bool) -> dict[str, Any]:
    return {"assist": rules_of(activity)}


async def assist_member(engine: Any, user_id: str) -> Any:
    from assist.back_office import of_member

    return await of_member(engine, user_id)


GAMEPLAY = Gameplay(
    name="assist",
    types=(ACTIVITY_TYPE,),
    spec=AssistSpec,
    build=build,
    counters=AssistCounters,
    summary="Friend assist and bargain (助力, 砍价): initiatives, share links, helps",
    routes=routes,
    tables=(assist_initiatives, assist_helps, assist_outcomes),
    audit_ids={"initiative": assist_initiatives.c.initiative_id, "help": assist_helps.c.help_id},
    view=ViewSection(fields=[("assist", AssistRules | None, None)], read=view),
    member=assist_member,
)
