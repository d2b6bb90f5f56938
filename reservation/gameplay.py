"""Hot-item reservations (热门商品预约) and their redemption in store (核销)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activities.gameplay import Gameplay, GameplayService, Kernel, ViewSection
from activities.model import Activity
from reservation.db import reservation_changes, reservations
from reservation.model import ReservationRules, ReservationSpec, rules_of
from reservation.repository import ReservationRepository
from reservation.schemas import ReservationCounters
from reservation.service import ACTIVITY_TYPE, ReservationService
from reservation.store import ReservationStore


def build(kernel: Kernel) -> GameplayService:
    repository = ReservationRepository(kernel.engine)
    return ReservationService(
        kernel.activities, ReservationStore(kernel.batcher), repository, kernel.tokens, kernel.clock
    )


def routes() -> Sequence[Any]:
    from reservation.back_office import list_reservations
    from reservation.console_pages import ROUTES as CONSOLE
    from reservation.controllers import ROUTES

    return [*ROUTES, list_reservations, *CONSOLE]


def view(activity: Activity, operator: bool) -> dict[str, Any]:
    return {"reservation": rules_of(activity)}


async def reservation_member(engine: Any, user_id: str) -> Any:
    from reservation.back_office import of_member

    return await of_member(engine, user_id)


GAMEPLAY = Gameplay(
    name="reservation",
    types=(ACTIVITY_TYPE,),
    spec=ReservationSpec,
    build=build,
    counters=ReservationCounters,
    summary="Hot-item reservations (热门商品预约): per date and store pools, codes, redemption (核销)",
    routes=routes,
    tables=(reservations, reservation_changes),
    audit_ids={"reservation": reservations.c.code, "reservation_change": reservation_changes.c.code},
    view=ViewSection(fields=[("reservation", ReservationRules | None, None)], read=view),
    member=reservation_member,
)
