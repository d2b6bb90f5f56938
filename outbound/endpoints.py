"""Operators' side of the webhooks: endpoints (secrets shown once, rotation with an overlap
window), the deliveries list and resending a delivery (a dead letter, or any other)."""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.clock import Clock
from activities.errors import Kind, PromoError, conflict
from activities.pages import Page, cut, decode_cursor
from outbound.crypto import Sealer, new_secret
from outbound.db import webhook_deliveries, webhook_endpoints, webhook_events
from outbound.model import DeliveryView, EndpointPatch, EndpointSpec, EndpointView, ResendResult, RotateBody, iso_utc

MAX_ENDPOINTS = 100


def _endpoint_view(row: Any, secret: str | None = None) -> EndpointView:
    return EndpointView(
        id=row.id,
        url=row.url,
        description=row.description,
        event_types=list(row.event_types),
        enabled=row.enabled,
        max_in_flight=row.max_in_flight,
        previous_secret_until=iso_utc(row.previous_until_ms) if row.previous_secret else None,
        created_at=iso_utc(row.created_at_ms),
        secret=secret,
    )


def _delivery_view(row: Any) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        webhook_id=row.event_id,
        event_type=row.type,
        endpoint_id=row.endpoint_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=iso_utc(row.next_attempt_at_ms) if row.status == "pending" else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=iso_utc(row.created_at_ms),
        delivered_at=iso_utc(row.delivered_at_ms) if row.delivered_at_ms is not None else None,
    )


def _not_found(what: str) -> PromoError:
    if what == "endpoint":
        return PromoError(Kind.NOT_FOUND, "endpoint_not_found", "no such endpoint")
    return PromoError(Kind.NOT_FOUND, "delivery_not_found", "no such delivery")


class Endpoints:
    def __init__(self, engine: AsyncEngine, sealer: Sealer, clock: Clock) -> None:
        self.engine = engine
        self.sealer = sealer
        self.clock = clock

    async def create(self, spec: EndpointSpec, operator_id: str) -> EndpointView:
        """A new endpoint; its secret is in this answer only."""
        t = webhook_endpoints
        secret, now_ms = new_secret(), self.clock.now_ms()
        async with self.engine.begin() as conn:
            if (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one() >= MAX_ENDPOINTS:
                raise conflict("too_many_endpoints", f"at most {MAX_ENDPOINTS} endpoints")
            values = {
                "url": spec.url,
                "description": spec.description,
                "event_types": sorted(set(spec.event_types)),
                "enabled": spec.enabled,
                "max_in_flight": spec.max_in_flight,
                "secret": self.sealer.seal(secret.encode()),
                "previous_secret": None,
                "previous_until_ms": None,
                "created_by": operator_id,
                "created_at_ms": now_ms,
                "updated_at_ms": now_ms,
            }
            endpoint_id = (await conn.execute(sa.insert(t).values(values).returning(t.c.id))).scalar_one()
            row = (await conn.execute(sa.select(t).where(t.c.id == endpoint_id))).one()
        return _endpoint_view(row, secret)

    async def find(self, endpoint_id: int) -> Any:
        t = webhook_endpoints
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == endpoint_id))).first()
        if row is None:
            raise _not_found("endpoint")
        return row

    async def list(self, limit: int, cursor: str | None) -> Page[EndpointView]:
        t = webhook_endpoints
        after = decode_cursor(cursor, (int,))
        query = sa.select(t).order_by(t.c.id.desc()).limit(limit + 1)
        if after is not None:
            query = query.where(t.c.id < after[0])
        async with self.engine.connect() as conn:
            rows = list((await conn.execute(query)).all())
        kept, next_cursor = cut(rows, limit, lambda row: (row.id,))
        return Page(items=[_endpoint_view(row) for row in kept], next_cursor=next_cursor)

    async def update(self, endpoint_id: int, patch: EndpointPatch) -> EndpointView:
        t = webhook_endpoints
        values = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not None}
        if "event_types" in values:
            values["event_types"] = sorted(set(values["event_types"]))
        async with self.engine.begin() as conn:
            if values:
                update = (
                    sa.update(t).where(t.c.id == endpoint_id).values({**values, "updated_at_ms": self.clock.now_ms()})
                )
                if (await conn.execute(update)).rowcount != 1:
                    raise _not_found("endpoint")
            row = (await conn.execute(sa.select(t).where(t.c.id == endpoint_id))).first()
        if row is None:
            raise _not_found("endpoint")
        return _endpoint_view(row)

    async def rotate(self, endpoint_id: int, body: RotateBody) -> EndpointView:
        """A new secret; the current one keeps signing beside it for `overlap_s` (then it stops,
        and a receiver still checking with it fails)."""
        t = webhook_endpoints
        secret, now_ms = new_secret(), self.clock.now_ms()
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(t).where(t.c.id == endpoint_id))).first()
            if row is None:
                raise _not_found("endpoint")
            update = (
                sa.update(t)
                .where(t.c.id == endpoint_id)
                .values(
                    secret=self.sealer.seal(secret.encode()),
                    previous_secret=row.secret if body.overlap_s > 0 else None,
                    previous_until_ms=now_ms + body.overlap_s * 1000 if body.overlap_s > 0 else None,
                    updated_at_ms=now_ms,
                )
            )
            await conn.execute(update)
            row = (await conn.execute(sa.select(t).where(t.c.id == endpoint_id))).one()
        return _endpoint_view(row, secret)

    async def deliveries(self, status: str | None, limit: int, cursor: str | None) -> Page[DeliveryView]:
        """Deliveries newest first, optionally of one status (`dead`: the dead letters)."""
        d, e = webhook_deliveries, webhook_events
        after = decode_cursor(cursor, (int,))
        query = (
            sa.select(d, e.c.event_id, e.c.type)
            .select_from(d.join(e, e.c.id == d.c.event_row))
            .order_by(d.c.id.desc())
            .limit(limit + 1)
        )
        if status is not None:
            query = query.where(d.c.status == status)
        if after is not None:
            query = query.where(d.c.id < after[0])
        async with self.engine.connect() as conn:
            rows = list((await conn.execute(query)).all())
        kept, next_cursor = cut(rows, limit, lambda row: (row.id,))
        return Page(items=[_delivery_view(row) for row in kept], next_cursor=next_cursor)

    async def resend(self, delivery_id: int) -> ResendResult:
        """Send again now, with a fresh retry schedule and the same webhook-id. A delivery still
        pending (and not yet tried) is left as it is."""
        d = webhook_deliveries
        now_ms = self.clock.now_ms()
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(d.c.status).where(d.c.id == delivery_id))).first()
            if row is None:
                raise _not_found("delivery")
            if row.status == "cancelled":
                raise conflict("delivery_cancelled", "the fulfilment of this delivery was cancelled")
            update = (
                sa.update(d)
                .where(d.c.id == delivery_id)
                .values(status="pending", attempts=0, next_attempt_at_ms=now_ms, updated_at_ms=now_ms)
            )
            await conn.execute(update)
        return ResendResult(id=delivery_id, status="pending", next_attempt_at=iso_utc(now_ms))
