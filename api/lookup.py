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
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import ValidationException
from litestar.handlers.base import BaseRouteHandler

from activities.model import MAX_SAFE_INT
from activities.service import FROZEN
from api.security import platform_of


async def published_activity(request: Request[Any, Any, Any], activity_id: int) -> None:
    """404 `activity_not_found` unless the activity is published (drafts do not exist for
    players, nor for the routes that act on a live activity)."""
    await platform_of(request).activities.get_published(activity_id, max_age_s=FROZEN)


async def find_resources(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-level guard: 404 for an unknown activity named by the path (see the module's doc)."""
    wanted = handler.opt.get("activity")
    if wanted is None:
        return
    activity_id = connection.path_params.get("activity_id")
    if not isinstance(activity_id, int):
        return
    if not 1 <= activity_id <= MAX_SAFE_INT:  # the 400 of api/params.py `Id`, before the body is read
        raise ValidationException(
            "a path, query or header parameter is invalid",
            extra=[{"message": f"activity_id must be 1 to {MAX_SAFE_INT}", "key": "activity_id", "source": "path"}],
        )
    activities = platform_of(connection).activities
    if wanted == "published":
        await activities.get_published(activity_id, max_age_s=FROZEN)
    else:
        await activities.get(activity_id)
