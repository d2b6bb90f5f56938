"""What Litestar cannot see in the OpenAPI document, added in one place.

The routes decode their bodies by hand (`api.schemas.decode`), so Litestar documents no request
body; errors leave through our exception handlers as `{code, message, details}`, which Litestar
does not know either. `document(app)` completes the generated document in place:

- every POST body, from the msgspec Struct the route decodes (`BODIES`, one line per route);
- every error status a route may answer (400, 401/403 where a token is needed, 404, 409, 422,
  429, 503) with the real error shape;
- the bearer token scheme on the routes that need a token (found from their dependencies).

When the routes move to typed `data:` bodies, Litestar documents those itself: drop the route's
line from `BODIES` (tests/integration/test_openapi.py checks that every POST has a documented body either way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Components,
    Example,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import KwargDefinition
from litestar.routes import HTTPRoute

from activities.recovery import Resolution
from api.body import NoBody
from api.gameplays import GAMEPLAYS
from api.routes.accounts import NewAccount
from api.routes.audit import Lookup
from api.routes.drafts import CloneBody, DraftChanges, TemplateBody, WindowBody
from api.routes.points import Grant
from api.security import provide_anyone, provide_operator, provide_player
from assist.results import HelpBody, InviteEvent
from checkin.controllers import MakeupBody
from lottery.controllers import AddStock
from lottery.service import DrawBody
from lottery.simulate import Traffic
from outbound.model import Address, EndpointPatch, EndpointSpec, IssueBody, RotateBody
from reservation.results import RedeemBody, ReserveBody

# (method, path as the document writes it) -> what the route decodes (a tuple: any one of them, picked
# by the body's `type`). `Ignored`: the route reads no body.
Ignored = object()
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/operator/activities"): tuple(gameplay.spec for gameplay in GAMEPLAYS),
    ("POST", "/operator/activities/{activity_id}/{action}"): Ignored,
    ("POST", "/operator/activities/{activity_id}/prizes/{prize_id}/stock"): AddStock,
    ("POST", "/operator/activities/{activity_id}/invites"): InviteEvent,
    ("POST", "/operator/activities/{activity_id}/redemptions"): RedeemBody,
    ("POST", "/operator/activities/{activity_id}/simulations"): Traffic,
    ("POST", "/operator/members/{user_id}/points"): Grant,
    ("POST", "/operator/audit/lookup"): Lookup,
    ("POST", "/operator/accounts"): NewAccount,
    ("PATCH", "/operator/activities/{activity_id}"): DraftChanges,
    ("POST", "/operator/activities/{activity_id}/clone"): CloneBody,
    ("POST", "/operator/activities/{activity_id}/template"): TemplateBody,
    ("POST", "/operator/templates/{template_id}/activities"): CloneBody,
    ("PATCH", "/operator/activities/{activity_id}/window"): WindowBody,
    ("POST", "/operator/activities/{activity_id}/recovery"): Resolution,
    ("POST", "/activities/{activity_id}/draws"): DrawBody,
    ("POST", "/activities/{activity_id}/signins"): NoBody,
    ("POST", "/activities/{activity_id}/makeups"): MakeupBody,
    ("POST", "/activities/{activity_id}/initiatives"): NoBody,
    ("POST", "/activities/{activity_id}/reservations"): ReserveBody,
    ("POST", "/activities/{activity_id}/reservations/{code}/cancel"): NoBody,
    ("POST", "/assists/{share_token}/helps"): HelpBody,
    # outbound (issue 16)
    ("POST", "/operator/webhooks"): EndpointSpec,
    ("PATCH", "/operator/webhooks/{endpoint_id}"): EndpointPatch,
    ("POST", "/operator/webhooks/{endpoint_id}/rotate"): RotateBody,
    ("POST", "/operator/deliveries/{delivery_id}/resend"): Ignored,
    ("PUT", "/me/prizes/{grant_id}/address"): Address,
    ("POST", "/operator/fulfilments/{grant_id}/issue"): IssueBody,
    ("POST", "/operator/fulfilments/{grant_id}/cancel"): Ignored,
    ("POST", "/operator/fulfilments/{grant_id}/reveal"): Ignored,
}

# Bodies that work, for the docs UI and as the fuzzer's starting points (its examples phase sends
# them, its coverage phase varies them one field at a time).
_WINDOW = {"starts_at": "2026-12-01T00:00:00+08:00", "ends_at": "2027-12-01T00:00:00+08:00"}
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/operator/activities"): {
        "wheel": {
            "type": "wheel",
            "name": "Winter wheel",
            **_WINDOW,
            "timezone": "Asia/Shanghai",
            "limits": {"per_user_daily": 3},
            "prizes": [
                {"name": "Phone", "type": "goods", "weight": 10, "stock": 2, "value_cny": "4999.00"},
                {"name": "10 CNY coupon", "type": "coupon", "weight": 290, "stock": 1000, "value_cny": "10.00"},
                {"name": "50 points", "type": "points", "weight": 100, "stock": 1000, "points": 50},
                {"name": "Thanks", "type": "thanks", "weight": 600},
            ],
        },
        "checkin": {
            "type": "checkin",
            "name": "Winter sign-in",
            **_WINDOW,
            "checkin": {
                "cycle": {"kind": "weekly"},
                "daily_reward": {"type": "points", "points": 5},
                "streak_rewards": [{"days": 3, "reward": {"type": "points", "points": 20}}],
                "makeup": {"per_cycle": 1, "max_days_back": 2, "points_cost": 10},
            },
        },
    },
    ("POST", "/operator/activities/{activity_id}/prizes/{prize_id}/stock"): {"add": {"units": 100}},
    ("POST", "/operator/members/{user_id}/points"): {"grant": {"amount": 100, "reason": "welcome_gift"}},
    ("POST", "/operator/audit/lookup"): {"draws": {"kind": "draw", "ids": ["d0193c2a7b1e4f00a1"]}},
    ("POST", "/operator/activities/{activity_id}/simulations"): {
        "traffic": {"members": 100_000, "runs": 1000, "draws_per_day": 1.5, "seed": 1}
    },
}

# Lists that also answer CSV (`?format=csv`).
ALSO_CSV = {("GET", "/operator/activities/{activity_id}/reservations")}

ERROR = "Error"
BEARER = "BearerToken"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every refusal and failure: a machine-readable code, a message for people, details.",
    "properties": {
        "code": {"type": "string", "description": "machine-readable, e.g. activity_not_found"},
        "message": {"type": "string"},
        "details": {"type": "object"},
    },
    "required": ["code", "message", "details"],
}
ERRORS: dict[int, str] = {
    400: "Malformed: a path, query or header parameter, or the JSON itself",
    401: "No token, or a token that is invalid or expired",
    403: "The token's role may not do this",
    404: "No such activity, prize, initiative, reservation or route",
    409: "The activity's state or stock does not allow it now",
    422: "A well-formed request the rules refuse (the code says which rule)",
    429: "A limit was reached (per member, per day, per address)",
    503: "Redis or SQL is briefly unavailable, or the outcome is unknown: retry (same Idempotency-Key)",
}
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "Any unique string (e.g. a UUID): a retry with the same key returns the first result",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[A-Za-z0-9_.:\-]+$"},
}
NEEDS_IDEMPOTENCY_KEY = {
    ("POST", "/activities/{activity_id}/draws"),
    ("POST", "/activities/{activity_id}/reservations"),
    ("POST", "/operator/members/{user_id}/points"),
}
TOKEN_PROVIDERS: set[Callable[..., Any]] = {provide_player, provide_operator, provide_anyone}
REF = "#/components/schemas/in.{name}"


def body_schemas() -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Any]]:
    """The JSON Schema of each route's body (refs into `components`), and the components."""
    routes = {
        route: body if isinstance(body, tuple) else (body,) for route, body in BODIES.items() if body is not Ignored
    }
    types = sorted({t for bodies in routes.values() for t in bodies}, key=lambda t: t.__name__)
    refs, components = msgspec.json.schema_components(types, ref_template=REF)
    ref_of = dict(zip(types, refs, strict=True))
    for component in components.values():
        _accept_numbers_as_decimals(component)
    schemas = {
        route: ref_of[bodies[0]] if len(bodies) == 1 else {"anyOf": [ref_of[t] for t in bodies]}
        for route, bodies in routes.items()
    }
    return schemas, components


