"""Member lookup for customer service (issue 13): a member's points balance and history, and
every gameplay's own records (each gameplay's `member` hook in the registry: a lottery's draws
and wins, sign-ins, initiatives, reservations)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from activities.auth import SUBJECT, Identity
from activities.errors import invalid
from activities.points import PointsEntry
from api.gameplays import GAMEPLAYS
from api.security import platform_of, provide_operator


class Member(msgspec.Struct):
    user_id: str
    points_balance: int
    points_history: list[PointsEntry]  # newest first, the latest 20
    gameplays: dict[str, Any]  # gameplay name -> its records of the member (draws, sign-ins, initiatives...)


@get(
    "/operator/members/{user_id:str}",
    dependencies={"operator": Provide(provide_operator)},
    opt={"errors": ("invalid_member_id",)},
)
async def member_lookup(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], user_id: FromPath[str]
) -> Member:
    """Everything the platform knows of a member, for a customer-service question."""
    if not SUBJECT.match(user_id):
        raise invalid("invalid_member_id", "member ids are 1-64 of letters, digits, _ . @ -")
    platform = platform_of(request)
    history = await platform.points.history(user_id, 20, None)
    sections = {g.name: await g.member(platform.engine, user_id) for g in GAMEPLAYS if g.member is not None}
    return Member(
        user_id=user_id,
        points_balance=await platform.points.balance(user_id),
        points_history=history.items,
        gameplays=sections,
    )
