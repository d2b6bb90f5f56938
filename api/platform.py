"""The composition root: builds the kernel's services and every registered gameplay's
(`api/gameplays.py`), shared by the API, the worker and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import db
from activities.accounts import Accounts
from activities.audit import AuditWriter
from activities.audit_rows import EventHandler
from activities.auth import Tokens
from activities.clock import Clock, SystemClock
from activities.config import Settings
from activities.db import make_engine
from activities.gameplay import Gameplay, GameplayService, Kernel
from activities.points import PointsService
from activities.redis_server import connect
from activities.repository import ActivityRepository
from activities.scripts import ScriptBatcher
from activities.service import ActivityService
from activities.store import ActivityStore, AuditStore, WalletStore
from analytics.rollup import Rollups
from analytics.store import ViewStore
from analytics.views import Views
from api.gameplays import GAMEPLAYS
from events.actions import PlatformActions
from events.service import EventService
from events.store import EventStore
from events.store import streams as event_streams
from lists.service import ListService
from lists.store import ListStore
from outbound.service import Outbound

S = TypeVar("S")

# What an acknowledged action is looked up by in the SQL audit trail (POST /operator/audit/lookup):
# the kernel's, then each gameplay's.
AUDIT_IDS: dict[str, sa.Column[Any]] = {"points": db.points_ledger.c.ref} | {
    kind: column for gameplay in GAMEPLAYS for kind, column in gameplay.audit_ids.items()
}


@dataclass
class Platform:
    settings: Settings
    redis: aioredis.Redis
    engine: AsyncEngine
    tokens: Tokens
    activity_store: ActivityStore
    activities: ActivityService
    points: PointsService
    audit_writer: AuditWriter
    services: dict[str, GameplayService]  # gameplay name -> its service
    outbound: Outbound  # webhooks: fulfilment and notifications (outbound/)
    accounts: Accounts  # operator accounts and console sessions (issue 13)
    events: EventService  # members' events from the brand's systems (events/)
    lists: ListService  # audience lists (lists/)
    _by_class: dict[type[Any], Any] = field(default_factory=dict)
    views: Views | None = None  # public page views (analytics), persisted by `sweep`

    @classmethod
    def build(
        cls, settings: Settings, *, clock: Clock | None = None, gameplays: Sequence[Gameplay] = GAMEPLAYS
    ) -> Platform:
        if settings.redis_url is None:
            raise RuntimeError("REDIS_URL is not set: start the platform with `promo serve`")
        clock = clock or SystemClock()
        redis = connect(settings.redis_url)
        engine = make_engine(settings.database_url)
        repository = ActivityRepository(engine)
        activity_store = ActivityStore(redis)
        activities = ActivityService(repository, activity_store, clock)
        lists = activities.lists = ListService(engine, ListStore(redis), clock)  # audiences' lists
        batcher = ScriptBatcher(redis, enabled=settings.coalesce, group=settings.batch)
        points = PointsService(WalletStore(batcher), repository, clock)
        tokens = Tokens(settings.jwt_secret)
        kernel = Kernel(settings, redis, engine, batcher, clock, tokens, repository, activities, points)
        events = EventService(engine, EventStore(batcher), clock)
        handlers: dict[str, EventHandler] = dict(events.audit_handlers())
        wants = []  # gameplays that count the platform's own actions as events (events/actions.py)
        for gameplay in gameplays:
            service = gameplay.build(kernel)
            kernel.built[gameplay.name] = service
            for activity_type in gameplay.types:
                activities.register(activity_type, service)
            handlers.update(service.audit_handlers())
            on_events = getattr(service, "on_events", None)  # a gameplay that reacts to members' events
            if on_events is not None:
                events.listeners.append(on_events)
                wants.append(service.wants)  # type: ignore[attr-defined]
        outbound = Outbound(engine, settings, clock)
        return cls(
            settings=settings,
            redis=redis,
            engine=engine,
            tokens=tokens,
            activity_store=activity_store,
            activities=activities,
            points=points,
            audit_writer=AuditWriter(
                AuditStore(redis),
                repository,
                handlers=handlers,
                producers=[
                    outbound.producer,  # the outbox rows of a grant, in the grant's transaction
                    PlatformActions(events, wants).producer,  # sign-ins, helps, draws count for tasks
                    Rollups(repository, engine),  # analytics, in the events' transaction
                ],
                streams=event_streams(),  # members' events (events/)
                shutdown_drain_s=settings.shutdown_drain_s,
            ),
            services=dict(kernel.built),
            outbound=outbound,
            accounts=Accounts(engine, clock),
            events=events,
            lists=lists,
            views=Views(ViewStore(redis), engine, repository, clock),
        )

    def service(self, kind: type[S]) -> S:
        """The gameplay service of that class (`platform.service(DrawService)`)."""
        found = self._by_class.get(kind)
        if found is None:
            found = next((s for s in self.services.values() if isinstance(s, kind)), None)
            if found is None:
                raise LookupError(f"no gameplay service {kind.__name__} is registered")
            self._by_class[kind] = found
        return found

    async def audit_lookup(self, kind: str, ids: Sequence[str]) -> dict[str, int]:
        """How many rows of the SQL audit trail each id has (0: not there)."""
        found = await self.activities.repository.count_by(AUDIT_IDS[kind], ids)
        return {i: found.get(i, 0) for i in ids}

    async def sweep(self) -> int:
        """Close what ran out of time (initiatives past their deadline, reservations not redeemed
        by the end of their day...): every gameplay's sweep."""
        swept = sum([await service.sweep() for service in self.services.values()])
        if self.views is not None:
            await self.views.persist()  # at most once a minute
        return swept

    async def reconcile(self) -> int:
        """Complete or undo what lost replies left half done: every gameplay's (a lottery's draw costs
        and points prizes, a sign-in's rewards...)."""
        fixed = 0
        for service in self.services.values():
            fixed += await service.reconcile()
        return fixed

    async def close(self) -> None:
        await self.outbound.dispatcher.close(grace_s=0)
        await self.redis.aclose()
        await self.engine.dispose()
