"""The lottery's routes: players draw, read their draws and the chances they hold
(`LotteryController`); operators add stock and simulate a lottery before launch
(`LotteryOperatorController`). Bodies are typed (`data:`, decoded strictly by api/body.py), the
activity named by the path is looked up before anything else (`opt={"activity": ...}`,
api/lookup.py), and the lottery's service is injected."""

from __future__ import annotations

import asyncio
import weakref
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody

from activities.auth import Identity
from activities.errors import Kind, PromoError
from activities.model import MAX_COUNT
from activities.pages import Page
from api.lookup import idempotency_key
from api.params import Cursor, Id, IdFilter, Limit
from api.schemas import ActivityView, activity_view
from api.security import identity_of, platform_of, provide_anyone, provide_operator, provide_player, service_for
from lottery.service import DrawBody, DrawResult, DrawService
from lottery.simulate import Traffic
from lottery.simulate_report import Simulation, simulate_lottery


class Chances(msgspec.Struct):
    activity_id: int
    chances: int


class AddStock(msgspec.Struct, forbid_unknown_fields=True):
    # Bounded here (a 422 naming the field); zero and below are `units_not_positive` (service).
    units: Annotated[int, msgspec.Meta(ge=-MAX_COUNT, le=MAX_COUNT)]


class LotteryController(Controller):
    """Players' routes of the lottery."""

    dependencies = {  # noqa: RUF012 (Litestar's class attribute)
        "draws": Provide(service_for(DrawService, "player"), sync_to_thread=False),
        "player": Provide(provide_player),
    }

    @post(
        "/activities/{activity_id:int}/draws",
        opt={
            "activity": "published",
            "idempotency": True,
            "action": "draw",
            "errors": (
                "audience_not_allowed",
                "wrong_activity_type",
                "activity_not_live",
                "not_started",
                "already_ended",
                "user_daily_limit",
                "user_total_limit",
                "global_daily_limit",
                "points_insufficient",
                "idempotency_key_in_flight",
                "idempotency_key_reused",
            ),
        },
    )
    async def draw(
        self, request: Request[Any, Any, Any], activity_id: Id, data: JSONBody[DrawBody | None] = None
    ) -> DrawResult:
        """Draw once.

        The Idempotency-Key header is required: a retry with the same key returns the first
        result instead of drawing again. A draw chance the member holds is used first; otherwise
        the draw counts against the limits and, if the lottery costs points, is paid for."""
        # the player and the service without dependencies (see api/security.py `identity_of`)
        draws = platform_of(request).service(DrawService)
        return await draws.draw(identity_of(request), activity_id, idempotency_key(request), data or DrawBody())

    @get("/me/draws", opt={"errors": ("invalid_cursor",)})
    async def my_draws(
        self,
        player: NamedDependency[Identity],
        draws: NamedDependency[DrawService],
        activity: IdFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[DrawResult]:
        """The member's draws, newest first.

        `{"items", "next_cursor"}`; pass `next_cursor` back as `?cursor=` for the next page
        (null: the last page). Filter by lottery with `?activity=`."""
        return await draws.history(player.subject, activity, limit, cursor)

    @get(
        "/activities/{activity_id:int}/chances",
        opt={"activity": "published", "errors": ("wrong_activity_type",)},
    )
    async def my_chances(
        self, player: NamedDependency[Identity], draws: NamedDependency[DrawService], activity_id: Id
    ) -> Chances:
        """Draw chances the member holds on a lottery.

        Chances come from other activities' rewards (a sign-in streak...); the next draws use
        them first."""
        return Chances(activity_id=activity_id, chances=await draws.chances_left(activity_id, player.subject))


class PlayerDrawsController(Controller):
    """A member's draws as operators (anyone's) or the member (their own) read them."""

    dependencies = {  # noqa: RUF012 (Litestar's class attribute)
        "draws": Provide(service_for(DrawService, "caller"), sync_to_thread=False),
        "caller": Provide(provide_anyone),
    }

    @get("/players/{user_id:str}/draws", opt={"roles": "read", "errors": ("not_your_data",)})
    async def player_draws(
        self,
        caller: NamedDependency[Identity],
        draws: NamedDependency[DrawService],
        user_id: FromPath[str],
        activity: IdFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[DrawResult]:
        """A member's draws, a page at a time.

        Operators may read anyone's, players only their own (403 `not_your_data`)."""
        if caller.role != "operator" and caller.subject != user_id:
            raise PromoError(Kind.FORBIDDEN, "not_your_data", "players can only read their own draws")
        return await draws.history(user_id, activity, limit, cursor)


async def known_prize(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Route guard: 404 `prize_not_found` before the body is read (api/lookup.py's precedence)."""
    activity_id, prize_id = connection.path_params["activity_id"], connection.path_params["prize_id"]
    await platform_of(connection).service(DrawService).admin.prize_of(activity_id, prize_id)


# One simulation at a time per event loop (it is seconds of CPU): others wait their turn.
_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _GATES.get(loop)
    if gate is None:
        gate = _GATES[loop] = asyncio.Semaphore(1)
    return gate


class LotteryOperatorController(Controller):
    """Operators' routes of the lottery (drafts included)."""

    path = "/operator/activities/{activity_id:int}"
    dependencies = {  # noqa: RUF012 (Litestar's class attribute)
        "draws": Provide(service_for(DrawService, "operator"), sync_to_thread=False),
        "operator": Provide(provide_operator),
    }

    @post(
        "/prizes/{prize_id:int}/stock",
        status_code=200,
        guards=[known_prize],
        opt={
            "roles": "write",
            "activity": "any",
            "errors": (
                "prize_not_found",
                "units_not_positive",
                "activity_ended",
                "stock_unlimited",
                "stock_too_large",
            ),
        },
    )
    async def add_stock(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        draws: NamedDependency[DrawService],
        activity_id: Id,
        prize_id: Id,
        data: JSONBody[AddStock],
    ) -> ActivityView:
        """Add units to a prize's total stock.

        A live activity too: SQL commits the new total (logged with the operator), then the
        live stock rises by the units added. Answers the activity as operators see it."""
        lottery = await draws.admin.add_stock(activity_id, prize_id, data.units, operator.subject)
        return await activity_view(platform_of(request), lottery, operator=True)

    @post(
        "/simulations",
        status_code=200,
        opt={
            "roles": "read",
            "activity": "any",
            "errors": ("wrong_activity_type", "simulation_too_large", "hourly_all_zero", "weights_all_zero"),
        },
    )
    async def simulate(
        self,
        operator: NamedDependency[Identity],
        draws: NamedDependency[DrawService],
        activity_id: Id,
        data: JSONBody[Traffic | None] = None,
    ) -> Simulation:
        """Monte-Carlo runs of the lottery under a traffic model, before launch.

        Every field of the traffic model is optional. Answers the expected and P95 cost in CNY
        (total, per day), when each prize runs out (P10, median, P90), the win rate per decile of
        members, the share of members winning anything, the points spent and granted. Runs in a
        worker thread, one at a time."""
        lottery = await draws.admin.get(activity_id)
        async with _gate():
            return await asyncio.to_thread(simulate_lottery, lottery, data or Traffic())


ROUTES = [LotteryController, PlayerDrawsController, LotteryOperatorController]
