"""A member's initiatives as the back office's member lookup shows them (issue 13)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from assist.db import assist_helps, assist_initiatives


async def of_member(engine: AsyncEngine, user_id: str) -> list[dict[str, Any]]:
    """The member's latest 50 initiatives with how many friends helped, newest first."""
    i, h = assist_initiatives, assist_helps
    helps = sa.select(sa.func.count()).where(h.c.initiative_id == i.c.initiative_id).scalar_subquery()
    query = (
        sa.select(
            i.c.initiative_id, i.c.activity_id, i.c.needed, i.c.started_at_ms, i.c.deadline_ms, helps.label("helps")
        )
        .where(i.c.initiator == user_id)
        .order_by(i.c.started_at_ms.desc(), i.c.id.desc())
        .limit(50)
    )
    async with engine.connect() as conn:
        return [{str(k): v for k, v in row._mapping.items()} for row in (await conn.execute(query)).all()]
