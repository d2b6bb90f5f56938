"""Console pages of the day-to-day work: the member lookup, the action log (the reservation
pages are the reservation gameplay's: reservation/console_pages.py)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.params import FromQuery

from activities import action_log
from activities.auth import SUBJECT
from activities.errors import PromoError
from activities.pages import cut, decode_cursor
from api.routes.members import member_lookup
from api.security import platform_of
from console.web import gate, render


def _clean(value: str | None, size: int = 64) -> str | None:
    value = (value or "").strip()[:size]
    return value or None


def _below(cursor: str | None) -> int | None:
    try:
        after = decode_cursor(cursor or None, (int,))
    except PromoError:
        return None
    return int(after[0]) if after else None


@get("/console/members", include_in_schema=False)
async def member_page(request: Request[Any, Any, Any], user: FromQuery[str | None] = None) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    user = _clean(user)
    found = None
    if user and SUBJECT.match(user):
        found = msgspec.to_builtins(await member_lookup.fn(request, None, user))
    return render(request, "member.html", session, user=user or "", member=found)


@get("/console/log", include_in_schema=False)
async def log_page(
    request: Request[Any, Any, Any],
    account: FromQuery[str | None] = None,
    activity: FromQuery[str | None] = None,
    action: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    activity_id = int(activity) if activity and activity.isdigit() and len(activity) < 10 else None
    account, action = _clean(account), _clean(action, 30)
    rows = await action_log.entries(
        platform_of(request).engine,
        51,
        (b,) if (b := _below(cursor)) else None,
        account=account,
        activity_id=activity_id,
        action=action,
    )
    items, next_cursor = cut(rows, 50, lambda e: (e.id,))
    query = "&".join(f"{k}={v}" for k, v in (("account", account), ("activity", activity_id), ("action", action)) if v)
    return render(
        request,
        "log.html",
        session,
        items=items,
        next_cursor=next_cursor,
        account_filter=account or "",
        activity=activity_id or "",
        action=action or "",
        query=query,
    )


ROUTES = [member_page, log_page]
