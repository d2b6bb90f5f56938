"""One call at a time per key in a process (a "single flight"): the callers asking for a key while
its call runs wait for that call's answer instead of starting their own. The lazy member loaders
of every gameplay use it, so that a crowd of one member's first requests reads SQL once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SingleFlight(Generic[K, T]):
    def __init__(self) -> None:
        self._flights: dict[K, asyncio.Future[T]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`'s answer, from the call already running for `key` if there is one. A caller
        that goes away (cancelled) does not cancel the call the others wait for."""
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(call())
            self._flights[key] = flight
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
        return await asyncio.shield(flight)
