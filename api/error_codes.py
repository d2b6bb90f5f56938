"""Which error codes a route may answer, by status: what the OpenAPI document lists per operation.

Two sources: the generic codes, from what the route needs (a token of some role, an activity
looked up by `opt["activity"]`, a body, parameters, an Idempotency-Key by `opt["idempotency"]`,
the backends), and the route's own rule codes, `opt["errors"]` (409/422/429 and route-specific
403/404 codes). A code's status comes from where the source raises it (`catalog`: the kernel's,
the API's and every registered gameplay's modules are read once); a route may also declare
`opt["errors"]` as `{status: (codes...)}` to say it outright.

The test suite records every (route, status, code) the app answers and fails when one is not
listed here (tests/conftest.py), so the lists stay true.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from litestar.handlers import HTTPRouteHandler

from activities.errors import Kind
from api.errors import STATUS
from api.gameplays import GAMEPLAYS
from api.security import needed_role

# Every answer through api/errors.py that is not a PromoError (Litestar's own refusals, Redis or SQL away).
_FIXED = {"invalid_parameter": 400, "service_unavailable": 503, "database_busy": 503, "outcome_unknown": 503}
# Codes built at run time (outbound/endpoints.py `_not_found(what)`), out of the scanner's sight.
_FIXED |= {"endpoint_not_found": 404, "delivery_not_found": 404}
_KIND = r"Kind\.(?P<kind>[A-Z_]+)"
_CODE = r"\"(?P<code>[a-z][a-z0-9_]*)\""
_RAISED = (
    re.compile(rf"{_KIND},\s*{_CODE}"),  # PromoError(Kind.X, "code", ...)
    re.compile(rf"{_CODE}:\s*\(\s*{_KIND}"),  # a script's refusals: {"code": (Kind.X, "message")}
)
_HELPERS = {
    "invalid": Kind.INVALID,
    "not_found": Kind.NOT_FOUND,
    "conflict": Kind.CONFLICT,
    "_unauthorized": Kind.UNAUTHORIZED,
}
_HELPER = re.compile(rf"\b(?P<helper>{'|'.join(_HELPERS)})\(\s*{_CODE}")


def _packages() -> list[Path]:
    """The kernel, the API, every gameplay and every other package of the platform loaded here
    (outbound/, console/...): the top-level packages beside api/."""
    root = Path(__file__).resolve().parent.parent
    names = {"activities", "api", *(g.build.__module__.split(".")[0] for g in GAMEPLAYS)}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if (
            "." not in name
            and path
            and Path(path).resolve().parent.parent == root
            and name not in ("tests", "loadtests")
        ):
            names.add(name)
    return [Path(sys.modules[name].__file__ or "").parent for name in sorted(names) if name in sys.modules]


# A code picked at run time and raised with its message from a table: `invalid(why, MESSAGES[why])`
# gives every key of MESSAGES the helper's status.
_FROM_TABLE = re.compile(rf"\b(?P<helper>{'|'.join(_HELPERS)})\(\s*\w+\s*,\s*(?P<table>[A-Za-z_]\w*)\[")
_KEYS = re.compile(r"^\s*\"(?P<code>[a-z][a-z0-9_]*)\"\s*:", re.MULTILINE)


def _table_keys(text: str, table: str) -> list[str]:
    start = re.search(rf"^{table}\b[^=\n]*=\s*\{{", text, re.MULTILINE)
    if start is None:
        return []
    end = text.find("\n}", start.end())
    return [match["code"] for match in _KEYS.finditer(text, start.end(), end if end > 0 else len(text))]


def _raised(paths: Iterable[Path]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for match in _FROM_TABLE.finditer(text):
            for code in _table_keys(text, match["table"]):
                found.setdefault(code, set()).add(STATUS[_HELPERS[match["helper"]]])
        for pattern in _RAISED:
            for match in pattern.finditer(text):
                if match["kind"] in Kind.__members__:
                    found.setdefault(match["code"], set()).add(STATUS[Kind[match["kind"]]])
        for match in _HELPER.finditer(text):
            found.setdefault(match["code"], set()).add(STATUS[_HELPERS[match["helper"]]])
    return found


@functools.cache
def catalog() -> Mapping[str, frozenset[int]]:
    """code -> the statuses it is answered with, from the source that raises it."""
    found: dict[str, set[int]] = {code: {status} for code, status in _FIXED.items()}
    for code, statuses in _raised(path for folder in _packages() for path in folder.rglob("*.py")).items():
        found.setdefault(code, set()).update(statuses)
    return {code: frozenset(statuses) for code, statuses in found.items()}


@functools.cache
def spec_errors() -> tuple[str, ...]:
    """What the create route may refuse a spec for (422), whatever the gameplay: the codes the
    kernel's shared checks (activities/model.py), each registered gameplay's spec module and its
    `model.py`, and its service's `create` (and the methods it calls) raise with a 422. The create
    route's `opt["errors"]`."""
    modules = {"activities.model", "activities.experiment", *(g.spec.__module__ for g in GAMEPLAYS)}  # A/B checks
    paths = {Path(sys.modules[name].__file__ or "") for name in modules if name in sys.modules}
    paths |= {path for path in _gameplay_sources() if path.name == "model.py"}
    found = _raised(paths)
    known = catalog()
    codes = {code for code, statuses in found.items() if 422 in statuses}
    codes |= {code for code in method_errors("create") if 422 in known.get(code, ())}
    codes |= set(AUDIENCE_SPEC_ERRORS)
    return tuple(sorted(codes))


