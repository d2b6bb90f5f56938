"""The live activities of one type, for gameplays that react to members' events (event gifts,
tasks): asked on every event, re-read from SQL at most once per `refresh_s`."""

from __future__ import annotations

import time

import sqlalchemy as sa

from activities import db
from activities.model import Activity
from activities.service import ActivityService


class LiveActivities:
    def __init__(self, activities: ActivityService, activity_type: str, refresh_s: float = 1.0) -> None:
        self.activities = activities
        self.activity_type = activity_type
        self.refresh_s = refresh_s  # how soon a newly published activity is seen
        self._live: list[Activity] = []
        self._read_at = -refresh_s

    async def all(self) -> list[Activity]:
        if time.monotonic() - self._read_at >= self.refresh_s:
            table = db.activities
            query = sa.select(table.c.id).where(table.c.type == self.activity_type, table.c.status == "live")
            async with self.activities.repository.engine.connect() as conn:
                ids = [int(i) for i in (await conn.execute(query)).scalars()]
            self._live = [await self.activities.get_published(i) for i in ids]
            self._read_at = time.monotonic()
        return [a for a in self._live if a.status == "live"]
