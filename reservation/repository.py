"""SQL access of hot-item reservations: what a rebuild and the counters read (the audit writer
inserts the rows)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from reservation.db import reservation_changes, reservation_counts, reservations


class ReservationRow(msgspec.Struct, kw_only=True):
    code: str
    user_id: str
    date: str
    store: str
    pool: str
    purchase: str
    cancel_until_ms: int
    created_at_ms: int
    status: str  # reserved, or the status it changed to
    changed_at_ms: int | None
    idempotency_key: str = ""
    fingerprint: str = ""


class CountRow(msgspec.Struct, kw_only=True):
    date: str
    store: str
    status: str  # reserved (every reservation made) | cancelled | redeemed | expired
    pool: str
    n: int


class ReservationRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def all_of(self, activity_id: int) -> list[ReservationRow]:
        """Every reservation of the activity with its current status."""
        return await self._rows(_rows_query().where(reservations.c.activity_id == activity_id))

    async def of_member(self, activity_id: int, user_id: str) -> list[ReservationRow]:
        """A member's reservations with their current status and idempotency records (one
        indexed query: reservation/members.py)."""
        query = _rows_query(reservations.c.idempotency_key, reservations.c.fingerprint)
        return await self._rows(
            query.where(reservations.c.activity_id == activity_id, reservations.c.user_id == user_id)
        )

    async def owner_of(self, activity_id: int, code: str) -> str | None:
        """The member of a reservation code, or None if SQL has no such code in the activity."""
        query = sa.select(reservations.c.user_id).where(
            reservations.c.code == code, reservations.c.activity_id == activity_id
        )
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).scalar_one_or_none()
        return None if found is None else str(found)

    async def open_codes(self, activity_id: int, day: str, after: str, limit: int) -> list[str]:
        """Codes of `day` still reserved in SQL (no change row), by code, after `after`."""
        changed = sa.exists().where(reservation_changes.c.code == reservations.c.code)
        query = (
            sa.select(reservations.c.code)
            .where(reservations.c.activity_id == activity_id, reservations.c.date == day, reservations.c.code > after)
            .where(~changed)
            .order_by(reservations.c.code)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [str(code) for code in (await conn.execute(query)).scalars()]

    async def counts(self, activity_id: int) -> list[CountRow]:
        """The activity's counters per date, store and status (reservation_counts, kept by
        triggers: migration 0022): a few rows per date however many reservations."""
        t = reservation_counts
        query = sa.select(t.c.date, t.c.store, t.c.status, t.c.pool, t.c.n).where(t.c.activity_id == activity_id)
        async with self.engine.connect() as conn:
            return [CountRow(**row._mapping) for row in (await conn.execute(query)).all()]

    async def _rows(self, query: sa.Select[Any]) -> list[ReservationRow]:
        async with self.engine.connect() as conn:
            return [ReservationRow(**row._mapping) for row in (await conn.execute(query)).all()]

    async def stats(self, activity_id: int) -> Counter[str]:
        """ "<date>|<store>|<reserved, cancelled, redeemed, expired>" -> reservations, as SQL has them
        (the aggregates the triggers keep beside the rows)."""
        return Counter({f"{c.date}|{c.store}|{c.status}": c.n for c in await self.counts(activity_id)})

    async def stats_grouped(self, activity_id: int) -> Counter[str]:
        """The same as `stats`, grouped from the rows themselves (tests check the aggregates by it)."""
        made = (
            sa.select(reservations.c.date, reservations.c.store, sa.func.count())
            .where(reservations.c.activity_id == activity_id)
            .group_by(reservations.c.date, reservations.c.store)
        )
        changed = (
            sa.select(reservations.c.date, reservations.c.store, reservation_changes.c.status, sa.func.count())
            .select_from(reservations.join(reservation_changes, reservation_changes.c.code == reservations.c.code))
            .where(reservations.c.activity_id == activity_id)
            .group_by(reservations.c.date, reservations.c.store, reservation_changes.c.status)
        )
        counts: Counter[str] = Counter()
        async with self.engine.connect() as conn:
            for day, store, n in (await conn.execute(made)).all():
                counts[f"{day}|{store}|reserved"] = int(n)
            for day, store, status, n in (await conn.execute(changed)).all():
                counts[f"{day}|{store}|{status}"] = int(n)
        return counts


def _rows_query(*extra: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """Reservations with their current status (and `extra` columns)."""
    return sa.select(
        reservations.c.code,
        reservations.c.user_id,
        reservations.c.date,
        reservations.c.store,
        reservations.c.pool,
        reservations.c.purchase,
        reservations.c.cancel_until_ms,
        reservations.c.created_at_ms,
        sa.func.coalesce(reservation_changes.c.status, "reserved").label("status"),
        reservation_changes.c.at_ms.label("changed_at_ms"),
        *extra,
    ).select_from(reservations.outerjoin(reservation_changes, reservation_changes.c.code == reservations.c.code))
