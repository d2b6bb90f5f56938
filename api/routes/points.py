"""Member points: players read their balance and ledger; operators grant points."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from activities.auth import SUBJECT, Identity
from activities.errors import invalid
from activities.pages import Page
from activities.points import Balance, PointsEntry
from api.body import check_idempotency_key, decode
from api.params import Cursor, Limit
from api.security import platform_of, provide_operator, provide_player


class Grant(msgspec.Struct, forbid_unknown_fields=True):
    amount: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
    reason: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")] = "operator_grant"


class GrantResult(msgspec.Struct):
    user_id: str
    balance: int
    replayed: bool


@get("/me/points", dependencies={"player": Provide(provide_player)})
async def my_points(request: Request[Any, Any, Any], player: NamedDependency[Identity]) -> Balance:
    balance = await platform_of(request).points.balance(player.subject)
    return Balance(user_id=player.subject, balance=balance)


@get("/me/points/history", dependencies={"player": Provide(provide_player)})
async def my_points_history(
    request: Request[Any, Any, Any],
    player: NamedDependency[Identity],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[PointsEntry]:
    """The ledger from the SQL audit trail (a change shows up once the writer has written it),
    newest first, a page at a time: pass `next_cursor` back as `?cursor=`."""
    return await platform_of(request).points.history(player.subject, limit, cursor)


@post("/operator/members/{user_id:str}/points", dependencies={"operator": Provide(provide_operator)})
async def grant_points(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], user_id: FromPath[str]
) -> GrantResult:
    """Grant points to a member, once per Idempotency-Key."""
    if not SUBJECT.match(user_id):
        raise invalid("invalid_member_id", "member ids are 1-64 of letters, digits, _ . @ -")
    key = check_idempotency_key(request.headers.get("idempotency-key"))
    grant = decode(await request.body(), Grant)
    ref = f"grant:{operator.subject}:{user_id}:{key}"  # a key is scoped to the operator and member
    reply = await platform_of(request).points.credit(user_id, grant.amount, ref, grant.reason)
    assert reply.balance is not None
    return GrantResult(user_id=user_id, balance=reply.balance, replayed=reply.kind == "replay")
