"""The operator action log (issue 13): every operator request that changes something, or tries
to, with the account, its role, the route and the answer's status; logins and logouts too.
Written after the answer (api/action_log.py), read newest first with filters."""

from __future__ import annotations

import re

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.accounts_db import operator_log
from activities.pages import Key


class LogEntry(msgspec.Struct, kw_only=True):
    id: int
    at_ms: int
    account: str
    role: str
    action: str
    method: str
    endpoint: str
    path: str
    activity_id: int | None
    status: int
    via: str


_NUMBER = re.compile(r"^\d+$")
_VERBS = {"POST": "create", "PATCH": "edit", "DELETE": "delete", "PUT": "replace"}


def action_of(method: str, endpoint: str, path: str) -> str:
    """A short name for what the request did: the last literal segment of the route (publish,
    clone, stock, redemptions, points...), or the method's verb on a collection or an item."""
    segments = [s for s in path.strip("/").split("/") if s]
    route = [s for s in endpoint.strip("/").split("/") if s]
    if route and route[-1] in ("{action}",) and segments:
        return segments[-1][:30]
    if route and not route[-1].startswith("{") and route[-1] != "activities":
        return route[-1][:30]
    return _VERBS.get(method, method.lower())


async def record(engine: AsyncEngine, entry: LogEntry) -> None:
    values = msgspec.structs.asdict(entry)
    del values["id"]
    async with engine.begin() as conn:
        await conn.execute(sa.insert(operator_log).values(**values))


async def entries(
    engine: AsyncEngine,
    limit: int,
    after: Key | None,
    *,
    account: str | None = None,
    activity_id: int | None = None,
    action: str | None = None,
) -> list[LogEntry]:
    """Newest first, `limit` of them below the keyset `after` = (id,)."""
    table = operator_log
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    if after is not None:
        query = query.where(table.c.id < after[0])
    if account:
        query = query.where(table.c.account == account)
    if activity_id is not None:
        query = query.where(table.c.activity_id == activity_id)
    if action:
        query = query.where(table.c.action == action)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [msgspec.convert({str(k): v for k, v in r._mapping.items()}, LogEntry) for r in rows]
