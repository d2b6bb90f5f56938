"""Member lookup for customer service (issue 13): a member's points balance and history, draws
and wins, and every gameplay's own records (sign-ins, initiatives, reservations: each gameplay's
`member` hook in the registry)."""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa
from litestar import Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from activities import db, listing
from activities.auth import SUBJECT, Identity
from activities.errors import invalid
from activities.points import PointsEntry
from activities.repository import DrawRow
from api.gameplays import GAMEPLAYS
from api.security import platform_of, provide_operator


class Member(msgspec.Struct):
    user_id: str
    points_balance: int
    points_history: list[PointsEntry]  # newest first, the latest 20
    draws_total: int
    wins_total: int  # draws that won a prize other than the consolation
    draws: list[DrawRow]  # newest first, the latest 20
    gameplays: dict[str, Any]  # gameplay name -> its records of the member (sign-ins, initiatives...)


async def _totals(request: Request[Any, Any, Any], user_id: str) -> tuple[int, int]:
    d, p = db.draws, db.prizes
    query = (
        sa.select(sa.func.count(), sa.func.count(sa.case((p.c.type != "thanks", 1))))
        .select_from(d.outerjoin(p, p.c.id == d.c.prize_id))
        .where(d.c.user_id == user_id)
    )
    async with platform_of(request).engine.connect() as conn:
        row = (await conn.execute(query)).one()
    return int(row[0]), int(row[1])


@get("/operator/members/{user_id:str}", dependencies={"operator": Provide(provide_operator)})
async def member_lookup(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], user_id: FromPath[str]
) -> Member:
    """Everything the platform knows of a member, for a customer-service question."""
    if not SUBJECT.match(user_id):
        raise invalid("invalid_member_id", "member ids are 1-64 of letters, digits, _ . @ -")
    platform = platform_of(request)
    history = await platform.points.history(user_id, 20, None)
    draws = await listing.draws_of(platform.engine, None, user_id, 20, None)
    total, wins = await _totals(request, user_id)
    sections = {g.name: await g.member(platform.engine, user_id) for g in GAMEPLAYS if g.member is not None}
    return Member(
        user_id=user_id,
        points_balance=await platform.points.balance(user_id),
        points_history=history.items,
        draws_total=total,
        wins_total=wins,
        draws=[row for _, row in draws],
        gameplays=sections,
    )
