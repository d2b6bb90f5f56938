"""The composition root: builds the services from the settings, shared by the API and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import db
from activities.audit import AuditWriter
from activities.auth import Tokens
from activities.clock import Clock, SystemClock
from activities.config import Settings
from activities.db import make_engine
from activities.points import PointsService
from activities.redis_server import connect
from activities.repository import ActivityRepository
from activities.scripts import ScriptBatcher
from activities.service import ActivityService
from activities.store import ActivityStore, AuditStore, WalletStore
from assist.db import assist_helps, assist_initiatives
from assist.repository import AssistRepository
from assist.service import ACTIVITY_TYPE as ASSIST
from assist.service import EVENT_TYPES as ASSIST_EVENTS
from assist.service import AssistService
from assist.store import AssistStore
from checkin.db import checkins
from checkin.repository import CheckinRepository
from checkin.service import ACTIVITY_TYPE as CHECKIN
from checkin.service import CheckinService
from checkin.store import CheckinStore
from lottery.service import DrawService
from lottery.store import DrawStore
from reservation.db import reservation_changes, reservations
from reservation.repository import ReservationRepository
from reservation.service import ACTIVITY_TYPE as RESERVATION
from reservation.service import EVENT_TYPES as RESERVATION_EVENTS
from reservation.service import ReservationService
from reservation.store import ReservationStore

# What an acknowledged action is looked up by in the SQL audit trail (POST /operator/audit/lookup).
AUDIT_IDS: dict[str, sa.Column[Any]] = {
    "draw": db.draws.c.draw_id,  # draws, chance draws, grants
    "points": db.points_ledger.c.ref,
    "mark": checkins.c.mark_id,  # sign-ins and make-ups
    "initiative": assist_initiatives.c.initiative_id,
    "help": assist_helps.c.help_id,
    "reservation": reservations.c.code,
    "reservation_change": reservation_changes.c.code,
}


@dataclass
class Platform:
    settings: Settings
    redis: aioredis.Redis
    engine: AsyncEngine
    tokens: Tokens
    activity_store: ActivityStore
    activities: ActivityService
    draws: DrawService
    checkins: CheckinService
    assists: AssistService
    reservations: ReservationService
    points: PointsService
    audit_writer: AuditWriter

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Platform:
        if settings.redis_url is None:
            raise RuntimeError("REDIS_URL is not set: start the platform with `promo serve`")
        clock = clock or SystemClock()
        redis = connect(settings.redis_url)
        engine = make_engine(settings.database_url)
        repository = ActivityRepository(engine)
        activity_store = ActivityStore(redis)
        activities = ActivityService(repository, activity_store, clock)
        batcher = ScriptBatcher(redis, enabled=settings.coalesce)
        points = PointsService(WalletStore(batcher), repository, clock)
        draws = DrawService(activities, DrawStore(batcher), repository, points, clock)
        checkins = CheckinService(activities, CheckinStore(batcher), CheckinRepository(engine), draws, points, clock)
        activities.register(CHECKIN, checkins)
        tokens = Tokens(settings.jwt_secret)
        assists = AssistService(activities, AssistStore(batcher), AssistRepository(engine), points, tokens, clock)
        activities.register(ASSIST, assists)
        reservations = ReservationService(
            activities, ReservationStore(batcher), ReservationRepository(engine), tokens, clock
        )
        activities.register(RESERVATION, reservations)
        handlers = (
            {"checkin": checkins.audit_rows}
            | dict.fromkeys(ASSIST_EVENTS, assists.audit_rows)
            | dict.fromkeys(RESERVATION_EVENTS, reservations.audit_rows)
        )
        return cls(
            settings=settings,
            redis=redis,
            engine=engine,
            tokens=tokens,
            activity_store=activity_store,
            activities=activities,
            draws=draws,
            checkins=checkins,
            assists=assists,
            reservations=reservations,
            points=points,
            audit_writer=AuditWriter(
                AuditStore(redis), repository, handlers=handlers, shutdown_drain_s=settings.shutdown_drain_s
            ),
        )

    async def audit_lookup(self, kind: str, ids: Sequence[str]) -> dict[str, int]:
        """How many rows of the SQL audit trail each id has (0: not there)."""
        found = await self.activities.repository.count_by(AUDIT_IDS[kind], ids)
        return {i: found.get(i, 0) for i in ids}

    async def sweep(self) -> int:
        """Close what ran out of time: initiatives past their deadline, reservations not redeemed
        by the end of their day."""
        return await self.assists.sweep() + await self.reservations.sweep()

    async def reconcile(self) -> int:
        """Complete or undo what lost replies left half done (see each service's `reconcile`)."""
        return (
            await self.points.reconcile()
            + await self.checkins.reconcile()
            + await self.assists.reconcile()
            + await self.activities.sync_stock()
        )

    async def close(self) -> None:
        await self.redis.aclose()
        await self.engine.dispose()
