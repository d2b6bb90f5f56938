"""Member points: players read their balance and ledger; operators grant points."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from activities.auth import SUBJECT, Identity
from activities.errors import invalid
from activities.pages import Page
from activities.points import Balance, PointsEntry
from api.lookup import idempotency_key
from api.params import Cursor, Limit
from api.security import platform_of, provide_operator, provide_player


class Grant(msgspec.Struct, forbid_unknown_fields=True):
    amount: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
    reason: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")] = "operator_grant"


class GrantResult(msgspec.Struct):
    user_id: str
    balance: int
    replayed: bool


class PointsController(Controller):
    """Member wallets: the metrics' gameplay label of the grant is `points` (api/telemetry.py)."""

    path = "/"
    tags = ["points"]  # noqa: RUF012 (Litestar's class attribute)
    opt = {"gameplay": "points"}  # noqa: RUF012

    @get("/me/points", dependencies={"player": Provide(provide_player)}, opt={"errors": ("wallet_loading",)})
    async def my_points(self, request: Request[Any, Any, Any], player: NamedDependency[Identity]) -> Balance:
        """The member's points balance."""
        balance = await platform_of(request).points.balance(player.subject)
        return Balance(user_id=player.subject, balance=balance)

    @get("/me/points/history", dependencies={"player": Provide(provide_player)}, opt={"errors": ("invalid_cursor",)})
    async def my_points_history(
        self,
        request: Request[Any, Any, Any],
        player: NamedDependency[Identity],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[PointsEntry]:
        """The member's points ledger, newest first.

        From the SQL audit trail (a change shows up once the writer has written it), a page at a
        time: pass `next_cursor` back as `?cursor=` (null: the last page)."""
        return await platform_of(request).points.history(player.subject, limit, cursor)

    @post(
        "/operator/members/{user_id:str}/points",
        dependencies={"operator": Provide(provide_operator)},
        opt={
            "idempotency": True,
            "action": "grant",
            "errors": ("invalid_member_id", "idempotency_key_reused", "wallet_loading"),
        },
    )
    async def grant_points(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        user_id: FromPath[str],
        data: JSONBody[Grant],
    ) -> GrantResult:
        """Grant points to a member, once per Idempotency-Key.

        A retry with the same key (for the same operator and member) returns the first grant with
        `replayed: true`; the same key with another amount is a 422."""
        if not SUBJECT.match(user_id):
            raise invalid("invalid_member_id", "member ids are 1-64 of letters, digits, _ . @ -")
        ref = f"grant:{operator.subject}:{user_id}:{idempotency_key(request)}"  # scoped to the operator and member
        reply = await platform_of(request).points.credit(user_id, data.amount, ref, data.reason)
        assert reply.balance is not None
        return GrantResult(user_id=user_id, balance=reply.balance, replayed=reply.kind == "replay")
