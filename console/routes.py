"""Every console route, and its static files (htmx, ECharts, the console's own script and
style: no CDN, no build step)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from console import activity_pages, auth_pages, ops_pages
from console.web import STATIC


def routes() -> Sequence[Any]:
    static = create_static_files_router(
        path="/console/static",
        directories=[STATIC],
        name="console-static",
        cache_control=CacheControlHeader(max_age=3600, public=True),
        include_in_schema=False,
    )
    return [*auth_pages.ROUTES, *activity_pages.ROUTES, *ops_pages.ROUTES, static]
