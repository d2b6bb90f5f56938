"""Reservations as the back office sees them (issue 13): search by code, member, date, store and
status, a page at a time (keyset, newest first), or every match as CSV, streamed; and a
member's reservations for the member lookup."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from litestar import Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.auth import Identity
from activities.pages import Page, cut, decode_cursor
from api.params import Cursor, Id, Limit
from api.security import platform_of, provide_operator
from reservation.db import reservation_changes, reservations


class ReservationEntry(msgspec.Struct, kw_only=True):
    id: int
    code: str
    activity_id: int
    user_id: str
    date: str
    store: str
    purchase: str
    status: str  # reserved | cancelled | redeemed | expired (as SQL has it)
    reserved_at: datetime
    changed_at: datetime | None
    changed_by: str | None


class Search(msgspec.Struct, kw_only=True):
    code: str | None = None
    member: str | None = None
    date: str | None = None
    store: str | None = None
    status: str | None = None


_STATUS: sa.ColumnElement[str] = sa.func.coalesce(reservation_changes.c.status, "reserved")


def _query(activity_id: int | None, search: Search) -> sa.Select[Any]:
    r = reservations
    query = sa.select(
        r.c.id,
        r.c.code,
        r.c.activity_id,
        r.c.user_id,
        r.c.date,
        r.c.store,
        r.c.purchase,
        _STATUS.label("status"),
        r.c.created_at_ms,
        reservation_changes.c.at_ms.label("changed_at_ms"),
        reservation_changes.c.actor,
    ).select_from(r.outerjoin(reservation_changes, reservation_changes.c.code == r.c.code))
    if activity_id is not None:
        query = query.where(r.c.activity_id == activity_id)
    if search.code:
        query = query.where(r.c.code == search.code.upper())
    if search.member:
        query = query.where(r.c.user_id == search.member)
    if search.date:
        query = query.where(r.c.date == search.date)
    if search.store:
        query = query.where(r.c.store == search.store)
    if search.status:
        query = query.where(_STATUS.in_([search.status]))
    return query.order_by(r.c.id.desc())


def _at(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _entry(row: Any) -> ReservationEntry:
    m = row._mapping
    return ReservationEntry(
        id=m["id"],
        code=m["code"],
        activity_id=m["activity_id"],
        user_id=m["user_id"],
        date=m["date"],
        store=m["store"],
        purchase=m["purchase"],
        status=m["status"],
        reserved_at=_at(m["created_at_ms"]) or datetime.min,
        changed_at=_at(m["changed_at_ms"]),
        changed_by=m["actor"],
    )


async def search(
    engine: AsyncEngine, activity_id: int | None, criteria: Search, limit: int, below: int | None
) -> list[ReservationEntry]:
    query = _query(activity_id, criteria).limit(limit)
    if below is not None:
        query = query.where(reservations.c.id < below)
    async with engine.connect() as conn:
        return [_entry(row) for row in (await conn.execute(query)).all()]


async def of_member(engine: AsyncEngine, user_id: str) -> list[ReservationEntry]:
    """The member's latest 50 reservations, of every activity (the member lookup)."""
    return await search(engine, None, Search(member=user_id), 50, None)


CSV_FIELDS = ("code", "activity_id", "user_id", "date", "store", "purchase", "status", "reserved_at", "changed_at")


async def _csv(engine: AsyncEngine, activity_id: int, criteria: Search) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    below: int | None = None
    while True:  # a page at a time: memory stays flat whatever the number of reservations
        rows = await search(engine, activity_id, criteria, 1000, below)
        for entry in rows:
            values = msgspec.to_builtins(entry)
            writer.writerow([values[f] if values[f] is not None else "" for f in CSV_FIELDS])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < 1000:
            return
        below = rows[-1].id


class CsvStream(Stream):
    """A stream whose own media type wins (Litestar would put the handler's, JSON, first)."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        return super().to_asgi_response(*args, **{**kwargs, "media_type": self.media_type})


Text = Annotated[str | None, QueryParameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@|-]+$")]
Day = Annotated[str | None, QueryParameter(pattern=r"^\d{4}-\d{2}-\d{2}$")]
StatusFilter = Annotated[Literal["reserved", "cancelled", "redeemed", "expired"] | None, QueryParameter()]
Format = Annotated[Literal["json", "csv"], QueryParameter()]


@get(
    "/operator/activities/{activity_id:int}/reservations",
    dependencies={"operator": Provide(provide_operator)},
    opt={"activity": "any"},
)
async def list_reservations(
    request: Request[Any, Any, Any],
    operator: NamedDependency[Identity],
    activity_id: Id,
    code: Text = None,
    member: Text = None,
    date: Day = None,
    store: Text = None,
    status: StatusFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    format: Format = "json",
) -> Page[ReservationEntry] | Stream:
    """An activity's reservations, newest first, searched by `code`, `member`, `date`, `store`,
    `status`; a page at a time, or `?format=csv`: every match as CSV, streamed."""
    engine = platform_of(request).engine
    criteria = Search(code=code, member=member, date=date, store=store, status=status)
    if format == "csv":
        return CsvStream(
            _csv(engine, activity_id, criteria),
            media_type="text/csv",  # Litestar adds "; charset=utf-8"
            headers={"Content-Disposition": f'attachment; filename="reservations-{activity_id}.csv"'},
        )
    after = decode_cursor(cursor, (int,))
    rows = await search(engine, activity_id, criteria, limit + 1, int(after[0]) if after else None)
    items, next_cursor = cut(rows, limit, lambda e: (e.id,))
    return Page(items=items, next_cursor=next_cursor)
