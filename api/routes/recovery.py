"""Back office: an activity rebuilt fail-closed after Redis lost its state (activities/recovery.py).

GET shows whether it is recovering and what was held back; POST confirms the hold-back (the
held units stay spent) or corrects it (gives back what the lost window did not grant)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency, Provide

from activities.auth import Identity
from activities.recovery import Recovery, Resolution
from api.body import decode
from api.params import Id
from api.security import platform_of, provide_operator


class RecoveryView(msgspec.Struct):
    activity_id: int
    recovering: bool  # an open recovery: units are held back until an operator resolves it
    recovery: Recovery | None  # the latest one, open or resolved


def _view(activity_id: int, record: Recovery | None) -> RecoveryView:
    return RecoveryView(activity_id, record is not None and record.status == "open", record)


@get("/operator/activities/{activity_id:int}/recovery", dependencies={"operator": Provide(provide_operator)})
async def read_recovery(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
) -> RecoveryView:
    """Last event in SQL, time of the loss, units held back per counter, and the resolution."""
    return _view(activity_id, await platform_of(request).activities.recovery(activity_id))


@post(
    "/operator/activities/{activity_id:int}/recovery",
    status_code=200,
    dependencies={"operator": Provide(provide_operator)},
)
async def resolve_recovery(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
) -> RecoveryView:
    """`{"action": "confirm"}`, or `{"action": "correct", "keep": {"<counter>": units}}`."""
    platform = platform_of(request)
    await platform.activities.get(activity_id)  # an unknown activity is a 404 whatever the body
    body = decode(await request.body(), Resolution)
    record = await platform.activities.resolve_recovery(activity_id, body, operator.subject)
    return _view(activity_id, record)
