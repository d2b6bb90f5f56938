"""Public page views: counted in Redis as they happen (`GET /activities/{id}?channel=&visitor=`),
persisted to SQL (`analytics_visitors`) by the platform's sweep at most once a minute: today's
and yesterday's counts of every published activity, set (not added), so it is idempotent."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.clock import Clock
from activities.model import PUBLISHED_STATUSES, Activity
from activities.repository import ActivityRepository
from analytics import db
from analytics.rollup import local_day
from analytics.store import CHANNELS, ViewStore

log = logging.getLogger("promo.analytics")


class Views:
    def __init__(
        self, store: ViewStore, engine: AsyncEngine, repository: ActivityRepository, clock: Clock, every_s: float = 60
    ) -> None:
        self.store = store
        self.engine = engine
        self.repository = repository
        self.clock = clock
        self.every_s = every_s
        self._persisted_at = 0.0

    async def record(self, activity: Activity, channel: str | None, visitor: str | None) -> None:
        """Count a view of the public page; never fails the page (logged instead)."""
        day = local_day(self.clock.now_ms(), activity.tz)
        try:
            await self.store.record(activity.id, day, channel if channel in CHANNELS else "other", visitor)
        except Exception:
            log.exception("a view of activity %d was not counted", activity.id)

    async def persist(self, force: bool = False) -> int:
        """Write today's and yesterday's counts of the published activities to SQL; how many rows."""
        now = time.monotonic()
        if not force and now - self._persisted_at < self.every_s:
            return 0
        self._persisted_at = now
        rows = []
        for activity_id in await self.repository.list_ids(PUBLISHED_STATUSES):
            activity = await self.repository.get(activity_id)
            if activity is None:
                continue
            today = local_day(self.clock.now_ms(), activity.tz)
            yesterday = local_day(self.clock.now_ms() - int(timedelta(days=1).total_seconds() * 1000), activity.tz)
            for a, day, channel, visitors, views in await self.store.counts([activity_id], [yesterday, today]):
                rows.append({"activity_id": a, "day": day, "channel": channel, "visitors": visitors, "views": views})
        if rows:
            async with self.engine.begin() as conn:
                insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(db.visitors)
                upsert = insert.on_conflict_do_update(
                    index_elements=[db.visitors.c.activity_id, db.visitors.c.day, db.visitors.c.channel],
                    set_={"visitors": insert.excluded.visitors, "views": insert.excluded.views},
                )
                await conn.execute(upsert, rows)
        return len(rows)
