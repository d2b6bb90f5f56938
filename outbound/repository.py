"""SQL of endpoints, events and deliveries: what the dispatcher claims, fans out and records,
and what operators list and resend. Claims are leases (`lease_until_ms`, `lease_owner`): any
number of dispatchers may run; one that dies leaves its claims to the others when they end."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import db
from outbound.db import fulfilments, notification_counts, webhook_deliveries, webhook_endpoints, webhook_events


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    event_types: tuple[str, ...]
    max_in_flight: int
    secret: str  # sealed
    previous_secret: str | None  # sealed
    previous_until_ms: int | None


@dataclass(frozen=True)
class Event:
    id: int
    event_id: str
    type: str
    user_id: str | None
    activity_id: int | None
    ref: str
    timezone: str | None


@dataclass(frozen=True)
class Claimed:
    """A delivery claimed for an attempt, with what its body is made of."""

    id: int
    endpoint_id: int
    attempts: int
    event_id: str
    type: str
    ref: str
    user_id: str | None
    activity_id: int | None
    data: Any
    created_at_ms: int
    address: str | None  # sealed; WITH_ADDRESS events of goods


@dataclass(frozen=True)
class Outcome:
    """What an attempt came to: delivered, or the next attempt's time, or dead (next_at_ms None)."""

    delivery: Claimed
    delivered: bool
    status_code: int | None
    error: str | None
    next_at_ms: int | None


WITH_ADDRESS = ("fulfilment.requested", "fulfilment.address_changed")  # a goods prize's, to ship it


class OutboundRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # --- endpoints ---------------------------------------------------------------------------
    async def enabled_endpoints(self) -> list[Endpoint]:
        t = webhook_endpoints
        query = sa.select(t).where(t.c.enabled == sa.true()).order_by(t.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Endpoint(
                id=r.id,
                url=r.url,
                event_types=tuple(r.event_types),
                max_in_flight=r.max_in_flight,
                secret=r.secret,
                previous_secret=r.previous_secret,
                previous_until_ms=r.previous_until_ms,
            )
            for r in rows
        ]

    # --- fan-out ---------------------------------------------------------------------------------
    async def claim_events(self, owner: str, now_ms: int, lease_ms: int, limit: int) -> list[Event]:
        """New events whose time has come, leased to `owner` (a token of this claim)."""
        e = webhook_events
        due = (
            sa.select(e.c.id)
            .where(e.c.state == "new", e.c.not_before_ms <= now_ms, e.c.lease_until_ms <= now_ms)
            .order_by(e.c.not_before_ms, e.c.id)
            .limit(limit)
        )
        claim = (
            sa.update(e)
            .where(e.c.id.in_(due.scalar_subquery()))
            .values(lease_until_ms=now_ms + lease_ms, lease_owner=owner)
        )
        query = (
            sa.select(e.c.id, e.c.event_id, e.c.type, e.c.user_id, e.c.activity_id, e.c.ref, db.activities.c.timezone)
            .select_from(e.outerjoin(db.activities, db.activities.c.id == e.c.activity_id))
            .where(e.c.lease_owner == owner, e.c.state == "new")
            .order_by(e.c.id)
        )
        async with self.engine.begin() as conn:
            await conn.execute(claim)
            rows = (await conn.execute(query)).all()
        return [Event(r.id, r.event_id, r.type, r.user_id, r.activity_id, r.ref, r.timezone) for r in rows]

    async def counts(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Notifications already sent to (member, day)."""
        if not keys:
            return {}
        t = notification_counts
        users = {user for user, _ in keys}
        days = {day for _, day in keys}
        query = sa.select(t.c.user_id, t.c.day, t.c.sent).where(t.c.user_id.in_(users), t.c.day.in_(days))
        async with self.engine.connect() as conn:
            return {(r.user_id, r.day): r.sent for r in (await conn.execute(query)).all()}

    async def apply_fan_out(
        self,
        now_ms: int,
        deliveries: Sequence[tuple[int, int]],  # (event row, endpoint)
        states: Sequence[tuple[int, str]],  # (event row, new state)
        deferred: Sequence[tuple[int, int]],  # (event row, not before ms)
        sent: dict[tuple[str, str], int],  # (member, day) -> notifications added
    ) -> None:
        e, d = webhook_events, webhook_deliveries
        async with self.engine.begin() as conn:
            if deliveries:
                rows = [
                    {
                        "event_row": event,
                        "endpoint_id": endpoint,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at_ms": now_ms,
                        "lease_until_ms": 0,
                        "lease_owner": "",
                        "created_at_ms": now_ms,
                        "updated_at_ms": now_ms,
                    }
                    for event, endpoint in deliveries
                ]
                await conn.execute(_insert_ignore(conn, d), rows)
            if states:
                update = sa.update(e).where(e.c.id == sa.bindparam("row")).values(state=sa.bindparam("new_state"))
                await conn.execute(update, [{"row": row, "new_state": state} for row, state in states])
            if deferred:
                update = (
                    sa.update(e)
                    .where(e.c.id == sa.bindparam("row"))
                    .values(not_before_ms=sa.bindparam("at"), lease_until_ms=0)
                )
                await conn.execute(update, [{"row": row, "at": at} for row, at in deferred])
            for (user, day), n in sent.items():
                await _add_count(conn, user, day, n)

    # --- deliveries --------------------------------------------------------------------------------
    async def claim_deliveries(
        self, endpoint_id: int, owner: str, now_ms: int, lease_ms: int, limit: int
    ) -> list[Claimed]:
        d, e, f = webhook_deliveries, webhook_events, fulfilments
        due = (
            sa.select(d.c.id)
            .where(
                d.c.endpoint_id == endpoint_id,
                d.c.status == "pending",
                d.c.next_attempt_at_ms <= now_ms,
                d.c.lease_until_ms <= now_ms,
            )
            .order_by(d.c.next_attempt_at_ms, d.c.id)
            .limit(limit)
        )
        claim = (
            sa.update(d)
            .where(d.c.id.in_(due.scalar_subquery()))
            .values(lease_until_ms=now_ms + lease_ms, lease_owner=owner)
        )
        query = (
            sa.select(
                d.c.id,
                d.c.endpoint_id,
                d.c.attempts,
                e.c.event_id,
                e.c.type,
                e.c.ref,
                e.c.user_id,
                e.c.activity_id,
                e.c.data,
                e.c.created_at_ms,
                f.c.address,
            )
            .select_from(d.join(e, e.c.id == d.c.event_row).outerjoin(f, f.c.grant_id == e.c.ref))
            .where(d.c.lease_owner == owner, d.c.status == "pending")
            .order_by(d.c.id)
        )
        async with self.engine.begin() as conn:
            await conn.execute(claim)
            rows = (await conn.execute(query)).all()
        return [
            Claimed(
                id=r.id,
                endpoint_id=r.endpoint_id,
                attempts=r.attempts,
                event_id=r.event_id,
                type=r.type,
                ref=r.ref,
                user_id=r.user_id,
                activity_id=r.activity_id,
                data=msgspec.json.decode(r.data) if r.data is not None else None,
                created_at_ms=r.created_at_ms,
                address=r.address if r.type in WITH_ADDRESS else None,
            )
            for r in rows
        ]

    async def record(self, outcomes: Sequence[Outcome], now_ms: int) -> None:
        """The outcomes of attempts, in one transaction; and the fulfilments they move."""
        if not outcomes:
            return
        d, f = webhook_deliveries, fulfilments
        values = [
            {
                "row": o.delivery.id,
                "new_status": "delivered" if o.delivered else ("pending" if o.next_at_ms is not None else "dead"),
                "attempts": o.delivery.attempts + 1,
                "next_at": o.next_at_ms if o.next_at_ms is not None else now_ms,
                "code": o.status_code,
                "error": (o.error or "")[:200] or None,
                "delivered_at": now_ms if o.delivered else None,
            }
            for o in outcomes
        ]
        update = (
            sa.update(d)
            .where(d.c.id == sa.bindparam("row"), d.c.status == "pending")
            .values(
                status=sa.bindparam("new_status"),
                attempts=sa.bindparam("attempts"),
                next_attempt_at_ms=sa.bindparam("next_at"),
                last_status_code=sa.bindparam("code"),
                last_error=sa.bindparam("error"),
                delivered_at_ms=sa.bindparam("delivered_at"),
                lease_until_ms=0,
                lease_owner="",
                updated_at_ms=now_ms,
            )
        )
        _retried = sa.or_(f.c.status == "pending", f.c.status == "failed")  # failed: resent by an operator
        requested = [o for o in outcomes if o.delivery.type == "fulfilment.requested"]
        delivered = [{"grant": o.delivery.ref} for o in requested if o.delivered]
        failed = [{"grant": o.delivery.ref} for o in requested if not o.delivered and o.next_at_ms is None]
        async with self.engine.begin() as conn:
            await conn.execute(update, values)
            if delivered:
                move = (
                    sa.update(f)
                    .where(f.c.grant_id == sa.bindparam("grant"), _retried)
                    .values(status="delivered", updated_at_ms=now_ms)
                )
                await conn.execute(move, delivered)
            if failed:
                move = (
                    sa.update(f)
                    .where(f.c.grant_id == sa.bindparam("grant"), f.c.status == "pending")
                    .values(status="failed", updated_at_ms=now_ms)
                )
                await conn.execute(move, failed)

    async def release(self, ids: Sequence[int]) -> None:
        """Give back claims not attempted (the dispatcher stopped first)."""
        if ids:
            d = webhook_deliveries
            update = sa.update(d).where(d.c.id.in_(ids), d.c.status == "pending").values(lease_until_ms=0)
            async with self.engine.begin() as conn:
                await conn.execute(update)


def _insert_ignore(conn: AsyncConnection, table: sa.Table) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


async def _add_count(conn: AsyncConnection, user: str, day: str, n: int) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    t = notification_counts
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(t).values(user_id=user, day=day, sent=n)
    await conn.execute(insert.on_conflict_do_update(index_elements=[t.c.user_id, t.c.day], set_={"sent": t.c.sent + n}))
