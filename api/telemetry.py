"""What every HTTP request goes through before the router: its request id, the forwarded headers
of trusted proxies, its metrics and, for an error answer, its one log line.

It wraps Litestar's own ASGI handler (`app.asgi_handler`), outside the router, so unrouted
requests (404, 405) are counted and carry a request id too. Kept cheap: no allocation beyond a
small object and a closure per request, metric children cached by their labels.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Callable, Mapping
from time import perf_counter
from typing import Any

from prometheus_client.metrics import MetricWrapperBase

from activities.logs import CURRENT_REQUEST, RequestInfo, mask_credentials
from activities.metrics import ACTIONS, LATENCY, REQUESTS
from api.proxies import Proxies

log = logging.getLogger("promo.api")

REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")  # what an X-Request-Id may be; else one is made
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A made-up request id: 8 random hex digits per process, then a counter (16 hex digits in all):
# unique enough to find a request in the logs, and far cheaper than a random number per request.
_PREFIX = os.urandom(4).hex().encode()
_COUNTER = itertools.count(1)
UNMATCHED = "<unmatched>"  # the route label of a path no route matches (bounded: never the raw path)

# What a member action is called (ACTIONS counts each answer's outcome, "ok" or the error code): a
# route says it in its `opt` (`opt={"action": "draw"}`), its gameplay is its router's
# (`opt={"gameplay": ...}`, see api/app.py). `action_routes` reads them from the app's routes.
# Routes whose gameplay has not moved to `opt["action"]` yet keep their label here (issue 12, phase 2:
# the lead empties this once every gameplay's controllers carry it).
PENDING_ACTIONS: dict[tuple[str, str], tuple[str, str]] = {}


def action_routes(app: Any) -> dict[tuple[str, str], tuple[str, str]]:
    """(method, route template) -> (gameplay, action) for every route whose `opt` names an action."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    paths = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            for method in getattr(handler, "http_methods", ()):
                paths.add((method, route.path_format))
                if (action := handler.opt.get("action")) is not None:
                    found[(method, route.path_format)] = (str(handler.opt.get("gameplay", "platform")), str(action))
    pending = {route: label for route, label in PENDING_ACTIONS.items() if route in paths and route not in found}
    return {**pending, **found}


# Set by the test suite's plugin (tests/conftest.py) only: called with (method, route template,
# status, code) of every error answer, to check that each code is documented for its route.
ERROR_OBSERVER: Callable[[str, str, int, str], None] | None = None


def note_error(code: str, exc: BaseException | None = None) -> None:
    """The error handlers say which code the answer carries (and, for a 5xx, what broke), for
    the request's log line and metrics."""
    current = CURRENT_REQUEST.get()
    if current is not None:
        current.code = code
        if exc is not None:
            current.exc = exc


def current_request_id() -> str | None:
    current = CURRENT_REQUEST.get()
    return current.request_id if current is not None else None


class Telemetry:
    """ASGI wrapper: request id (X-Request-Id in, or made; X-Request-Id out), trusted proxies,
    REQUESTS/LATENCY/ACTIONS, one log line per error answer."""

    def __init__(self, app: Any, proxies: Proxies, actions: Mapping[tuple[str, str], tuple[str, str]]) -> None:
        self.app = app
        self.proxies = proxies
        self.actions = dict(actions)  # (method, route template) -> (gameplay, action): `action_routes`
        self._children: dict[tuple[str, str, int, str | None], tuple[Any, Any, Any]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if REQUEST_ID.fullmatch(value):
                    request_id = value
                break
        if request_id is None:
            request_id = b"%s%08x" % (_PREFIX, next(_COUNTER) & 0xFFFFFFFF)
        info = RequestInfo(request_id.decode())
        if self.proxies.networks:
            self.proxies.apply(scope)
        header = (b"x-request-id", request_id)
        status = 500

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        reset = CURRENT_REQUEST.set(info)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            CURRENT_REQUEST.reset(reset)
            self._record(scope, status, perf_counter() - started, info)

    def _record(self, scope: Any, status: int, elapsed: float, info: RequestInfo) -> None:
        route = scope.get("path_template") or UNMATCHED
        method = scope.get("method", "GET")
        if method not in METHODS:
            method = "OTHER"
        code = info.code if status >= 400 else None
        key = (route, method, status, code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._labels(route, method, status, code)
        requests, latency, action = children
        requests.inc()
        latency.observe(elapsed)
        if action is not None:
            action.inc()
        if status >= 400:
            self._log(route, method, status, info, elapsed)
            if ERROR_OBSERVER is not None:
                ERROR_OBSERVER(method, route, status, info.code or f"http_{status}")

    def _labels(self, route: str, method: str, status: int, code: str | None) -> tuple[Any, Any, Any]:
        action: MetricWrapperBase | None = None
        if (gameplay := self.actions.get((method, route))) is not None:
            outcome = "ok" if status < 400 else (code or f"http_{status}")
            action = ACTIONS.labels(gameplay[0], gameplay[1], outcome)
        if len(self._children) > 10_000:  # bounded: the labels are, but be safe
            self._children.clear()
        return REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method), action

    @staticmethod
    def _log(route: str, method: str, status: int, info: RequestInfo, elapsed: float) -> None:
        code = info.code or f"http_{status}"
        extra = {
            "code": code,
            "route": route,
            "method": method,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "request_id": info.request_id,
        }
        message = f"{method} {route} -> {status} {code}"
        if status >= 500:
            exc, exc_info = info.exc, None
            if exc is not None and code == "internal_error":  # a bug: the traceback, on this line
                exc_info = (type(exc), exc, exc.__traceback__)
            elif exc is not None:  # Redis or SQL away: the cause is enough
                message = f"{message}: {type(exc).__name__}: {mask_credentials(str(exc))}"
            log.error(message, extra=extra, exc_info=exc_info)
        else:
            log.info(message, extra=extra)
