"""What Litestar cannot see in the OpenAPI document, added in one place, from the routes' `opt`.

`document(app)` completes the generated document in place:

- every request body: a typed `data:` body (msgspec's own JSON Schema of it, exact: patterns,
  unknown fields refused, decimals as a number or a string) or, for a route that still decodes by
  hand, its line in `BODIES` (the create route: any one of every registered gameplay's spec);
- the tags: one per gameplay (its `summary` as the tag's description) and the kernel's
  (`KERNEL_TAGS`); a summary and a description per operation from the handler's docstring (first
  line or sentence: the summary; the rest: the description);
- the error responses a route may answer, each with our shape `{code, message, details}` and its
  codes (in the response's description and its `x-error-codes`; the operation's `x-error-codes`
  maps every status to its codes): the generic ones from what the route needs and its
  `opt["errors"]` (api/error_codes.py);
- the `Idempotency-Key` header where `opt["idempotency"]` requires it, the bearer token scheme on
  the routes that need a token, enums for path parameters `opt["enums"]` closes.

tests/integration/test_openapi.py checks the document against the routes, and the test suite's
plugin (tests/conftest.py) that every error code answered during the tests is documented.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
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
    Tag,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import KwargDefinition
from litestar.routes import HTTPRoute

from api.error_codes import route_codes
from api.gameplays import GAMEPLAYS
from api.openapi_examples import EXAMPLES as EXAMPLES
from api.openapi_unions import integer_or_number
from api.security import provide_anyone, provide_operator, provide_player, provide_system

# (method, path as the document writes it) -> what a route that decodes by hand decodes (a tuple:
# any one of them, picked by the body's `type`; a "module:Name" string is imported when needed).
# A route with a typed `data:` body needs no line: its line here, if any, is not used. `Ignored`: the
# route reads no body (documented as such).
Ignored = object()
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/operator/activities"): tuple(gameplay.spec for gameplay in GAMEPLAYS),
    # accounts and drafts (issue 13): decoded by hand
    ("POST", "/operator/accounts"): "api.routes.accounts:NewAccount",
    ("PATCH", "/operator/activities/{activity_id}"): "api.routes.drafts:DraftChanges",
    ("POST", "/operator/activities/{activity_id}/clone"): "api.routes.drafts:CloneBody",
    ("POST", "/operator/activities/{activity_id}/template"): "api.routes.drafts:TemplateBody",
    ("POST", "/operator/templates/{template_id}/activities"): "api.routes.drafts:CloneBody",
    ("PATCH", "/operator/activities/{activity_id}/window"): "api.routes.drafts:WindowBody",
    # outbound (issue 16): decoded by hand
    ("POST", "/operator/webhooks"): "outbound.model:EndpointSpec",
    ("PATCH", "/operator/webhooks/{endpoint_id}"): "outbound.model:EndpointPatch",
    ("POST", "/operator/webhooks/{endpoint_id}/rotate"): "outbound.model:RotateBody",
    ("POST", "/operator/deliveries/{delivery_id}/resend"): Ignored,
    ("PUT", "/me/prizes/{grant_id}/address"): "outbound.model:Address",
    ("POST", "/operator/fulfilments/{grant_id}/issue"): "outbound.model:IssueBody",
    ("POST", "/operator/fulfilments/{grant_id}/cancel"): Ignored,
    ("POST", "/operator/fulfilments/{grant_id}/reveal"): Ignored,
    # audience lists (issue 15): JSON here, or CSV (`CSV_BODIES`), read by hand
    ("POST", "/operator/lists"): "lists.model:ListSpec",
    ("PUT", "/operator/lists/{list_id}/members"): "lists.model:MembersBody",
    ("POST", "/operator/lists/{list_id}/members"): "lists.model:MembersBody",
}
# Routes that also take a CSV body (`text/csv`, one value per line): documented beside the JSON one.
CSV_BODIES = {
    ("POST", "/operator/lists"),
    ("PUT", "/operator/lists/{list_id}/members"),
    ("POST", "/operator/lists/{list_id}/members"),
}
# Routes that need an Idempotency-Key without saying so in their `opt` (none: use `"idempotency": True`).
PENDING_IDEMPOTENCY: set[tuple[str, str]] = set()
# Routes allowed not to declare `opt["errors"]` (documented with every error status, their codes
# unlisted; the test suite's code check skips them): none. Keep it empty: declare a new route's codes.
UNDECLARED_ERRORS: set[tuple[str, str]] = set()
KERNEL_TAGS = {
    "activities": "Every gameplay's activities: create, publish, pause, end, read, counters, recovery",
    "points": "Member wallets: balance, ledger, operators' grants",
    "operations": "Health, readiness and the SQL audit trail",
    "outbound": "Webhooks and their deliveries, prize fulfilment, members' prizes and addresses",
    "accounts": "Operator accounts, the operator action log, member lookup",
    "events": "Members' events from the brands' systems (system tokens) and the event types operators declare",
    "analytics": "An activity's reports (JSON or CSV) and its raw events export",
    "lists": "Audience lists: allow and deny lists of member ids (CSV or JSON) for activities' audiences",
}

# Untagged routes on these paths (drafts, templates, the calendar: api/routes/drafts.py) are tagged
# `activities` (they share paths with OperatorController, so the app lists them without a router).
DRAFT_PATHS = ("/operator/activities", "/operator/templates", "/operator/calendar")
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
    403: "The token's role (or the member) may not do this",
    404: "No such activity, prize, initiative, reservation or share link",
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
TOKEN_PROVIDERS: set[Callable[..., Any]] = {provide_player, provide_operator, provide_anyone, provide_system}
REF = "#/components/schemas/in.{name}"
CREATE = ("POST", "/operator/activities")
# Each gameplay's own working spec (`Gameplay.example`), beside the ones above.
EXAMPLES[CREATE] = {**EXAMPLES[CREATE], **{g.name: dict(g.example) for g in GAMEPLAYS if g.example}}


@dataclasses.dataclass
class CodedResponse(OpenAPIResponse):
    """A response with the codes it may carry, as the `x-error-codes` extension."""

    x_error_codes: list[str] | None = dataclasses.field(default=None, metadata={"alias": "x-error-codes"})


@dataclasses.dataclass
class CodedOperation(Operation):
    """An operation with every status's codes, as the `x-error-codes` extension."""

    x_error_codes: dict[str, list[str]] | None = dataclasses.field(default=None, metadata={"alias": "x-error-codes"})


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


