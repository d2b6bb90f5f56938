"""Scheduled notifications, each computed by one INSERT ... SELECT in SQL (never a Python loop
over members), idempotent through the events' unique ids:

- `checkin.reminder`, once a local day per live sign-in activity from its reminder hour: members
  with a sign-in before today, minus those with one today (a set difference in SQL). A sign-in of
  the last second may still be on its way from Redis (the audit writer's lag, under a second).
- `reservation.reminder`, once a local day per live reservation activity from its reminder hour:
  members holding a reservation for today (not cancelled, redeemed or expired).
- `initiative.expiring`: open initiatives whose deadline is within the hour.
- `initiative.completed`: initiatives completed in the last day.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import db
from activities.clock import Clock, from_ms
from assist.db import assist_initiatives, assist_outcomes
from checkin.db import checkins
from outbound.db import outbound_runs, webhook_events
from outbound.model import OutboundConfig
from reservation.db import reservation_changes, reservations

HOUR_MS = 3_600_000
Select = Any  # an INSERT ... SELECT source (sa.Select of the COLUMNS)
COLUMNS = (
    "event_id",
    "type",
    "user_id",
    "activity_id",
    "ref",
    "state",
    "created_at_ms",
    "not_before_ms",
    "lease_until_ms",
    "lease_owner",
)


def _events(conn: AsyncConnection, query: Select) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(webhook_events).from_select(list(COLUMNS), query)
    return insert.on_conflict_do_nothing()


def _row(
    prefix: str,
    type_: str,
    user: sa.ColumnElement[str],
    activity_id: int | sa.ColumnElement[int],
    ref: sa.ColumnElement[str] | str,
    now_ms: int,
) -> list[Any]:
    # Typed literals: PostgreSQL (asyncpg) casts each parameter of the SELECT list to its column's type.
    text, big = sa.String, sa.BigInteger
    ref_value = ref if isinstance(ref, sa.ColumnElement) else sa.literal(ref, text)
    activity = activity_id if isinstance(activity_id, sa.ColumnElement) else sa.literal(activity_id, sa.Integer)
    return [
        (sa.literal(prefix, text) + ref_value + sa.literal("_", text) + user).label("event_id"),
        sa.literal(type_, text).label("type"),
        user.label("user_id"),
        activity.label("activity_id"),
        ref_value.label("ref"),
        sa.literal("new", text).label("state"),
        sa.literal(now_ms, big).label("created_at_ms"),
        sa.literal(now_ms, big).label("not_before_ms"),
        sa.literal(0, big).label("lease_until_ms"),
        sa.literal("", text).label("lease_owner"),
    ]


class Notifier:
    def __init__(self, engine: AsyncEngine, clock: Clock, config: OutboundConfig) -> None:
        self.engine = engine
        self.clock = clock
        self.config = config

    async def run_due(self) -> int:
        """Every scan whose time has come; returns the events added."""
        now_ms = self.clock.now_ms()
        added = 0
        for activity_id, type_, zone in await self._live():
            local = from_ms(now_ms, ZoneInfo(zone))
            today = local.date().isoformat()
            if type_ == "checkin" and local.hour >= self.config.checkin_reminder_hour:
                added += await self._once(f"checkin:{activity_id}:{today}", self._checkin(activity_id, today, now_ms))
            elif type_ == "reservation" and local.hour >= self.config.reservation_reminder_hour:
                query = self._reservation(activity_id, today, now_ms)
                added += await self._once(f"reservation:{activity_id}:{today}", query)
        added += await self._insert(self._expiring(now_ms))
        added += await self._insert(self._completed(now_ms))
        return added

    async def _live(self) -> list[tuple[int, str, str]]:
        a = db.activities
        query = sa.select(a.c.id, a.c.type, a.c.timezone).where(a.c.status == "live")
        async with self.engine.connect() as conn:
            return [(r.id, r.type, r.timezone) for r in (await conn.execute(query)).all()]

    async def _once(self, name: str, query: Select) -> int:
        """The scan `name` once: its marker and its events in one transaction."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        marker = dialect.insert(outbound_runs).values(name=name, at_ms=self.clock.now_ms()).on_conflict_do_nothing()
        async with self.engine.begin() as conn:
            if (await conn.execute(marker)).rowcount == 0:
                return 0
            return int((await conn.execute(_events(conn, query))).rowcount or 0)

    async def _insert(self, query: Select) -> int:
        async with self.engine.begin() as conn:
            return int((await conn.execute(_events(conn, query))).rowcount or 0)

    def _checkin(self, activity_id: int, today: str, now_ms: int) -> Select:
        c = checkins
        before = sa.select(c.c.user_id).where(c.c.activity_id == activity_id, c.c.day < today)
        signed = sa.select(c.c.user_id).where(c.c.activity_id == activity_id, c.c.day == today)
        members = sa.except_(before, signed).subquery("members")
        row = _row(f"msg_chk_{activity_id}_", "checkin.reminder", members.c.user_id, activity_id, today, now_ms)
        return sa.select(*row).where(sa.true())  # WHERE: SQLite's INSERT ... SELECT ... ON CONFLICT

    def _reservation(self, activity_id: int, today: str, now_ms: int) -> Select:
        r, changed = reservations, reservation_changes
        row = _row("msg_rsv_", "reservation.reminder", r.c.user_id, activity_id, r.c.code, now_ms)
        return sa.select(*row).where(
            r.c.activity_id == activity_id,
            r.c.date == today,
            ~sa.exists().where(changed.c.code == r.c.code),
        )

    def _expiring(self, now_ms: int) -> Select:
        i, o = assist_initiatives, assist_outcomes
        row = _row("msg_ixp_", "initiative.expiring", i.c.initiator, i.c.activity_id, i.c.initiative_id, now_ms)
        return sa.select(*row).where(
            i.c.deadline_ms > now_ms,
            i.c.deadline_ms <= now_ms + HOUR_MS,
            ~sa.exists().where(o.c.initiative_id == i.c.initiative_id),
        )

    def _completed(self, now_ms: int) -> Select:
        i, o = assist_initiatives, assist_outcomes
        row = _row("msg_icp_", "initiative.completed", i.c.initiator, i.c.activity_id, i.c.initiative_id, now_ms)
        since = now_ms - int(timedelta(days=1).total_seconds() * 1000)
        return (
            sa.select(*row)
            .select_from(o.join(i, i.c.initiative_id == o.c.initiative_id))
            .where(o.c.outcome == "completed", o.c.at_ms > since)
        )
