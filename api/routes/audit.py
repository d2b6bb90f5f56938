"""The SQL audit trail as operators and QA query it: is an acknowledged action there, once?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from activities.auth import Identity
from activities.model import SAFE_TEXT
from api.params import IdFilter, Limit
from api.platform import AUDIT_IDS
from api.security import platform_of, provide_operator

# What an id is looked up as: the kernel's points ledger and each gameplay's `audit_ids`, from the
# registry (an unknown kind is a 422 naming `kind`; the OpenAPI document lists them as an enum).
if TYPE_CHECKING:
    AuditKind = str
else:
    AuditKind = Literal[tuple(sorted(AUDIT_IDS))]
AuditId = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=SAFE_TEXT)]


class Lookup(msgspec.Struct, forbid_unknown_fields=True):
    kind: AuditKind
    ids: Annotated[list[AuditId], msgspec.Meta(min_length=1, max_length=1000)]


class LookupResult(msgspec.Struct):
    kind: AuditKind
    rows: dict[str, int]  # id -> rows in SQL: 1 when written once, 0 when missing


class DeadLetter(msgspec.Struct):
    stream: str
    entry_id: str
    activity_id: int | None
    fields: dict[str, str]
    error: str
    at_ms: int


class Quarantine(msgspec.Struct):
    entries: list[DeadLetter]  # newest first


class AuditController(Controller):
    """What QA and operators ask the SQL audit trail."""

    path = "/operator/audit"
    tags = ["operations"]  # noqa: RUF012 (Litestar's class attribute)
    dependencies = {"operator": Provide(provide_operator)}  # noqa: RUF012

    @post("/lookup", status_code=200)
    async def audit_lookup(
        self, request: Request[Any, Any, Any], operator: NamedDependency[Identity], data: JSONBody[Lookup]
    ) -> LookupResult:
        """Count the audit trail's rows of each id.

        Is an acknowledged action in SQL, once? Draw ids, wallet refs, sign-in mark ids,
        initiative and help ids, reservation codes (made, changed): up to 1,000 ids a call; 1 per
        id written once, 0 when missing."""
        return LookupResult(kind=data.kind, rows=await platform_of(request).audit_lookup(data.kind, data.ids))

    @get("/quarantine")
    async def audit_quarantine(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        activity: IdFilter = None,
        limit: Limit = 100,
    ) -> Quarantine:
        """List the stream entries the audit writer could not write, newest first.

        Each was moved to the dead-letter table with its error, so that it does not block the
        stream."""
        rows = await platform_of(request).activities.repository.dead_letters(limit, activity)
        return Quarantine(entries=[msgspec.convert(row, DeadLetter, strict=False) for row in rows])