def data_type(handler: HTTPRouteHandler) -> Any:
    """The type of the route's typed `data:` body, or None when it has none."""
    field = handler.parsed_fn_signature.parameters.get("data")
    return None if field is None else field.annotation


def _resolve(body: Any) -> tuple[Any, ...]:
    bodies = body if isinstance(body, tuple) else (body,)
    resolved = []
    for one in bodies:
        if isinstance(one, str):
            module, _, name = one.partition(":")
            one = getattr(importlib.import_module(module), name)
        resolved.append(one)
    return tuple(resolved)


def request_bodies(app: Litestar) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(method, path) -> the body types it accepts (any one of them): typed or from `BODIES`."""
    found: dict[tuple[str, str], tuple[Any, ...]] = {}
    for method, path, handler in handlers(app):
        typed = data_type(handler)
        if typed is not None:
            found[method, path] = (typed,)
        elif (method, path) in BODIES and BODIES[method, path] is not Ignored:
            found[method, path] = _resolve(BODIES[method, path])
    return found


def body_schemas(bodies: Mapping[tuple[str, str], tuple[Any, ...]]) -> tuple[dict[Any, Any], dict[str, Any]]:
    """msgspec's JSON Schema of each route's body (refs into `components`), and the components."""
    types = sorted({t for options in bodies.values() for t in options}, key=repr)
    refs, components = msgspec.json.schema_components(types, ref_template=REF)
    ref_of = dict(zip(types, refs, strict=True))
    for component in components.values():
        _accept_numbers_as_decimals(component)
    schemas = {
        route: ref_of[options[0]] if len(options) == 1 else {"anyOf": [ref_of[t] for t in options]}
        for route, options in bodies.items()
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
        for index, item in enumerate(schema):
            if isinstance(item, dict) and item.get("format") == "decimal":  # `Decimal | None`: in an anyOf
                schema[index] = {"anyOf": [{"type": "string", "format": "decimal"}, {"type": "number"}]}
            else:
                _accept_numbers_as_decimals(item)


def _body_required(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """An empty body reads as `{}` (or null for an optional one): required only when neither is valid."""
    if "anyOf" in schema:
        return all(_body_required(option, components) for option in schema["anyOf"])
    if schema.get("type") == "null":
        return False
    if "$ref" not in schema:
        return True
    component = components[schema["$ref"].rsplit(".", 1)[1]]
    return bool(component.get("required"))


def _empty_allowed(handler: HTTPRouteHandler) -> bool:
    """Whether the route takes an empty body: it decodes the body by hand (empty reads as `{}`),
    or its typed `data:` has a default (Litestar does not decode an empty body: without a default
    it is a 422 `invalid_body`, api/errors.py)."""
    field = handler.parsed_fn_signature.parameters.get("data")
    return field is None or field.has_default


def docstring(handler: HTTPRouteHandler) -> tuple[str | None, str | None]:
    """(summary, description) from the handler's docstring: its first line (or, when the first
    paragraph runs on, its first sentence), then the rest."""
    text = inspect.cleandoc(handler.fn.__doc__ or "")
    if not text:
        return None, None
    first, _, rest = text.partition("\n\n")
    lines = first.splitlines()
    if len(lines) == 1:
        summary, more = lines[0], ""
    else:
        joined = " ".join(line.strip() for line in lines)
        ends = [at for at in (joined.find(". "), joined.find("; "), joined.find(": ")) if at > 0]
        cut = min(ends, default=len(joined))
        summary, more = joined[:cut], joined[cut + 2 :]
    description = "\n\n".join(part for part in (more.strip(), rest.strip()) if part)
    return summary.strip().rstrip("."), description or None


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


def _enums(operation: Operation, handler: HTTPRouteHandler) -> None:
    """`opt={"enums": {"action": [...]}}`: a path or query parameter's closed set of values."""
    for parameter in operation.parameters or []:
        values = handler.opt.get("enums", {}).get(getattr(parameter, "name", None))
        if values is not None and isinstance(parameter, Parameter) and isinstance(parameter.schema, Schema):
            parameter.schema.enum = list(values)


