"""A member's draws as the back office's member lookup shows them (issue 13)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from lottery.db import draws, prizes


async def of_member(engine: AsyncEngine, user_id: str) -> list[dict[str, Any]]:
    """The member's latest 20 draws and grants, newest first, with the prize and whether it won."""
    d, p = draws, prizes
    query = (
        sa.select(
            d.c.activity_id,
            d.c.draw_id,
            d.c.kind,
            d.c.prize_id,
            p.c.name.label("prize"),
            (p.c.type != "thanks").label("won"),
            d.c.drawn_at_ms,
        )
        .select_from(d.outerjoin(p, p.c.id == d.c.prize_id))
        .where(d.c.user_id == user_id)
        .order_by(d.c.drawn_at_ms.desc(), d.c.id.desc())
        .limit(20)
    )
    async with engine.connect() as conn:
        return [{str(k): v for k, v in row._mapping.items()} for row in (await conn.execute(query)).all()]
