"""What browsers get: CORS for H5 pages on other origins, the docs UI and the demo pages, the last
two from files shipped with the package (api/static/): no CDN, they work offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response
from litestar.config.cors import CORSConfig
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.response import Redirect
from litestar.router import Router
from litestar.static_files import create_static_files_router

STATIC = Path(__file__).parent / "static"
SWAGGER_UI = "/static/swagger-ui"  # api/static/vendor/swagger-ui: swagger-ui-dist from npm, as published

# What a page on an allowed origin may send and read: the headers our endpoints take (the
# bearer token, JSON bodies, idempotency keys, a caller's request id) and the ones it may want
# to read from an answer (the request id to quote to support, when to retry after a 429/503).
CORS_METHODS = ["GET", "POST", "OPTIONS"]
CORS_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"]
CORS_EXPOSED = ["X-Request-Id", "Retry-After"]


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    """Litestar's CORS for the configured origins (PROMO_CORS_ORIGINS); None (no CORS headers at
    all, browsers refuse every other origin) when there are none."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=list(CORS_METHODS),  # type: ignore[arg-type]  # Literal method names
        allow_headers=list(CORS_HEADERS),
        expose_headers=list(CORS_EXPOSED),
        allow_credentials=False,  # bearer tokens, no cookies
        max_age=3600,
    )


def docs_ui() -> list[OpenAPIRenderPlugin]:
    """Swagger UI at /schema/swagger, and at /schema (the first plugin is the default)."""
    return [
        SwaggerRenderPlugin(
            js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            css_url=f"{SWAGGER_UI}/swagger-ui.css",
            standalone_preset_js_url=f"{SWAGGER_UI}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_UI}/favicon-32x32.png'>",
            path="/swagger",
        )
    ]


async def _to_folder(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """/demo -> /demo/, so that the pages' relative links (wheel.html, demo.js) resolve."""
    if request.scope.get("raw_path") == b"/demo":  # the path as sent (Litestar's drops the final "/")
        query = request.scope.get("query_string", b"").decode("latin-1")
        return Redirect(f"/demo/?{query}" if query else "/demo/", status_code=301)
    return None


def static_routers() -> list[Router]:
    """The docs UI's files under /static/swagger-ui/ and the demo H5 pages under /demo/."""
    day = CacheControlHeader(max_age=86400, public=True)
    return [
        create_static_files_router(
            path=SWAGGER_UI, directories=[STATIC / "vendor" / "swagger-ui"], name="swagger-ui", cache_control=day
        ),
        create_static_files_router(
            path="/demo", directories=[STATIC / "demo"], html_mode=True, name="demo", before_request=_to_folder
        ),
    ]
