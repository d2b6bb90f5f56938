"""Precedence: an unknown resource is 404 whatever the request's body or headers say.

Every route that names a resource in its path looks it up (with these helpers, or its service's
`known`) before it reads the Idempotency-Key or decodes the body. The order of checks is:
the token (401, 403 for the wrong role), then the resource (404), then the request itself
(400 malformed JSON or a missing header, 422 a body that breaks the schema), then the rules
(409, 422, 429). tests/integration/test_boundary.py walks every route with unknown ids and bad bodies.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from activities.service import FROZEN
from api.security import platform_of


async def published_activity(request: Request[Any, Any, Any], activity_id: int) -> None:
    """404 `activity_not_found` unless the activity is published (drafts do not exist for
    players, nor for the routes that act on a live activity)."""
    await platform_of(request).activities.get_published(activity_id, max_age_s=FROZEN)
