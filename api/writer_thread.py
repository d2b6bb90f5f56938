"""The inline audit writer (PROMO_AUDIT_WRITER=inline, the default) in a thread of the API process,
with its own event loop, Redis client and SQL engine (a `Platform` of its own).

On the API's event loop the writer waited behind every request for each of its round trips to
Redis and SQL: under load a step of a few hundred entries took 0.2-0.6 s and the audit lag
approached the 1 s bound. In its own loop it only shares the interpreter (the GIL, handed over
every few milliseconds), not the queue of ready callbacks.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from activities.config import Settings

log = logging.getLogger("promo.audit")


class WriterThread:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._thread = threading.Thread(target=self._main, name="audit-writer", daemon=True)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(timeout=30)

    async def stop(self) -> None:
        """Ask the writer to stop (it drains for up to PROMO_SHUTDOWN_DRAIN_S) and wait for it."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        await asyncio.to_thread(self._thread.join)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except Exception:
            log.exception("the audit writer thread failed")
        finally:
            self._ready.set()

    async def _run(self) -> None:
        from api.platform import Platform  # the composition root builds the writer and its handlers

        platform = Platform.build(self.settings)
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        try:
            await platform.audit_writer.run(self._stop)
        finally:
            await platform.close()
