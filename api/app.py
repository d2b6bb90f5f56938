"""The Litestar application: routes, error handlers, and the lifespan that owns the platform."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLPoolTimeout

from activities.config import Settings, load_settings
from activities.errors import OutcomeUnknown, PromoError
from activities.gameplay import Gameplay
from activities.logs import setup_logging
from activities.metrics import RECONCILED
from analytics.controllers import ROUTES as ANALYTICS_ROUTES
from api.action_log import action_log_middleware
from api.body import StrictBody
from api.errors import (
    on_backend_down,
    on_database_busy,
    on_http_exception,
    on_outcome_unknown,
    on_promo_error,
    on_unexpected,
)
from api.frontend import cors_config, docs_ui, static_routers
from api.gameplays import GAMEPLAYS
from api.guards import LeanRequest, guards_without_copies
from api.lookup import find_resources
from api.openapi import document
from api.options import repair_options
from api.platform import Platform
from api.proxies import Proxies, trusted_networks
from api.responses import LeanResponse
from api.routes.accounts import create_account, list_accounts, operator_log
from api.routes.audit import AuditController
from api.routes.drafts import ROUTES as DRAFT_ROUTES
from api.routes.health import health, ready
from api.routes.members import member_lookup
from api.routes.metrics import metrics
from api.routes.operator import OperatorController
from api.routes.points import PointsController
from api.routes.public import public_view
from api.routes.recovery import RecoveryController
from api.security import authenticate
from api.telemetry import Telemetry, action_routes
from api.writer_thread import WriterThread
from console.routes import routes as console_routes
from console.web import template_config
from events.routes import ROUTES as EVENT_ROUTES
from lists.routes import ROUTES as LIST_ROUTES
from outbound.routes import ROUTES as OUTBOUND_ROUTES

log = logging.getLogger("promo.api")


async def reconcile(platform: Platform, stop: asyncio.Event, every_s: float = 60.0) -> None:
    """Complete or undo half-done changes: points costs and credits, sign-in reward deliveries."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        try:
            fixed = await platform.reconcile()
            RECONCILED.inc(fixed)
            if fixed:
                log.warning("reconciled %d changes left half done", fixed)
        except Exception:
            log.exception("reconciliation failed; will try again")


async def sweep(platform: Platform, stop: asyncio.Event, every_s: float = 5.0) -> None:
    """Expire initiatives past their deadline and reservations past their day (Platform.sweep)."""
    while not stop.is_set():
        try:
            if expired := await platform.sweep():
                log.info("expired %d initiatives and reservations", expired)
        except Exception:
            log.exception("the sweep failed; will try again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)


def gameplay_router(gameplay: Gameplay) -> Router:
    """A gameplay's routes under its tag (the OpenAPI document) and its name in their `opt`
    (`opt["gameplay"]`: the metrics' gameplay label of their actions, api/telemetry.py)."""
    return Router("/", route_handlers=list(gameplay.routes()), tags=[gameplay.name], opt={"gameplay": gameplay.name})


def create_app(platform: Platform | None = None, settings: Settings | None = None) -> Litestar:
    """App factory. Tests pass a ready `platform`; `promo serve` lets the app build its own."""
    if platform is None and settings is None:  # served: uvicorn calls the factory in each worker process
        setup_logging()
    configured = platform.settings if platform is not None else settings or load_settings()
    proxies = Proxies(trusted_networks(configured.trusted_proxies))

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = platform is None
        current = platform or Platform.build(configured)
        app.state.platform = current
        # Start-up objects (routes, models, modules) never die: keep them out of the collector's
        # full passes, which otherwise show up as latency spikes under load.
        gc.freeze()
        stop = asyncio.Event()
        background = []
        writer = WriterThread(current.settings) if current.settings.audit_writer else None
        if writer:
            writer.start()  # its own thread and event loop: requests never delay its round trips
            background.append(asyncio.create_task(reconcile(current, stop), name="reconciler"))
            background.append(asyncio.create_task(sweep(current, stop), name="sweep"))
            background.append(asyncio.create_task(current.outbound.run(stop), name="webhooks"))
        try:
            yield
        finally:
            stop.set()
            if writer:
                await writer.stop()  # drains for up to PROMO_SHUTDOWN_DRAIN_S
            await asyncio.gather(*background)
            if owned:
                await current.close()

    app = Litestar(
        route_handlers=[
            health,
            ready,
            metrics,
            OperatorController,
            public_view,
            PointsController,
            AuditController,
            RecoveryController,
            Router("/", route_handlers=list(ANALYTICS_ROUTES), tags=["analytics"]),
            *(gameplay_router(gameplay) for gameplay in GAMEPLAYS),
            Router("/", route_handlers=list(OUTBOUND_ROUTES), tags=["outbound"]),
            Router("/", route_handlers=[list_accounts, create_account, operator_log, member_lookup], tags=["accounts"]),
            *DRAFT_ROUTES,  # tagged `activities` by api/openapi.py (they share paths with OperatorController)
            *console_routes(),
            *EVENT_ROUTES,
            *LIST_ROUTES,  # audience lists (lists/)
            *static_routers(),
        ],
        middleware=[action_log_middleware],  # the operator action log (issue 13)
        template_config=template_config(),  # the back office's pages (console/)
        lifespan=[lifespan],
        # the token, then the resource and the Idempotency-Key, then (decoding `data:`) the body
        guards=[authenticate, find_resources],
        dto=StrictBody,  # every `data:` body decoded strictly (api/body.py)
        return_dto=None,
        request_class=LeanRequest,  # its Content-Length read from the raw headers (api/guards.py)
        response_class=LeanResponse,  # plain JSON answers' headers made directly (api/responses.py)
        exception_handlers={
            PromoError: on_promo_error,
            OutcomeUnknown: on_outcome_unknown,
            RedisConnectionError: on_backend_down,
            RedisTimeoutError: on_backend_down,
            OperationalError: on_backend_down,
            SQLPoolTimeout: on_database_busy,
            HTTPException: on_http_exception,
            Exception: on_unexpected,
        },
        state=State({"platform": platform} if platform else {}),
        openapi_config=OpenAPIConfig(title="Promo platform", version="0.1.0", render_plugins=docs_ui()),
        cors_config=cors_config(configured.cors_origins),
        debug=False,
        logging_config=None,  # ours (activities/logs.py): Litestar's would replace the root logger's
    )
    document(app)  # request bodies, error responses, bearer auth: what Litestar cannot see
    repair_options(app)
    guards_without_copies(app)  # Litestar copies the route handler for each guard, per request
    # Outside the router, so that unrouted requests get a request id and are counted too.
    app.asgi_handler = Telemetry(app.asgi_handler, proxies, action_routes(app))
    return app
