"""Activity templates (issue 13): an activity's create body saved under a name, to start new
drafts from (with their own dates)."""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.accounts_db import activity_templates
from activities.errors import not_found


class Template(msgspec.Struct, kw_only=True):
    id: int
    name: str
    type: str
    spec: dict[str, Any]  # the create body (its dates are replaced when a draft is made from it)
    source_activity_id: int | None
    created_by: str
    created_at_ms: int


async def save(
    engine: AsyncEngine, name: str, spec: dict[str, Any], source: int | None, operator_id: str, now_ms: int
) -> Template:
    values = {
        "name": name,
        "type": spec["type"],
        "spec": spec,
        "source_activity_id": source,
        "created_by": operator_id,
        "created_at_ms": now_ms,
    }
    async with engine.begin() as conn:
        result = await conn.execute(sa.insert(activity_templates).values(**values))
        assert result.inserted_primary_key is not None
        template_id = int(result.inserted_primary_key[0])
    return Template(id=template_id, **values)


async def all_templates(engine: AsyncEngine) -> list[Template]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(activity_templates).order_by(activity_templates.c.id.desc()))).all()
    return [_template(r._mapping) for r in rows]


async def get(engine: AsyncEngine, template_id: int) -> Template:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(activity_templates).where(activity_templates.c.id == template_id))).first()
    if row is None:
        raise not_found("template_not_found", f"no template {template_id}")
    return _template(row._mapping)


def _template(row: Any) -> Template:
    return msgspec.convert({str(k): v for k, v in row.items()}, Template)
