"""Drafts and the campaign workflow (issue 13): an activity's spec read back from what is stored
(to edit, clone or save as a template), a draft replaced in place or deleted, activity lists
filtered, templates, the calendar, and a live activity's end time extended.

Editing reuses each gameplay's own `create` (the same validation as a create): the route sets
`EDITING` to the draft's id and calls the gameplay's `create` with the new spec; the kernel's
`create_draft` then replaces that draft in one transaction instead of inserting a new one. No
code here knows one gameplay from another: a gameplay's own settings are its spec's fields
beyond the kernel's, read back from what its view section loads (a lottery's prizes and limits)
or from the activity's `config`; its own rows are rewritten by the `write` its `create` passes.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import db
from activities.clock import to_ms
from activities.errors import conflict
from activities.model import Activity, ActivityBase
from activities.repository import WriteRows

# The draft a gameplay's `create` replaces (set by the PATCH route around the call), or None.
EDITING: ContextVar[int | None] = ContextVar("promo_editing_draft", default=None)

_SHARED = {"type", "name", "starts_at", "ends_at", "timezone", "skin", "audience", "experiment"}


def spec_dict(activity: Activity, spec: type[ActivityBase], loaded: Any = None) -> dict[str, Any]:
    """The activity as its gameplay's create body (JSON-ready): the fields `spec` has. `loaded`
    is what the gameplay's view section loads for it (a lottery with its prizes and limits); a
    spec field it has is read from it (shaped to the spec: a stored prize's id is left out),
    any other field of the gameplay's is its `config`."""
    loaded = activity if loaded is None else loaded
    found: dict[str, Any] = {
        "type": activity.type,
        "name": activity.name,
        "starts_at": activity.starts_at.astimezone(activity.tz).isoformat(),
        "ends_at": activity.ends_at.astimezone(activity.tz).isoformat(),
        "timezone": activity.timezone,
        "skin": activity.skin,
        "audience": msgspec.to_builtins(activity.audience),
        "experiment": msgspec.to_builtins(activity.experiment),  # A/B variants (activities/experiment.py)
    }
    for info in msgspec.inspect.type_info(spec).fields:  # type: ignore[attr-defined]
        if info.name in _SHARED:
            continue
        if hasattr(loaded, info.name):
            found[info.name] = _shaped(msgspec.to_builtins(getattr(loaded, info.name)), info.type)
        else:
            found[info.name] = activity.config
    return found


def _shaped(value: Any, kind: msgspec.inspect.Type) -> Any:
    """`value` (builtins) with only the fields the spec's type `kind` has, None fields dropped."""
    if isinstance(kind, msgspec.inspect.UnionType):
        structs = [t for t in kind.types if isinstance(t, msgspec.inspect.StructType)]
        return _shaped(value, structs[0]) if structs and isinstance(value, dict) else value
    if isinstance(kind, msgspec.inspect.ListType) and isinstance(value, list):
        return [_shaped(item, kind.item_type) for item in value]
    if isinstance(kind, msgspec.inspect.StructType) and isinstance(value, dict):
        fields = {f.name: f.type for f in kind.fields}
        return {k: _shaped(v, fields[k]) for k, v in value.items() if k in fields and v is not None}
    return value


async def replace(
    engine: AsyncEngine,
    activity_id: int,
    spec: ActivityBase,
    type_: str,
    operator_id: str,
    now_ms: int,
    config: dict[str, Any] | None,
    *,
    columns: dict[str, Any] | None = None,
    write: WriteRows | None = None,
) -> None:
    """The draft `activity_id` becomes `spec` (validated by its gameplay), in one transaction:
    the kernel's fields, the gameplay's `columns` and `config`, and its own rows rewritten by
    `write` (which replaces what the draft had); 409 `not_a_draft` if it was published meanwhile."""
    table = db.activities
    async with engine.begin() as conn:
        result = await conn.execute(
            sa.update(table)
            .where(table.c.id == activity_id, table.c.status == "draft")
            .values(
                type=type_,
                name=spec.name,
                starts_at_ms=to_ms(spec.starts_at),
                ends_at_ms=to_ms(spec.ends_at),
                timezone=spec.timezone,
                skin=spec.skin,
                audience=msgspec.to_builtins(spec.audience),
                config=config,
                experiment=msgspec.to_builtins(spec.experiment) if spec.experiment else None,
                **(columns or {}),
                updated_at_ms=now_ms,
            )
        )
        if result.rowcount != 1:
            raise not_a_draft()
        if write is not None:
            await write(conn, activity_id)
        await _log(conn, activity_id, operator_id, "edit", {"name": spec.name}, now_ms)


async def delete(engine: AsyncEngine, activity_id: int, operator_id: str, now_ms: int) -> None:
    """A draft and the rows its gameplay keeps for it (a lottery's prizes: the tables whose
    foreign key names the activity); 409 `not_a_draft` otherwise."""
    async with engine.begin() as conn:
        status = (
            await conn.execute(sa.select(db.activities.c.status).where(db.activities.c.id == activity_id))
        ).first()
        if status is None or status[0] != "draft":
            raise not_a_draft()
        for owned in reversed(db.metadata.sorted_tables):  # children first
            for fk in owned.foreign_keys:
                if fk.column.table is db.activities:
                    await conn.execute(owned.delete().where(fk.parent == activity_id))
        await conn.execute(db.activities.delete().where(db.activities.c.id == activity_id))
        await _log(conn, activity_id, operator_id, "delete", {}, now_ms)


async def extend(engine: AsyncEngine, activity_id: int, ends_at: datetime, operator_id: str, now_ms: int) -> None:
    """A later end time for a live or paused activity (SQL; the caller updates Redis)."""
    table = db.activities
    async with engine.begin() as conn:
        row = (await conn.execute(sa.select(table.c.status, table.c.ends_at_ms).where(table.c.id == activity_id))).one()
        if row.status not in ("live", "paused"):
            raise conflict(
                "activity_not_live", "only a live or paused activity's end time is extended", status=row.status
            )
        if to_ms(ends_at) <= row.ends_at_ms:
            raise conflict("end_not_later", "the new end time must be later than the current one", field="ends_at")
        await conn.execute(
            sa.update(table).where(table.c.id == activity_id).values(ends_at_ms=to_ms(ends_at), updated_at_ms=now_ms)
        )
        await _log(conn, activity_id, operator_id, "extend", {"ends_at_ms": to_ms(ends_at)}, now_ms)


def not_a_draft() -> Exception:
    return conflict("not_a_draft", "only a draft can be edited or deleted (clone it to change a published one)")


async def _log(conn: Any, activity_id: int, operator_id: str, action: str, detail: Any, now_ms: int) -> None:
    await conn.execute(
        sa.insert(db.operator_actions).values(
            activity_id=activity_id, operator_id=operator_id, action=action, detail=detail, at_ms=now_ms
        )
    )


def filters(
    status: str | None = None,
    type_: str | None = None,
    q: str | None = None,
    starts_from: datetime | None = None,
    ends_before: datetime | None = None,
) -> list[sa.ColumnElement[bool]]:
    """Conditions on the activities table: the status, the type, a text in the name (any case),
    a window that overlaps [starts_from, ends_before)."""
    table = db.activities
    where: list[sa.ColumnElement[bool]] = []
    if status:
        where.append(table.c.status == status)
    if type_:
        where.append(table.c.type == type_)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(table.c.name.ilike(f"%{escaped}%", escape="\\"))
    if starts_from is not None:
        where.append(table.c.ends_at_ms > to_ms(starts_from))
    if ends_before is not None:
        where.append(table.c.starts_at_ms < to_ms(ends_before))
    return where


async def filtered_ids(
    engine: AsyncEngine, where: list[sa.ColumnElement[bool]], limit: int, below: int | None
) -> list[int]:
    """Activity ids matching `where`, newest first, `limit` of them below the id `below`."""
    table = db.activities
    query = sa.select(table.c.id).where(*where).order_by(table.c.id.desc()).limit(limit)
    if below is not None:
        query = query.where(table.c.id < below)
    async with engine.connect() as conn:
        return [int(r[0]) for r in (await conn.execute(query)).all()]


def moment(day: date | None) -> datetime | None:
    """The start of a query's day in Asia/Shanghai (the console's and the calendar's zone)."""
    return None if day is None else datetime.combine(day, time(), ZoneInfo("Asia/Shanghai"))


def month_bounds(month: str, tz: Any) -> tuple[datetime, datetime]:
    year, number = (int(p) for p in month.split("-"))
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)
