"""The outbound side composed: the audit writer's producer, the dispatcher, the notifier, and
what the routes call. Built by the platform (api/platform.py); run by `promo worker` and, with
PROMO_AUDIT_WRITER=inline, beside the API."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.clock import Clock
from activities.config import Settings
from outbound.assist_grants import record_assist_grants
from outbound.crypto import Sealer
from outbound.dispatcher import Dispatcher
from outbound.endpoints import Endpoints
from outbound.fulfilments import Fulfilments
from outbound.model import OutboundConfig
from outbound.notifier import Notifier
from outbound.producer import GrantProducer
from outbound.repository import OutboundRepository

log = logging.getLogger("promo.outbound")


class Outbound:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        clock: Clock,
        config: OutboundConfig | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config or OutboundConfig.from_env()
        self.clock = clock
        self.sealer = Sealer.of(settings)
        self.repository = OutboundRepository(engine)
        self.producer = GrantProducer(engine, self.config)
        self.endpoints = Endpoints(engine, self.sealer, clock)
        self.fulfilments = Fulfilments(engine, self.sealer, clock)
        self.notifier = Notifier(engine, clock, self.config)
        self.dispatcher = Dispatcher(self.repository, self.sealer, clock, self.config, transport=transport)

    async def run(self, stop: asyncio.Event, notify_every_s: float = 30.0) -> None:
        """The dispatcher, and the scheduled notifications every `notify_every_s`."""

        async def notify() -> None:
            while not stop.is_set():
                try:
                    if added := await self.notifier.run_due():
                        log.info("scheduled %d notifications", added)
                    if made := await record_assist_grants(self.repository.engine, self.producer, self.clock.now_ms()):
                        log.info("fulfilment records for %d assist prizes", made)
                except Exception:
                    log.exception("scheduled notifications failed; will try again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=notify_every_s)

        await asyncio.gather(self.dispatcher.run(stop), notify())
