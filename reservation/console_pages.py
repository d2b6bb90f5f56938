"""Console pages of reservations (issue 13): an activity's reservations (search, pages, CSV
export) and the clerk's redemption screen (核销): the code typed or the QR payload pasted, a big
OK or a big refusal with the reason."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.params import FromQuery

from activities.errors import PromoError
from activities.pages import cut, decode_cursor
from api.params import Id
from api.security import platform_of
from console.activity_pages import _activity
from console.web import gate, render
from reservation.back_office import Search, search
from reservation.service import ACTIVITY_TYPE as RESERVATION


def _clean(value: str | None, size: int = 64) -> str | None:
    value = (value or "").strip()[:size]
    return value or None


def _below(cursor: str | None) -> int | None:
    try:
        after = decode_cursor(cursor or None, (int,))
    except PromoError:
        return None
    return int(after[0]) if after else None


@get("/console/activities/{activity_id:int}/reservations", include_in_schema=False)
async def reservations_page(
    request: Request[Any, Any, Any],
    activity_id: Id,
    code: FromQuery[str | None] = None,
    member: FromQuery[str | None] = None,
    date: FromQuery[str | None] = None,
    store: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    activity = await _activity(request, activity_id)
    criteria = Search(
        code=_clean(code, 16),
        member=_clean(member),
        date=_clean(date, 10),
        store=_clean(store, 32),
        status=_clean(status),
    )
    rows = await search(platform_of(request).engine, activity_id, criteria, 51, _below(cursor))
    items, next_cursor = cut(rows, 50, lambda e: (e.id,))
    query = "&".join(f"{k}={v}" for k, v in msgspec.structs.asdict(criteria).items() if v)
    return render(
        request,
        "reservations.html",
        session,
        activity=activity,
        items=items,
        next_cursor=next_cursor,
        criteria=criteria,
        query=query,
    )


@get("/console/redeem", include_in_schema=False)
async def redeem_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """The clerk's screen: pick the activity (live reservations), type the code or paste the QR
    payload; the answer is a big OK or a big refusal with the reason (console.js)."""
    session = await gate(request)
    if isinstance(session, Response):
        return session
    platform = platform_of(request)
    ids = await platform.activities.repository.list_ids(statuses=["live"], types=[RESERVATION])
    activities = [await platform.activities.get(i) for i in ids]
    stores: list[str] = list(session.account.stores)
    if not stores:
        for activity in activities:
            stores += [s["id"] for s in (activity.config.get("stores") or []) if s["id"] not in stores]
    return render(request, "redeem.html", session, activities=activities, stores=stores)


ROUTES = [reservations_page, redeem_page]
