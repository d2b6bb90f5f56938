"""Back office: an activity rebuilt fail-closed after Redis lost its state (activities/recovery.py).

GET shows whether it is recovering and what was held back; POST confirms the hold-back (the
held units stay spent) or corrects it (gives back what the lost window did not grant)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from activities.auth import Identity
from activities.recovery import Recovery, Resolution
from api.params import Id
from api.security import platform_of, provide_operator


class RecoveryView(msgspec.Struct):
    activity_id: int
    recovering: bool  # an open recovery: units are held back until an operator resolves it
    recovery: Recovery | None  # the latest one, open or resolved


RESOLVE_ERRORS = ("no_open_recovery", "unknown_counter", "keep_out_of_range", "recovery_not_found")


def _view(activity_id: int, record: Recovery | None) -> RecoveryView:
    return RecoveryView(activity_id, record is not None and record.status == "open", record)


class RecoveryController(Controller):
    """An activity's fail-closed rebuild, as operators see and resolve it."""

    path = "/operator/activities/{activity_id:int}/recovery"
    tags = ["activities"]  # noqa: RUF012 (Litestar's class attribute)
    dependencies = {"operator": Provide(provide_operator)}  # noqa: RUF012

    @get("/", opt={"activity": "any"})
    async def read_recovery(
        self, request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
    ) -> RecoveryView:
        """Show what a rebuild held back after Redis lost the activity's state.

        The last event in SQL, the time of the loss, the units held back per counter, and the
        resolution; `recovering` while an operator has not resolved it."""
        return _view(activity_id, await platform_of(request).activities.recovery(activity_id))

    @post("/", status_code=200, opt={"activity": "any", "errors": RESOLVE_ERRORS})
    async def resolve_recovery(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        activity_id: Id,
        data: JSONBody[Resolution],
    ) -> RecoveryView:
        """Confirm or correct what a rebuild held back.

        `{"action": "confirm"}`: the held units stay spent; `{"action": "correct", "keep":
        {"<counter>": units}}`: keep that many, give back the rest (what the lost window did not
        grant)."""
        record = await platform_of(request).activities.resolve_recovery(activity_id, data, operator.subject)
        return _view(activity_id, record)