def _gameplay_sources() -> list[Path]:
    packages = {g.build.__module__.split(".")[0] for g in GAMEPLAYS} - {"activities"}
    return [path for name in sorted(packages) if name in sys.modules for path in _folder(name).rglob("*.py")]


def _folder(package: str) -> Path:
    return Path(sys.modules[package].__file__ or "").parent


@functools.cache
def method_errors(name: str) -> tuple[str, ...]:
    """The codes raised in the body of every registered gameplay's method `name`, and of the
    methods of its own class it calls (`self._check(...)`): e.g. `check_publishable`, what
    publishing may refuse whatever the gameplay."""
    found: set[str] = set()
    for path in _gameplay_sources():
        text = path.read_text(encoding="utf-8")
        for body in _bodies(text, name):
            found |= _raised_in(body)
            for called in set(re.findall(r"self\.(\w+)\(", body)) - {name}:
                for inner in _bodies(text, called):
                    found |= _raised_in(inner)
    return tuple(sorted(found))


def _bodies(text: str, name: str) -> Iterator[str]:
    """The source of each function or method `name` in a module's text."""
    for match in re.finditer(rf"^(?P<indent> *)(?:async )?def {name}\(", text, re.MULTILINE):
        end = re.compile(rf"^ {{0,{len(match['indent'])}}}(?:async def|def|class|@)\b", re.MULTILINE)
        after = end.search(text, match.end())
        yield text[match.end() : after.start() if after else len(text)]


def _raised_in(text: str) -> set[str]:
    codes = {match["code"] for pattern in _RAISED for match in pattern.finditer(text)}
    return codes | {match["code"] for match in _HELPER.finditer(text)}


# What creating any activity may refuse its audience's lists for (`create_draft` asks lists/service.py).
AUDIENCE_SPEC_ERRORS = ("audience_list_not_found", "audience_list_wrong_kind")
# A code a route declares that brings others with it: the kernel's audience check
# (`ActivityService.admit`) refuses by levels and tags, then by the audience lists (lists/).
IMPLIED = {"audience_not_allowed": ("audience_not_in_list", "audience_excluded", "audience_list_loading")}


def declared(handler: HTTPRouteHandler) -> dict[int | None, set[str]]:
    """The route's `opt["errors"]` by status (None: a code whose status the source does not say),
    with the codes they imply (`IMPLIED`)."""
    errors: Any = handler.opt.get("errors", ())
    if callable(errors):  # computed when the document is built (the create route: `spec_errors`)
        errors = errors()
    if isinstance(errors, Mapping):
        errors = {
            status: (*codes, *(c for code in codes for c in IMPLIED.get(code, ()))) for status, codes in errors.items()
        }
    else:
        errors = (*errors, *(c for code in errors for c in IMPLIED.get(code, ())))
    by_status: dict[int | None, set[str]] = {}
    if isinstance(errors, Mapping):
        for status, codes in errors.items():
            by_status.setdefault(int(status), set()).update(codes)
        return by_status
    known = catalog()
    for code in errors:
        for status in known.get(code) or (None,):
            by_status.setdefault(status, set()).add(code)
    return by_status


def route_codes(
    handler: HTTPRouteHandler, method: str, path: str, *, has_body: bool, has_parameters: bool
) -> dict[int | None, list[str]]:
    """Status -> the codes the route may answer (sorted); None: declared codes of unknown status."""
    codes: dict[int | None, set[str]] = {}

    def add(status: int, names: Iterable[str]) -> None:
        codes.setdefault(status, set()).update(names)

    needs_token, role = needed_role(handler)
    if needs_token:
        add(401, ("token_missing", "token_invalid", "token_expired"))
        if role is not None:
            add(403, (f"{role}_token_required",))
        if role in ("operator", None):  # operators' accounts (also on routes anyone may call): a
            add(401, ("session_expired",))  # session, a role, CSRF for a session's changes
            add(403, ("role_forbidden", "csrf_failed"))
    if has_parameters or needs_token:
        add(400, ("invalid_parameter",))
    if has_body:
        add(400, ("malformed_json",))
        add(422, ("invalid_body",))
    if handler.opt.get("idempotency"):
        add(400, ("idempotency_key_required",))
        add(422, ("idempotency_key_invalid",))
    if handler.opt.get("activity"):
        add(404, ("activity_not_found",))
        add(503, ("activity_loading",))
    if path != "/health":  # liveness touches no backend
        add(503, ("service_unavailable", "database_busy"))
    if method in {"POST", "PUT", "PATCH", "DELETE"} and (handler.opt.get("idempotency") or handler.opt.get("action")):
        add(503, ("outcome_unknown",))  # a state change whose script's answer was lost
    for status, names in declared(handler).items():
        codes.setdefault(status, set()).update(names)
    return {status: sorted(names) for status, names in codes.items()}
