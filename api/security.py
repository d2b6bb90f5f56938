"""Bearer tokens to identities. Players and operators are told apart by the token's role.

A route says who may call it by its dependency (`player`, `operator` or `caller`, provided by
`provide_player`, `provide_operator`, `provide_anyone`). The app-level guard `authenticate` checks
the token before anything else of the request is read (guards run before Litestar decodes the
path, the query and the body), so a bad token is a 401/403 whatever else is wrong; the providers
then hand the route the identity the guard verified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from activities.auth import Identity
from activities.errors import Kind, PromoError

if TYPE_CHECKING:
    from api.platform import Platform

S = TypeVar("S")
_IDENTITY = "promo.identity"


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


def _identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    header = connection.headers.get("authorization")
    if not header:
        raise PromoError(Kind.UNAUTHORIZED, "token_missing", "send Authorization: Bearer <token>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PromoError(Kind.UNAUTHORIZED, "token_invalid", "the Authorization header must be Bearer <token>")
    return platform_of(connection).tokens.verify(token.strip())


def _checked(identity: Identity, role: str | None) -> Identity:
    if role == "player" and identity.role != "player":
        raise PromoError(Kind.FORBIDDEN, "player_token_required", "this route is for players")
    if role == "operator" and identity.role != "operator":
        raise PromoError(Kind.FORBIDDEN, "operator_token_required", "this route is for operators")
    return identity


def _verified(connection: ASGIConnection[Any, Any, Any, Any], role: str | None) -> Identity:
    identity = connection.scope.get(_IDENTITY)  # set by `authenticate`
    if not isinstance(identity, Identity):
        identity = _identity(connection)
    return _checked(identity, role)


async def provide_player(request: Request[Any, Any, Any]) -> Identity:
    return _verified(request, "player")


async def provide_operator(request: Request[Any, Any, Any]) -> Identity:
    return _verified(request, "operator")


async def provide_anyone(request: Request[Any, Any, Any]) -> Identity:
    return _verified(request, None)


_ROLES: dict[Callable[..., Any], str | None] = {
    provide_player: "player",
    provide_operator: "operator",
    provide_anyone: None,
}
_NEEDED: dict[str, tuple[bool, str | None]] = {}  # handler id -> (token needed, role)


def needed_role(handler: BaseRouteHandler) -> tuple[bool, str | None]:
    """Whether the route needs a token, and of which role (None: any), from its dependencies."""
    found = _NEEDED.get(handler.handler_id)
    if found is None:
        found = (False, None)
        default_options = getattr(handler.fn, "__name__", "") == "options_handler"  # Litestar's own
        for provide in () if default_options else handler.resolve_dependencies().values():
            if provide.dependency in _ROLES:
                found = (True, _ROLES[provide.dependency])
                break
        _NEEDED[handler.handler_id] = found
    return found


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """App-level guard: the token first (401 missing or invalid, 403 the wrong role)."""
    needed, role = needed_role(handler)
    if needed:
        connection.scope[_IDENTITY] = _checked(_identity(connection), role)  # type: ignore[literal-required]
