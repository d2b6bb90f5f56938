"""SQL access of hot-item reservations: what a rebuild and the counters read (the audit writer
inserts the rows)."""

from __future__ import annotations

from collections import Counter

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from reservation.db import reservation_changes, reservations


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


class ReservationRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def all_of(self, activity_id: int) -> list[ReservationRow]:
        """Every reservation of the activity with its current status."""
        query = (
            sa.select(
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
            )
            .select_from(reservations.outerjoin(reservation_changes, reservation_changes.c.code == reservations.c.code))
            .where(reservations.c.activity_id == activity_id)
        )
        async with self.engine.connect() as conn:
            return [ReservationRow(**row._mapping) for row in (await conn.execute(query)).all()]

    async def stats(self, activity_id: int) -> Counter[str]:
        """ "<date>|<store>|<reserved, cancelled, redeemed, expired>" -> reservations, as SQL has them."""
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
