"""Bearer tokens to identities. Players and operators are told apart by the token's role."""

from __future__ import annotations

from typing import Any

from litestar import Request

from activities.auth import Identity
from activities.errors import Kind, PromoError
from api.platform import Platform


def platform_of(request: Request[Any, Any, Any]) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _identity(request: Request[Any, Any, Any]) -> Identity:
    header = request.headers.get("authorization")
    if not header:
        raise PromoError(Kind.UNAUTHORIZED, "token_missing", "send Authorization: Bearer <token>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PromoError(Kind.UNAUTHORIZED, "token_invalid", "the Authorization header must be Bearer <token>")
    return platform_of(request).tokens.verify(token.strip())


async def provide_player(request: Request[Any, Any, Any]) -> Identity:
    identity = _identity(request)
    if identity.role != "player":
        raise PromoError(Kind.FORBIDDEN, "player_token_required", "this route is for players")
    return identity


async def provide_operator(request: Request[Any, Any, Any]) -> Identity:
    identity = _identity(request)
    if identity.role != "operator":
        raise PromoError(Kind.FORBIDDEN, "operator_token_required", "this route is for operators")
    return identity


async def provide_anyone(request: Request[Any, Any, Any]) -> Identity:
    return _identity(request)
