"""The SQL audit trail as operators and QA query it: is an acknowledged action there, once?"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency, Provide

from activities.auth import Identity
from activities.model import SAFE_TEXT
from api.body import decode
from api.params import IdFilter, Limit
from api.security import platform_of, provide_operator

AuditKind = Literal[
    "draw",
    "points",
    "mark",
    "initiative",
    "help",
    "reservation",
    "reservation_change",
    "gift",
    "task_claim",
    "quiz_session",
]
AuditId = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=SAFE_TEXT)]


class Lookup(msgspec.Struct, forbid_unknown_fields=True):
    kind: AuditKind
    ids: Annotated[list[AuditId], msgspec.Meta(min_length=1, max_length=1000)]


class LookupResult(msgspec.Struct):
    kind: str
    rows: dict[str, int]  # id -> rows in SQL: 1 when written once, 0 when missing


@post("/operator/audit/lookup", status_code=200, dependencies={"operator": Provide(provide_operator)})
async def audit_lookup(request: Request[Any, Any, Any], operator: NamedDependency[Identity]) -> LookupResult:
    """How many rows of the SQL audit trail hold each id: draw ids, wallet refs, sign-in mark
    ids, initiative and help ids, reservation codes (made, changed). Up to 1,000 ids a call."""
    lookup = decode(await request.body(), Lookup)
    return LookupResult(kind=lookup.kind, rows=await platform_of(request).audit_lookup(lookup.kind, lookup.ids))


class DeadLetter(msgspec.Struct):
    stream: str
    entry_id: str
    activity_id: int | None
    fields: dict[str, str]
    error: str
    at_ms: int


class Quarantine(msgspec.Struct):
    entries: list[DeadLetter]  # newest first


@get("/operator/audit/quarantine", dependencies={"operator": Provide(provide_operator)})
async def audit_quarantine(
    request: Request[Any, Any, Any],
    operator: NamedDependency[Identity],
    activity: IdFilter = None,
    limit: Limit = 100,
) -> Quarantine:
    """Stream entries the audit writer could not write to SQL (moved to the dead-letter table
    with the error, so that they do not block the stream), newest first."""
    rows = await platform_of(request).activities.repository.dead_letters(limit, activity)
    return Quarantine(entries=[msgspec.convert(row, DeadLetter, strict=False) for row in rows])
