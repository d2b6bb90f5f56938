"""What browsers get: CORS for the configured origins only, the docs UI and the demo pages from
files shipped with the package (nothing from a CDN)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import AsyncIterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.config import cors_origins
from api.app import create_app
from api.frontend import STATIC
from tests.conftest import Env, wheel

ALLOWED = "https://h5.brand.example"
REFUSED = "https://evil.example"
DRAW_HEADERS = "authorization, content-type, idempotency-key"


@pytest.fixture
async def cors_client(env: Env) -> AsyncIterator[httpx.AsyncClient]:
    """The app of `env` with PROMO_CORS_ORIGINS set to ALLOWED (and a second origin)."""
    settings = dataclasses.replace(env.platform.settings, cors_origins=(ALLOWED, "http://localhost:5173"))
    app: Any = create_app(dataclasses.replace(env.platform, settings=settings))  # same Redis, SQL, services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


def test_origins_are_read_as_browsers_send_them() -> None:
    assert cors_origins("") == ()
    assert cors_origins(" , ") == ()
    assert cors_origins(" https://a.example/ ,https://b.example:8443") == (
        "https://a.example",
        "https://b.example:8443",
    )


def preflight(origin: str, method: str = "POST", headers: str = DRAW_HEADERS) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


async def test_a_preflight_from_an_allowed_origin_lists_methods_and_headers(cors_client: httpx.AsyncClient) -> None:
    answer = await cors_client.options("/activities/1/draws", headers=preflight(ALLOWED))
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert "Origin" in answer.headers["vary"]
    methods = {m.strip() for m in answer.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST"} <= methods
    assert not methods & {"PUT", "DELETE", "PATCH"}  # the API has none
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "x-request-id"} <= allowed
    assert int(answer.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in answer.headers  # bearer tokens, no cookies


async def test_a_preflight_from_another_origin_is_refused(cors_client: httpx.AsyncClient) -> None:
    answer = await cors_client.options("/activities/1/draws", headers=preflight(REFUSED))
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    # An allowed origin asking for a method or a header the API does not take is refused too.
    for refused in (preflight(ALLOWED, method="DELETE"), preflight(ALLOWED, headers="x-secret-header")):
        answer = await cors_client.options("/activities/1/draws", headers=refused)
        assert answer.status_code == 400
        assert "access-control-allow-origin" not in answer.headers


async def test_real_requests_carry_cors_headers_for_allowed_origins_only(
    env: Env, cors_client: httpx.AsyncClient
) -> None:
    activity = await env.create(wheel())
    headers = {**env.player(), "Idempotency-Key": "cors-1", "Origin": ALLOWED}
    drawn = await cors_client.post(f"/activities/{activity['id']}/draws", json={"channel": "h5"}, headers=headers)
    assert drawn.status_code == 201, drawn.text
    assert drawn.headers["access-control-allow-origin"] == ALLOWED
    exposed = {h.strip().lower() for h in drawn.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after"} <= exposed

    # An error answer is readable by the allowed page too (so it can show the code).
    limited = await cors_client.post(f"/activities/{activity['id']}/draws", headers={**headers, "Idempotency-Key": ""})
    assert limited.status_code == 400
    assert limited.json()["code"] == "idempotency_key_required"
    assert limited.headers["access-control-allow-origin"] == ALLOWED

    # Another origin's page: the server answers, but without Access-Control-Allow-Origin the
    # browser keeps the answer from the page.
    public = await cors_client.get(f"/activities/{activity['id']}", headers={"Origin": REFUSED})
    assert public.status_code == 200
    assert "access-control-allow-origin" not in public.headers


async def test_without_configured_origins_there_are_no_cors_headers(env: Env) -> None:
    assert env.platform.settings.cors_origins == ()
    answer = await env.client.options("/activities/1/draws", headers=preflight(ALLOWED))
    assert "access-control-allow-origin" not in answer.headers
    answer = await env.client.get("/health", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in answer.headers


EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


async def test_the_docs_ui_is_served_from_the_package(env: Env) -> None:
    for path in ("/schema", "/schema/swagger"):
        page = await env.client.get(path)
        assert page.status_code == 200
        assert "SwaggerUIBundle" in page.text
        assert not EXTERNAL.search(page.text), "the docs UI must not load anything from another site"
        assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", page.text)
        assert len(assets) == 4  # bundle, preset, css, favicon
        for asset in assets:
            served = await env.client.get(asset)
            assert served.status_code == 200, asset
            assert len(served.content) > 500
    assert (await env.client.get("/schema/openapi.json")).json()["info"]["title"] == "Promo platform"
    vendor = STATIC / "vendor" / "swagger-ui"
    assert (vendor / "LICENSE").read_text().lstrip().startswith("Apache License")


DEMO_PAGES = ["index.html", "wheel.html", "egg.html", "blindbox.html", "checkin.html", "bargain.html"]
DEMO_PAGES += ["reservation.html"]


async def test_the_demo_pages_are_served_and_self_contained(env: Env) -> None:
    moved = await env.client.get("/demo?activity=1")
    assert moved.status_code == 301
    assert moved.headers["location"].endswith("/demo/?activity=1")  # relative links need the final /
    index = await env.client.get("/demo/")
    assert index.status_code == 200
    for page in DEMO_PAGES:
        html = (await env.client.get(f"/demo/{page}")).text
        assert '<script src="demo.js"></script>' in html, page
        assert not EXTERNAL.search(html), f"{page} loads something from another site"
        assert "width=device-width" in html  # mobile first
        if page != "index.html":
            assert f'href="{page}"' in index.text or f'"{page}"' in index.text, f"{page} is not listed on /demo/"
    for asset in ("demo.js", "demo.css"):
        assert (await env.client.get(f"/demo/{asset}")).status_code == 200


def test_every_static_file_is_package_data() -> None:
    """A wheel built from pyproject.toml carries every file the app serves."""
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["api"]
    files = [path.relative_to(STATIC.parent).as_posix() for path in STATIC.rglob("*") if path.is_file()]
    assert len(files) > 10
    for name in files:
        assert any(fnmatch(name, pattern) for pattern in patterns), f"{name} is not package data"
