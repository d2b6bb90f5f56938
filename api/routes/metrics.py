"""`GET /metrics`: the process's Prometheus metrics (activities/metrics.py), in the text format.

With PROMO_METRICS_TOKEN set, the scraper sends `Authorization: Bearer <token>`."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from activities.errors import Kind, PromoError
from api.security import platform_of


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Requests, latencies, member actions and refusals, the audit pipeline, Redis round trips,
    rebuilds and reconciler repairs of this process."""
    expected = platform_of(request).settings.metrics_token
    if expected:
        header = request.headers.get("authorization")
        if not header:
            raise PromoError(Kind.UNAUTHORIZED, "token_missing", "send Authorization: Bearer <metrics token>")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise PromoError(Kind.UNAUTHORIZED, "token_invalid", "not the metrics token")
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
