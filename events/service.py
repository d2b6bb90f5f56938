"""Members' events: check a batch at the boundary (refused whole, naming the first bad event's
index), record each new event once (events/ingest.lua), hand the new ones to the gameplays that
listen (event gifts, tasks), and write them to SQL from their streams (the audit writer)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.audit_rows import EventHandler, Row
from activities.auth import SUBJECT
from activities.clock import Clock
from activities.errors import PromoError, invalid
from events.db import event_types, member_events
from events.model import (
    BUILTIN_TYPES,
    EVENT_ID,
    MAX_ATTRIBUTES_BYTES,
    MAX_BATCH,
    BatchResult,
    EventBatch,
    EventIn,
    EventOutcome,
    EventTypeSpec,
    EventTypeView,
)
from events.store import EventStore, Prepared

log = logging.getLogger("promo.events")

MAX_AGE_MS = 7 * 24 * 3600 * 1000  # the oldest `occurred_at` accepted
MAX_SKEW_MS = 5 * 60 * 1000  # how far in the future an `occurred_at` may be (clock skew)
_TYPES_REFRESH_S = 2.0  # custom types are read from SQL at most this often

# Called with the new events of an accepted batch (after they are recorded): event gifts, tasks.
Listener = Callable[[list[Prepared]], Awaitable[None]]
_encode = msgspec.json.Encoder()


def _bad(index: int, code: str, message: str, field: str) -> PromoError:
    return invalid(code, f"events[{index}]: {message}", index=index, field=f"events[{index}].{field}")


def parse_time(value: str) -> int | None:
    """RFC 3339 with an offset -> epoch ms; None if it is not that."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    return int(parsed.timestamp() * 1000)


def check_attributes(event: EventIn, index: int) -> str:
    """The attributes as JSON text, checked for the built-in types that carry some."""
    if event.type == "order_paid":
        amount = event.attributes.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            raise _bad(
                index, "event_attributes_invalid", "order_paid needs attributes.amount >= 0 (CNY)", "attributes.amount"
            )
        items = event.attributes.get("items", [])
        if not isinstance(items, list):
            raise _bad(index, "event_attributes_invalid", "attributes.items must be a list", "attributes.items")
    text = _encode.encode(event.attributes)
    if len(text) > MAX_ATTRIBUTES_BYTES:
        raise _bad(index, "event_attributes_too_large", f"attributes over {MAX_ATTRIBUTES_BYTES} bytes", "attributes")
    return text.decode()


class EventService:
    def __init__(self, engine: AsyncEngine, store: EventStore, clock: Clock) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.listeners: list[Listener] = []
        self._custom: dict[str, str] = {}
        self._custom_read_at = 0.0

    # --- the brand's systems -------------------------------------------------------------------

    async def ingest(self, batch: EventBatch, source: str) -> BatchResult:
        """Check every event, then record the new ones. One bad event refuses the whole batch
        (nothing recorded): the sender fixes it and sends the batch again, and the events already
        accepted by an earlier try are then answered as replays."""
        if len(batch.events) > MAX_BATCH:
            raise invalid(
                "batch_too_large",
                f"at most {MAX_BATCH} events per request; split the batch",
                index=MAX_BATCH,
                field="events",
                max_events=MAX_BATCH,
            )
        now_ms = self.clock.now_ms()
        prepared = [await self._prepare(event, index, now_ms) for index, event in enumerate(batch.events)]
        flags = await self.record(prepared, source, now_ms)
        fresh = [event for event, new in zip(prepared, flags, strict=True) if new]
        return BatchResult(
            accepted=len(prepared),
            new=len(fresh),
            replayed=len(prepared) - len(fresh),
            events=[EventOutcome(e.event_id, n) for e, n in zip(prepared, flags, strict=True)],
        )

    async def record(self, prepared: list[Prepared], source: str, now_ms: int) -> list[bool]:
        """Record checked events (each once per id) and hand the new ones to the listeners;
        for each, whether it was new. Also the way in of the platform's own actions."""
        flags = await self.store.ingest(prepared, source, now_ms) if prepared else []
        fresh = [event for event, new in zip(prepared, flags, strict=True) if new]
        for listener in self.listeners:
            try:
                await listener(fresh)
            except Exception:  # the events stand; a listener completes what it missed itself
                log.exception("an event listener failed on %d events", len(fresh))
        return flags

    async def _prepare(self, event: EventIn, index: int, now_ms: int) -> Prepared:
        if not EVENT_ID.match(event.event_id):
            raise _bad(index, "event_id_invalid", "event_id must be 1-64 of letters, digits, _ . : -", "event_id")
        if not SUBJECT.match(event.member_id):
            raise _bad(index, "member_id_invalid", "member_id must be 1-64 of letters, digits, _ . @ -", "member_id")
        if not await self.known_type(event.type):
            raise _bad(index, "event_type_unknown", f"unknown event type {event.type!r}", "type")
        occurred_ms = parse_time(event.occurred_at)
        if occurred_ms is None:
            raise _bad(index, "event_time_invalid", "occurred_at must be RFC 3339 with an offset", "occurred_at")
        if not now_ms - MAX_AGE_MS <= occurred_ms <= now_ms + MAX_SKEW_MS:
            raise _bad(
                index,
                "event_time_out_of_range",
                "occurred_at must be within the last 7 days (and not in the future)",
                "occurred_at",
            )
        return Prepared(event.event_id, event.member_id, event.type, occurred_ms, check_attributes(event, index))

    # --- event types -----------------------------------------------------------------------------

    async def known_type(self, name: str) -> bool:
        if name in BUILTIN_TYPES or name in self._custom:
            return True
        if time.monotonic() - self._custom_read_at >= _TYPES_REFRESH_S:  # declared since last read?
            await self._read_custom()
        return name in self._custom

    async def _read_custom(self) -> None:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(event_types.c.name, event_types.c.description))).all()
        self._custom = {str(name): str(description) for name, description in rows}
        self._custom_read_at = time.monotonic()

    async def types(self) -> list[EventTypeView]:
        await self._read_custom()
        builtin = [EventTypeView(name, text, True) for name, text in BUILTIN_TYPES.items()]
        return builtin + [EventTypeView(name, text, False) for name, text in sorted(self._custom.items())]

    async def declare_type(self, spec: EventTypeSpec, operator_id: str) -> EventTypeView:
        """A custom type (`POST /operator/event-types`); declaring it again changes nothing (200)."""
        if spec.name in BUILTIN_TYPES:
            raise invalid("event_type_builtin", f"{spec.name!r} is a built-in type", field="name")
        insert = event_types.insert().values(
            name=spec.name, description=spec.description, created_by=operator_id, created_at_ms=self.clock.now_ms()
        )
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert)
        except sa.exc.IntegrityError:
            pass  # already declared
        await self._read_custom()
        return EventTypeView(spec.name, self._custom.get(spec.name, spec.description), False)

    # --- SQL ---------------------------------------------------------------------------------------

    def audit_handlers(self) -> Mapping[str, EventHandler]:
        return {"event": event_rows}

    async def count_in_sql(self, member_id: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(member_events)
        if member_id is not None:
            query = query.where(member_events.c.member_id == member_id)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())


async def event_rows(_activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    row: dict[str, Any] = {
        "event_id": fields["event_id"],
        "member_id": fields["member_id"],
        "type": fields["event_type"],
        "occurred_at_ms": int(fields["occurred_ms"]),
        "received_at_ms": int(fields["received_ms"]),
        "source": fields["source"],
        "attributes": fields["attributes"],
        "stream_id": entry_id,
    }
    return [(member_events, row)]