def _accept_numbers_as_decimals(schema: Any) -> None:
    """msgspec documents a Decimal as a string, and decodes a JSON number as one too."""
    if isinstance(schema, dict):
        for key, value in list(schema.items()):
            if isinstance(value, dict) and value.get("format") == "decimal":
                default = value.get("default")
                schema[key] = {"anyOf": [{"type": "string", "format": "decimal"}, {"type": "number"}]}
                if default is not None:
                    schema[key]["default"] = default
            else:
                _accept_numbers_as_decimals(value)
    elif isinstance(schema, list):
        for item in schema:
            _accept_numbers_as_decimals(item)


def _body_required(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """An empty body reads as `{}`: the body is optional when `{}` is a valid one."""
    if "anyOf" in schema:
        return all(_body_required(option, components) for option in schema["anyOf"])
    component = components[schema["$ref"].rsplit(".", 1)[1]]
    return bool(component.get("required"))


def handlers(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """(method, document path, handler) for every documented route handler."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in handler.http_methods:
                if method not in {"HEAD", "OPTIONS"}:
                    yield method, route.path_format or "/", handler


def operations(app: Litestar) -> Iterator[tuple[str, str, bool]]:
    """(method, document path, needs a token) for every documented route handler."""
    for method, path, handler in handlers(app):
        providers = {provide.dependency for provide in handler.resolve_dependencies().values()}
        yield method, path, bool(providers & TOKEN_PROVIDERS)


def _restore_zero_bounds(operation: Operation, handler: HTTPRouteHandler) -> None:
    """Litestar 2 drops a bound of 0 (`ge=0` reads as no bound): put it back, so that the
    document refuses what the route refuses (?before_ms=-1)."""
    by_name = {p.name: p for p in operation.parameters or [] if isinstance(p, Parameter)}
    for name, parameter in handler.parsed_fn_signature.parameters.items():
        bounds = parameter.kwarg_definition
        documented = by_name.get(name)
        if not isinstance(bounds, KwargDefinition) or documented is None:
            continue
        if not isinstance(documented.schema, Schema):
            continue
        if bounds.ge == 0 and documented.schema.minimum is None:
            documented.schema.minimum = 0
        if bounds.le == 0 and documented.schema.maximum is None:
            documented.schema.maximum = 0


def document(app: Litestar) -> None:
    """Complete `app.openapi_schema` in place (before anything renders it)."""
    openapi = app.openapi_schema
    components = openapi.components = openapi.components or Components()
    schemas = components.schemas = dict(components.schemas or {})
    refs, body_components = body_schemas()
    for name, component in body_components.items():
        schemas[f"in.{name}"] = cast(Schema, component)
    schemas[ERROR] = cast(Schema, ERROR_SCHEMA)
    components.security_schemes = {
        **(components.security_schemes or {}),
        BEARER: SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="JWT",
            description="`promo token --user u1` (a player) or `promo token --operator --user ops1`",
        ),
    }
    for method, path, handler in handlers(app):
        needs_token = bool({p.dependency for p in handler.resolve_dependencies().values()} & TOKEN_PROVIDERS)
        path_item = (openapi.paths or {}).get(path)
        operation: Operation | None = getattr(path_item, method.lower(), None)
        if operation is None:
            continue
        _restore_zero_bounds(operation, handler)
        if (method, path) in refs:
            examples: dict[str, Example | Reference] = {
                name: Example(value=value) for name, value in EXAMPLES.get((method, path), {}).items()
            }
            media = OpenAPIMediaType(schema=cast(Schema, refs[method, path]), examples=examples or None)
            operation.request_body = RequestBody(
                content={"application/json": media},
                required=_body_required(refs[method, path], body_components),
            )
        elif (method, path) in BODIES:
            operation.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=Schema(description="ignored"))},
                description="The route reads no body; anything sent is ignored.",
                required=False,
            )
        if (method, path) in NEEDS_IDEMPOTENCY_KEY:
            operation.parameters = [*(operation.parameters or []), cast(Any, IDEMPOTENCY_KEY)]
        if needs_token:
            operation.security = [{BEARER: []}]
        if handler.opt.get("also_csv"):  # answers text/csv too (?format=csv: analytics/controllers.py)
            _also_csv(operation)
        _error_responses(operation, path, needs_token)
        if (method, path) in ALSO_CSV:  # ?format=csv
            ok = (operation.responses or {}).get("200")
            if isinstance(ok, OpenAPIResponse):
                ok.content = {
                    **(ok.content or {}),
                    "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
                }


def _also_csv(operation: Operation) -> None:
    ok = (operation.responses or {}).get("200")
    if isinstance(ok, OpenAPIResponse):
        csv = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, description="?format=csv"))
        ok.content = {**(ok.content or {}), "text/csv": csv}


def _error_responses(operation: Operation, path: str, needs_token: bool) -> None:
    responses = operation.responses = dict(operation.responses or {})
    if path.startswith("/health"):
        statuses = [503] if path == "/health/ready" else []
    else:
        statuses = [status for status in ERRORS if needs_token or status not in (401, 403)]
    error = OpenAPIMediaType(schema=Reference(ref=f"#/components/schemas/{ERROR}"))
    for status in statuses:
        responses[str(status)] = OpenAPIResponse(description=ERRORS[status], content={"application/json": error})
    for response in responses.values():
        # A union of results (e.g. the counters of each gameplay) may match more than one option.
        if isinstance(response, OpenAPIResponse) and response.content:
            for media in response.content.values():
                if isinstance(media.schema, Schema) and media.schema.one_of:
                    media.schema.any_of, media.schema.one_of = media.schema.one_of, None
