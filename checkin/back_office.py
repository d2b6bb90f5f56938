"""A member's sign-ins as the back office's member lookup shows them (issue 13)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from checkin.db import checkins


async def of_member(engine: AsyncEngine, user_id: str) -> list[dict[str, Any]]:
    """The member's latest 60 sign-ins and make-ups (its sign-in calendar), newest first."""
    c = checkins
    query = (
        sa.select(c.c.activity_id, c.c.day, c.c.kind, c.c.streak, c.c.cumulative, c.c.at_ms)
        .where(c.c.user_id == user_id)
        .order_by(c.c.at_ms.desc(), c.c.id.desc())
        .limit(60)
    )
    async with engine.connect() as conn:
        return [{str(k): v for k, v in row._mapping.items()} for row in (await conn.execute(query)).all()]