def _tags(app: Litestar) -> list[Tag]:
    tags = [Tag(name=gameplay.name, description=gameplay.summary) for gameplay in GAMEPLAYS]
    return [*tags, *(Tag(name=name, description=text) for name, text in KERNEL_TAGS.items())]


def document(app: Litestar) -> None:
    """Complete `app.openapi_schema` in place (before anything renders it)."""
    openapi = app.openapi_schema
    openapi.tags = _tags(app)
    components = openapi.components = openapi.components or Components()
    schemas = components.schemas = dict(components.schemas or {})
    for component in schemas.values():
        integer_or_number(component)
    bodies = request_bodies(app)
    refs, body_components = body_schemas(bodies)
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
        found: Operation | None = getattr(path_item, method.lower(), None)
        if found is None:
            continue
        fields = {f.name: getattr(found, f.name) for f in dataclasses.fields(Operation)}
        operation = CodedOperation(**fields)
        setattr(path_item, method.lower(), operation)
        operation.summary, operation.description = docstring(handler)
        if not operation.tags and path.startswith(
            ("/operator/activities", "/operator/templates", "/operator/calendar")
        ):
            operation.tags = ["activities"]  # drafts and templates (api/routes/drafts.py)
        _restore_zero_bounds(operation, handler)
        _enums(operation, handler)
        has_parameters = bool(operation.parameters)
        if (method, path) in refs:
            examples: dict[str, Example | Reference] = {
                name: Example(value=value) for name, value in EXAMPLES.get((method, path), {}).items()
            }
            media = OpenAPIMediaType(schema=cast(Schema, refs[method, path]), examples=examples or None)
            operation.request_body = RequestBody(
                content={"application/json": media},
                required=_body_required(refs[method, path], body_components) or not _empty_allowed(handler),
            )
            if (method, path) in CSV_BODIES:
                # Any text (the route checks it line by line): no type, so no value violates it.
                csv = OpenAPIMediaType(schema=Schema(description="text: one member id per line"))
                operation.request_body.content["text/csv"] = csv
        elif BODIES.get((method, path)) is Ignored and data_type(handler) is None:
            operation.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=Schema(description="ignored"))},
                description="The route reads no body; anything sent is ignored.",
                required=False,
            )
        if handler.opt.get("idempotency") or (method, path) in PENDING_IDEMPOTENCY:
            operation.parameters = [*(operation.parameters or []), cast(Any, IDEMPOTENCY_KEY)]
        if needs_token:
            operation.security = [{BEARER: []}]
        codes = route_codes(handler, method, path, has_body=(method, path) in refs, has_parameters=has_parameters)
        if (method, path) in UNDECLARED_ERRORS and "errors" not in handler.opt:
            codes = {status: codes.get(status, []) for status in ERRORS if needs_token or status not in (401, 403)}
        _error_responses(operation, codes)
        if (method, path) in ALSO_CSV or handler.opt.get("also_csv"):  # ?format=csv (analytics/controllers.py)
            ok = (operation.responses or {}).get("200")
            if isinstance(ok, OpenAPIResponse):
                ok.content = {
                    **(ok.content or {}),
                    "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
                }
        if handler.opt.get("also_xlsx"):  # ?format=xlsx (analytics/controllers.py)
            ok = (operation.responses or {}).get("200")
            if isinstance(ok, OpenAPIResponse):
                xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                ok.content = {**(ok.content or {}), xlsx: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))}


def _error_responses(operation: CodedOperation, codes: Mapping[int | None, list[str]]) -> None:
    responses = operation.responses = dict(operation.responses or {})
    error = OpenAPIMediaType(schema=Reference(ref=f"#/components/schemas/{ERROR}"))
    for status in sorted(status for status in codes if status is not None):
        names = codes[status]
        listed = ", ".join(f"`{name}`" for name in names) if names else "not listed yet"
        responses[str(status)] = CodedResponse(
            description=f"{ERRORS.get(status, 'An error')}. Codes: {listed}.",
            content={"application/json": error},
            x_error_codes=list(names),
        )
    operation.x_error_codes = {str(status): list(names) for status, names in codes.items() if status is not None}
    if codes.get(None):
        operation.x_error_codes["other"] = list(codes[None])  # declared, status not found in the source
    for response in responses.values():
        # A union of results (e.g. the counters of each gameplay) may match more than one option.
        if isinstance(response, OpenAPIResponse) and response.content:
            for media in response.content.values():
                if isinstance(media.schema, Schema) and media.schema.one_of:
                    media.schema.any_of, media.schema.one_of = media.schema.one_of, None
