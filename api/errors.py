"""Every error leaves as JSON {"code", "message", "details"} with a 4xx/5xx status; never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from activities.errors import Kind, OutcomeUnknown, PromoError
from activities.logs import mask_credentials
from api.telemetry import current_request_id, note_error

log = logging.getLogger("promo.api")

STATUS: dict[Kind, int] = {
    Kind.MALFORMED: 400,
    Kind.INVALID: 422,
    Kind.UNAUTHORIZED: 401,
    Kind.FORBIDDEN: 403,
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.LIMIT: 429,
    Kind.UNAVAILABLE: 503,
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """The error body, with the request's id (also in the X-Request-Id answer header): what a
    client quotes to the operator, who finds the request's log line by it."""
    if details and "retry_after_s" in details:  # e.g. activity_loading: when to try again
        headers = {**(headers or {}), "Retry-After": str(details["retry_after_s"])}
    headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if status == 401 else {})} or None
    note_error(code)
    body: dict[str, Any] = {"code": code, "message": message, "details": details or {}}
    if (request_id := current_request_id()) is not None:
        body["request_id"] = request_id
    return Response(
        body,
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def on_promo_error(_: Request[Any, Any, Any], exc: PromoError) -> Response[Any]:
    return error_response(STATUS[exc.kind], exc.code, exc.message, exc.details)


def on_http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        errors = exc.extra if isinstance(exc.extra, list) else []
        if any(isinstance(e, dict) and e.get("source") == "body" and e.get("key") == "data" for e in errors):
            # an empty body on a route whose `data:` has no default (Litestar does not decode it)
            return error_response(422, "invalid_body", "this route needs a JSON body", {})
        return error_response(
            400,
            "invalid_parameter",
            "a path, query or header parameter is invalid",
            {"errors": exc.extra if isinstance(exc.extra, list) else []},
        )
    codes: dict[type[HTTPException], str] = {
        NotFoundException: "not_found",
        MethodNotAllowedException: "method_not_allowed",
        NotAuthorizedException: "unauthorized",
        PermissionDeniedException: "forbidden",
    }
    code = codes.get(type(exc), "http_error")
    # A 405 says what is allowed (RFC 9110 15.5.6): the router puts it in the exception's headers.
    return error_response(exc.status_code, code, exc.detail, headers=dict(exc.headers or {}))


def on_outcome_unknown(_: Request[Any, Any, Any], exc: OutcomeUnknown) -> Response[Any]:
    response = error_response(
        503, "outcome_unknown", "the change may or may not have happened; retry with the same Idempotency-Key"
    )
    if current_request_id() is None:  # else the request's log line says it, with the cause
        log.warning("state change with unknown outcome: %s", mask_credentials(str(exc)))
    note_error("outcome_unknown", exc)
    return response


def on_backend_down(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Redis or SQL unreachable on a read or a rebuild: nothing was changed, try again later."""
    response = error_response(503, "service_unavailable", "the service is briefly unavailable; try again shortly")
    if current_request_id() is None:  # else the request's log line says it, with the cause
        log.error("backend unavailable on %s %s: %s", request.method, request.url.path, mask_credentials(str(exc)))
    note_error("service_unavailable", exc)
    return response


def on_database_busy(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every SQL connection stayed busy past the pool's timeout (sqlalchemy.exc.TimeoutError):
    nothing was changed by this request; a 503 with a code, never a 500."""
    response = error_response(503, "database_busy", "the database is busy; retry shortly", {"retry_after_s": 1})
    if current_request_id() is None:  # else the request's log line says it, with the cause
        log.warning("SQL pool exhausted on %s %s: %s", request.method, request.url.path, exc)
    note_error("database_busy", exc)
    return response


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The request's one log line (api/telemetry.py) carries the traceback: only 5xx have one."""
    response = error_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "something went wrong on our side")
    if current_request_id() is None:  # not served through the telemetry wrapper
        log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    note_error("internal_error", exc)
    return response
