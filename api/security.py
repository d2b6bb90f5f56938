"""Bearer tokens to identities. Players and operators are told apart by the token's role.

A route says who may call it by its dependency (`player`, `operator` or `caller`, provided by
`provide_player`, `provide_operator`, `provide_anyone`). The app-level guard `authenticate` checks
the token before anything else of the request is read (guards run before Litestar decodes the
path, the query and the body), so a bad token is a 401/403 whatever else is wrong; the providers
then hand the route the identity the guard verified.

Operators (issue 13) come with a bearer token carrying their role, or with the console's session
cookie (a change then needs the session's CSRF token in X-CSRF-Token); the guard checks the
role against the route's rule (api/roles.py) and notes the operator for the action log.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler

from activities.auth import Identity
from activities.errors import Kind, PromoError
from api.guards import PerHandler
from api.guards import header as raw_header
from api.roles import check_role

if TYPE_CHECKING:
    from api.platform import Platform

S = TypeVar("S")
_IDENTITY = "promo.identity"
OPERATOR = "promo_operator"  # scope["state"] key: the operator the action log names
SESSION_COOKIE = "promo_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def platform_of(request: ASGIConnection[Any, Any, Any, Any]) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def service(kind: type[S]) -> Callable[[Request[Any, Any, Any]], S]:
    """A Litestar dependency handing a route the platform's service of class `kind`:
    `dependencies={"draws": Provide(service(DrawService), sync_to_thread=False)}`."""

    def provide(request: Request[Any, Any, Any]) -> S:
        return platform_of(request).service(kind)

    provide.__name__ = f"provide_{kind.__name__}"
    return provide


async def _identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    header = raw_header(connection, b"authorization")
    if not header:
        cookie = connection.cookies.get(SESSION_COOKIE)
        if cookie:
            return await session_identity(connection, cookie)
        raise PromoError(Kind.UNAUTHORIZED, "token_missing", "send Authorization: Bearer <token>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PromoError(Kind.UNAUTHORIZED, "token_invalid", "the Authorization header must be Bearer <token>")
    return platform_of(connection).tokens.verify(token.strip())


async def session_identity(connection: ASGIConnection[Any, Any, Any, Any], token: str) -> Identity:
    """The operator of a console session; a change (any method but GET/HEAD/OPTIONS) must carry
    the session's CSRF token in the X-CSRF-Token header (a page of another site cannot read it)."""
    session = await platform_of(connection).accounts.session(token)
    if session is None:
        raise PromoError(Kind.UNAUTHORIZED, "session_expired", "the session has expired: log in again")
    if connection.scope.get("method", "GET") not in SAFE_METHODS:
        sent = connection.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise PromoError(Kind.FORBIDDEN, "csrf_failed", "the CSRF token is missing or wrong: reload the page")
    account = session.account
    return Identity(
        subject=account.username, role="operator", operator_role=account.role, stores=account.stores, via="session"
    )


def _operator_checked(connection: ASGIConnection[Any, Any, Any, Any], identity: Identity) -> Identity:
    """An operator: noted for the action log (a refusal is logged too), then its role checked."""
    if identity.role == "operator":
        cast(dict[str, Any], connection.scope).setdefault("state", {})[OPERATOR] = identity
        check_role(connection, identity)
    return identity


def _checked(identity: Identity, role: str | None) -> Identity:
    if role == "player" and identity.role != "player":
        raise PromoError(Kind.FORBIDDEN, "player_token_required", "this route is for players")
    if role == "operator" and identity.role != "operator":
        raise PromoError(Kind.FORBIDDEN, "operator_token_required", "this route is for operators")
    if role == "system" and identity.role != "system":
        raise PromoError(Kind.FORBIDDEN, "system_token_required", "this route is for the brand's systems")
    return identity


async def _verified(connection: ASGIConnection[Any, Any, Any, Any], role: str | None) -> Identity:
    identity = connection.scope.get(_IDENTITY)  # set by `authenticate`
    if not isinstance(identity, Identity):
        identity = _operator_checked(connection, _checked(await _identity(connection), role))
    return _checked(identity, role)


def identity_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """The identity `authenticate` verified, its role checked, for a route of a layer that
    provides `player`, `operator`, `caller` or `system` but does not take it as a parameter: the
    member actions' hot paths, where resolving dependencies costs microseconds per request."""
    identity = connection.scope.get(_IDENTITY)
    if not isinstance(identity, Identity):
        raise LookupError("no identity: the route's layers provide none, or `authenticate` did not run")
    return identity


async def provide_player(request: Request[Any, Any, Any]) -> Identity:
    return await _verified(request, "player")


async def provide_operator(request: Request[Any, Any, Any]) -> Identity:
    return await _verified(request, "operator")


async def provide_system(request: Request[Any, Any, Any]) -> Identity:
    """A brand's system (`promo token --system`): pushes members' events."""
    return await _verified(request, "system")


async def provide_anyone(request: Request[Any, Any, Any]) -> Identity:
    return await _verified(request, None)


_ROLES: dict[Callable[..., Any], str | None] = {
    provide_player: "player",
    provide_operator: "operator",
    provide_anyone: None,
    provide_system: "system",
}
_NEEDED: PerHandler[tuple[bool, str | None]] = PerHandler()  # handler -> (token needed, role)


def needed_role(handler: BaseRouteHandler) -> tuple[bool, str | None]:
    """Whether the route needs a token, and of which role (None: any), from its dependencies."""
    found = _NEEDED.get(handler)
    if found is None:
        found = (False, None)
        default_options = getattr(handler.fn, "__name__", "") == "options_handler"  # Litestar's own
        for provide in () if default_options else handler.resolve_dependencies().values():
            if provide.dependency in _ROLES:
                found = (True, _ROLES[provide.dependency])
                break
        _NEEDED.set(handler, found)
    return found


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-level guard: the token first (401 missing or invalid, 403 the wrong role)."""
    needed, role = needed_role(handler)
    if needed:
        identity = _operator_checked(connection, _checked(await _identity(connection), role))
        connection.scope[_IDENTITY] = identity  # type: ignore[literal-required]


def service_for(kind: type[S], who: str) -> Callable[..., S]:
    """`service(kind)`, resolved after the route's identity dependency `who` ("player",
    "operator" or "caller"): Litestar resolves dependencies with nothing between them together in
    an anyio task group, two tasks per request, a cost the hot paths (sign-ins, reservations,
    helps) should not pay. The identity orders them; it is not used."""

    def after_player(request: Request[Any, Any, Any], player: NamedDependency[Identity]) -> S:
        return platform_of(request).service(kind)

    def after_operator(request: Request[Any, Any, Any], operator: NamedDependency[Identity]) -> S:
        return platform_of(request).service(kind)

    def after_caller(request: Request[Any, Any, Any], caller: NamedDependency[Identity]) -> S:
        return platform_of(request).service(kind)

    providers = {"player": after_player, "operator": after_operator, "caller": after_caller}
    provide = providers[who]
    provide.__name__ = f"provide_{kind.__name__}_after_{who}"
    return provide
