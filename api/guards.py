"""Guards without copies, and request headers without a header object: what every member action
pays per request before its own work (issue 17, "Python per request").

Litestar's `authorize_connection` hands each guard `copy(handler)`: a shallow copy of the route
handler (its slots and its dict, ~70 attributes) per guard per request, some 10 µs each; the
member actions run two or three guards. Ours never change the handler they are given, so
`guards_without_copies` has each handler of the app run its guards, in Litestar's order
(app, router, controller, route), with the handler itself.

`header` reads one request header from the raw ASGI headers, without building Litestar's
case-insensitive multidict of all of them (the guards read two, the Authorization and the
Idempotency-Key; `LeanRequest` the Content-Length).
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from litestar import Litestar, Request
from litestar.connection import ASGIConnection
from litestar.exceptions import ClientException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Empty

# as `resolve_guards` gives them: every guard made awaitable
Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


V = TypeVar("V")


class PerHandler(Generic[V]):
    """Facts about route handlers, kept by the handler itself, weakly (tests build many apps):
    Litestar's `handler_id` is a string built anew at each call (microseconds per request).
    Litestar's own handlers (slots only, no weak references) are kept by their `handler_id`."""

    def __init__(self) -> None:
        self._weak: weakref.WeakKeyDictionary[BaseRouteHandler, V] = weakref.WeakKeyDictionary()
        self._by_id: dict[str, V] = {}

    def get(self, handler: BaseRouteHandler) -> V | None:
        try:
            return self._weak.get(handler)
        except TypeError:
            return self._by_id.get(handler.handler_id)

    def set(self, handler: BaseRouteHandler, value: V) -> None:
        try:
            self._weak[handler] = value
        except TypeError:
            self._by_id[handler.handler_id] = value


def header(connection: ASGIConnection[Any, Any, Any, Any], name: bytes) -> str | None:
    """The first value of the header `name` (lower case, as ASGI servers give names), as
    Litestar's `connection.headers.get` would give it (latin-1), or None."""
    for key, value in connection.scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _authorizer(handler: BaseRouteHandler, guards: Sequence[Guard]) -> Callable[..., Awaitable[None]]:
    async def authorize_connection(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        for guard in guards:
            await guard(connection, handler)

    return authorize_connection


def guards_without_copies(app: Litestar) -> int:
    """Every route handler of `app` with guards runs them on itself (see the module's doc).
    Returns how many handlers it changed."""
    changed = 0
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            guards: tuple[Guard, ...] = tuple(handler.resolve_guards())
            # (a handler of Litestar's own class has slots only: it keeps Litestar's way)
            if guards and hasattr(handler, "__dict__"):
                # an instance attribute: the handler's class, and other apps, keep Litestar's
                handler.authorize_connection = _authorizer(handler, guards)
                changed += 1
    return changed


class LeanRequest(Request[Any, Any, Any]):
    """The app's request class: its Content-Length read from the raw headers (Litestar's builds
    the multidict of every header for it, when a route reads its body)."""

    @property
    def content_length(self) -> int | None:
        cached = self._content_length
        if cached is not Empty:
            return cached
        value = header(self, b"content-length")
        try:
            length = self._content_length = int(value) if value is not None else None
        except ValueError:
            raise ClientException(f"Invalid content-length: {value!r}") from None
        return length
