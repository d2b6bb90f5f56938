"""Operator accounts (admin) and the operator action log (issue 13)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from activities import action_log
from activities.accounts import Account, OperatorRole
from activities.auth import Identity
from activities.pages import Page, cut, decode_cursor
from api.body import decode
from api.params import Cursor, IdFilter, Limit
from api.security import platform_of, provide_operator

_operator = {"operator": Provide(provide_operator)}


class NewAccount(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")]
    password: Annotated[str, msgspec.Meta(min_length=10, max_length=200)]
    role: OperatorRole
    stores: Annotated[
        list[Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")]], msgspec.Meta(max_length=100)
    ] = msgspec.field(default_factory=list)


class Accounts(msgspec.Struct):
    items: list[Account]


@get("/operator/accounts", dependencies=_operator, opt={"errors": ()})
async def list_accounts(request: Request[Any, Any, Any], operator: NamedDependency[Identity]) -> Accounts:
    """Every operator account with its role and stores (admin)."""
    return Accounts(items=await platform_of(request).accounts.list())


@post(
    "/operator/accounts",
    dependencies=_operator,
    opt={
        "errors": (
            "account_exists",
            "invalid_role",
            "invalid_username",
            "password_too_short",
            "stores_invalid",
            "stores_required",
        )
    },
)
async def create_account(request: Request[Any, Any, Any], operator: NamedDependency[Identity]) -> Account:
    """A new operator account (admin): {"username", "password" (10+ characters), "role", "stores"}."""
    body = decode(await request.body(), NewAccount)
    return await platform_of(request).accounts.create(body.username, body.password, body.role, tuple(body.stores))


Filter = Annotated[str | None, QueryParameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]


@get("/operator/log", dependencies=_operator, opt={"errors": ("invalid_cursor",)})
async def operator_log(
    request: Request[Any, Any, Any],
    operator: NamedDependency[Identity],
    account: Filter = None,
    activity: IdFilter = None,
    action: Filter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[action_log.LogEntry]:
    """What operators did, newest first, filtered by `account`, `activity` (id) and `action`
    (create, edit, delete, clone, publish, pause, resume, end, stock, redemptions, points, login...)."""
    engine = platform_of(request).engine
    after = decode_cursor(cursor, (int,))
    rows = await action_log.entries(engine, limit + 1, after, account=account, activity_id=activity, action=action)
    items, next_cursor = cut(rows, limit, lambda e: (e.id,))
    return Page(items=items, next_cursor=next_cursor)
