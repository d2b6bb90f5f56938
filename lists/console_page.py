"""The console page of audience lists (/console/lists): the lists with their kind and size, a form
to upload a CSV file as a new allow or deny list, a lookup of one member on a list, and deletion.
Changes go through the operator API (POST /operator/lists, DELETE /operator/lists/{id}, the
membership GET: console/static/lists.js), so the console checks exactly what the API checks."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromQuery

from activities.errors import PromoError
from api.security import platform_of
from console.web import gate, render


@get("/console/lists", include_in_schema=False)
async def lists_page(request: Request[Any, Any, Any], cursor: FromQuery[str | None] = None) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    service = platform_of(request).lists
    try:
        page = await service.page(50, cursor)
    except PromoError:  # a cursor of another list: start again
        page = await service.page(50, None)
    return render(request, "lists.html", session, lists=page.items, next_cursor=page.next_cursor)


ROUTES = [lists_page]
