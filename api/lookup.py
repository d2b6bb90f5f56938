"""Precedence: an unknown resource is 404 whatever the request's body or headers say.

The order of checks is: the token (401, 403 for the wrong role: `api.security.authenticate`),
then the resource (404: `find_resources`), then the request itself (400 malformed JSON or a
missing header, 422 a body that breaks the schema), then the rules (409, 422, 429). Both are
app-level guards, which Litestar runs before it decodes the path, the query and the body.

A route names what it looks up in its `opt`: `opt={"activity": "published"}` (players' routes and
those acting on a live activity: a draft does not exist for them) or `"any"` (operators' routes,
drafts included), on its `activity_id` path parameter. Other lookups (a prize, a share token) are
the route's own (`known` of its service), done before it reads anything else.
tests/integration/test_boundary.py walks every route with unknown ids and bad bodies.

A route with `opt={"idempotency": True}` needs an `Idempotency-Key` header: `find_resources` then
answers 400 `idempotency_key_required` or 422 `idempotency_key_invalid` after the 404 and before
the body is decoded; the route reads the checked key with `idempotency_key(request)`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from activities.errors import Kind, PromoError
from activities.model import MAX_SAFE_INT, Activity
from activities.service import FROZEN
from api.body import check_idempotency_key
from api.guards import header
from api.security import platform_of

_KEY = "promo.idempotency_key"
_ACTIVITY = "promo.activity"


async def published_activity(request: Request[Any, Any, Any], activity_id: int) -> None:
    """404 `activity_not_found` unless the activity is published (drafts do not exist for
    players, nor for the routes that act on a live activity)."""
    await platform_of(request).activities.get_published(activity_id, max_age_s=FROZEN)


async def find_resources(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-level guard: 400 for an id out of range, 404 for an unknown activity named by the path,
    then the Idempotency-Key (see the module's doc)."""
    for name, value in connection.path_params.items():
        # Every integer of a path is an id (api.params.Id): out of range is the 400 its check would
        # answer, but before a typed body is decoded (Litestar decodes `data` before it checks the path).
        if isinstance(value, int) and not 1 <= value <= MAX_SAFE_INT:
            raise PromoError(
                Kind.MALFORMED,
                "invalid_parameter",
                "a path, query or header parameter is invalid",
                errors=[{"key": name, "source": "path", "message": f"an id is 1 to {MAX_SAFE_INT}"}],
            )
    wanted = handler.opt.get("activity")
    activity_id = connection.path_params.get("activity_id")
    if wanted is not None and isinstance(activity_id, int):
        activities = platform_of(connection).activities
        if wanted == "published":
            activity = await activities.get_published(activity_id, max_age_s=FROZEN)
        else:
            activity = await activities.get(activity_id)
        connection.scope[_ACTIVITY] = activity  # type: ignore[literal-required]
    if handler.opt.get("idempotency"):  # then the key (one guard: no extra await per request)
        require_idempotency_key(connection)


def found_activity(connection: ASGIConnection[Any, Any, Any, Any]) -> Activity:
    """The activity `find_resources` found for the route (`opt["activity"]`): read from SQL for
    `"any"`; for `"published"` a cached copy whose frozen fields are exact (its status may lag)."""
    activity = connection.scope.get(_ACTIVITY)
    if not isinstance(activity, Activity):
        raise LookupError("the route has no opt['activity']: nothing was looked up")
    return activity


def require_idempotency_key(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """For a route with `opt={"idempotency": True}`, after the 404 and before the body is decoded:
    the Idempotency-Key header (400 missing, 422 malformed), kept for `idempotency_key`."""
    key = check_idempotency_key(header(connection, b"idempotency-key"))
    connection.scope[_KEY] = key  # type: ignore[literal-required]


def idempotency_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The Idempotency-Key `require_idempotency_key` checked (checked here when it did not run)."""
    key = connection.scope.get(_KEY)
    return key if isinstance(key, str) else check_idempotency_key(header(connection, b"idempotency-key"))
