"""Writes the operator action log (activities/action_log.py): after an operator request that is
not a read has been answered, one row with the account, its role, the route, what it did and
the status. A failure to write the log is logged, never turned into the request's failure."""

from __future__ import annotations

import logging
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from activities import action_log
from activities.auth import Identity
from activities.logs import CURRENT_REQUEST
from api import refusals
from api.security import SAFE_METHODS

log = logging.getLogger("promo.api")


def _activity_id(scope: Scope) -> int | None:
    value: Any = (scope.get("path_params") or {}).get("activity_id")
    return value if isinstance(value, int) and value < 2**31 else None


def _note_refusal(scope: Scope) -> None:
    """An error answer on an activity's route: counted for the console's dashboard."""
    info = CURRENT_REQUEST.get()
    if info is not None and info.code:
        activity_id = _activity_id(scope)
        if activity_id is not None:
            refusals.note(activity_id, info.code)


def action_log_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if str(scope["type"]) != "http" or scope.get("method", "GET") in SAFE_METHODS:
            await app(scope, receive, send)
            _note_refusal(scope)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            state: dict[str, Any] = scope.get("state") or {}
            identity = state.get("promo_operator")
            if isinstance(identity, Identity):
                await write(scope, identity, status)
            _note_refusal(scope)

    return middleware


async def write(scope: Scope, identity: Identity, status: int, action: str | None = None) -> None:
    method = str(scope.get("method", "POST"))
    endpoint = str(scope.get("path_template") or scope.get("path", ""))[:200]
    path = str(scope.get("path", ""))[:300]
    entry = action_log.LogEntry(
        id=0,
        at_ms=scope["app"].state.platform.activities.clock.now_ms(),
        account=identity.subject,
        role=identity.operator_role or "admin",
        action=action or action_log.action_of(method, endpoint, path),
        method=method,
        endpoint=endpoint,
        path=path,
        activity_id=_activity_id(scope),
        status=status,
        via=identity.via,
    )
    try:
        await action_log.record(scope["app"].state.platform.engine, entry)
    except Exception:
        log.exception("the action log could not be written: %s %s by %s", method, path, identity.subject)
