"""POST /operator/activities/{id}/simulations: the pre-launch simulator (lottery/simulate.py) on an
activity's configuration (a draft or a live one), with a traffic model in the body."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency, Provide

from activities.auth import Identity
from api.body import decode
from api.params import Id
from api.security import platform_of, provide_operator
from lottery.service import DrawService
from lottery.simulate import Traffic
from lottery.simulate_report import Simulation, simulate_lottery

# One simulation at a time per event loop (it is seconds of CPU): others wait their turn.
_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _GATES.get(loop)
    if gate is None:
        gate = _GATES[loop] = asyncio.Semaphore(1)
    return gate


@post(
    "/operator/activities/{activity_id:int}/simulations",
    status_code=200,
    dependencies={"operator": Provide(provide_operator)},
)
async def simulate_activity(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
) -> Simulation:
    """Monte-Carlo runs of the lottery under a traffic model (every field optional): expected and
    P95 cost in CNY (total, per day), when each prize runs out (P10, median, P90), win rate per
    decile of members, the share of members winning anything, the points spent and granted.
    Runs in a worker thread, one at a time."""
    activity = await platform_of(request).service(DrawService).admin.get(activity_id)  # 404 first
    traffic = decode(await request.body(), Traffic)
    async with _gate():
        return await asyncio.to_thread(simulate_lottery, activity, traffic)
