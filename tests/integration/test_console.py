"""The console (issue 13) in-process: login with the form's CSRF token, the session cookie's
flags, CSRF refused on API changes made with the cookie, lockout, expiry on the injectable
clock, pages by role, every page vendored (no http(s):// in any src or href)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.routes import HTTPRoute

from activities.accounts import MAX_FAILURES, SESSION_MS
from console.web import PAGES
from tests.conftest import Env, wheel

PASSWORD = "correct horse battery"
LINK = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(https?:)?//""", re.I)


async def login(env: Env, username: str, password: str = PASSWORD) -> Any:
    page = await env.client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    return await env.client.post("/console/login", data={"username": username, "password": password, "csrf": token[1]})


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found
    return found[1]


@pytest.fixture
async def accounts(env: Env) -> None:
    await env.platform.accounts.create("admin1", PASSWORD, "admin")
    await env.platform.accounts.create("mk1", PASSWORD, "marketer")
    await env.platform.accounts.create("an1", PASSWORD, "analyst")
    await env.platform.accounts.create("c1", PASSWORD, "clerk", ("S1",))


def test_every_console_page_has_a_rule() -> None:
    from api.app import create_app

    app = create_app()
    paths = {r.path_format for r in app.routes if isinstance(r, HTTPRoute) and r.path_format.startswith("/console")}
    paths.discard("/console/static/{file_path}")
    assert paths <= set(PAGES), paths - set(PAGES)


async def test_console_redirects_to_login(env: Env) -> None:
    response = await env.client.get("/console")
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    page = await env.client.get("/console/login")
    assert page.status_code == 200 and "登录" in page.text
    assert not LINK.search(page.text)


async def test_login_session_cookie_and_csrf(env: Env, accounts: None) -> None:
    response = await login(env, "mk1")
    assert response.status_code == 303 and response.headers["location"] == "/console/activities"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("promo_session="))
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()  # plain http
    page = await env.client.get("/console/activities")
    assert page.status_code == 200 and "还没有活动" in page.text
    assert not LINK.search(page.text)
    token = csrf_of(page.text)
    # the API with the session cookie: a change without the CSRF token is refused, with it accepted
    refused = await env.client.post("/operator/activities", json=wheel())
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    created = await env.client.post("/operator/activities", json=wheel(), headers={"X-CSRF-Token": token})
    assert created.status_code == 201, created.text
    assert (await env.client.get("/operator/activities")).status_code == 200  # reads need no token
    detail = await env.client.get(f"/console/activities/{created.json()['id']}")
    assert "Summer wheel" in detail.text and "发布" in detail.text
    log = await env.client.get("/operator/log?account=mk1")
    assert [e["action"] for e in log.json()["items"]] == ["create", "login"]
    assert log.json()["items"][0]["via"] == "session"
    english = await env.client.get("/console/lang/en?next=/console/activities", follow_redirects=True)
    assert "New wheel" in english.text and "新建大转盘" not in english.text
    await env.client.post("/console/logout", data={"csrf": token})
    assert (await env.client.get("/console/activities")).status_code == 303


async def test_login_form_needs_its_csrf_token(env: Env, accounts: None) -> None:
    await env.client.get("/console/login")
    response = await env.client.post("/console/login", data={"username": "mk1", "password": PASSWORD, "csrf": "x"})
    assert response.status_code == 403 and "promo_session" not in response.headers.get("set-cookie", "")


async def test_login_lockout(env: Env, accounts: None) -> None:
    for _ in range(MAX_FAILURES):
        response = await login(env, "mk1", "wrong password!")
        assert response.status_code == 401 and "用户名或密码错误" in response.text
    response = await login(env, "mk1")
    assert response.status_code == 403 and "锁定" in response.text


async def test_session_expires_with_the_clock(env: Env, accounts: None) -> None:
    await login(env, "an1")
    assert (await env.client.get("/console/activities")).status_code == 200
    env.clock.advance(milliseconds=SESSION_MS)
    response = await env.client.get("/console/activities")
    assert response.status_code == 303 and response.headers["location"] == "/console/login?expired=1"
    assert (await env.client.get("/operator/activities")).json()["code"] == "session_expired"


async def test_pages_by_role(env: Env, accounts: None) -> None:
    await login(env, "c1")
    form = await env.client.get("/console/activities/new")
    assert form.status_code == 403 and "无权" in form.text
    assert (await env.client.get("/console/activities")).status_code == 403
    assert (await env.client.get("/console/redeem")).status_code == 200
    env.client.cookies.clear()
    await login(env, "an1")
    assert (await env.client.get("/console/activities/new")).status_code == 403
    assert (await env.client.get("/console/log")).status_code == 200
    assert (await env.client.get("/console/members?user=u1")).status_code == 200
    assert (await env.client.get("/console/calendar")).status_code == 200


async def test_dashboard_fragment(env: Env, accounts: None) -> None:
    from api import refusals

    refusals.reset()  # counted per process: earlier tests' activity 1 was another one
    activity = await env.create(wheel())
    for _ in range(2):
        await env.draw(activity["id"])
    await env.draw(activity["id"], user="u1")  # the third of the day: allowed (3 a day)
    refused = await env.draw(activity["id"], user="u1")
    assert refused.json()["code"] == "user_daily_limit"
    await env.platform.audit_writer.drain()
    await login(env, "an1")
    fragment = await env.client.get(f"/console/activities/{activity['id']}/dashboard")
    assert fragment.status_code == 200
    assert 'data-figure="draws_total">3<' in fragment.text
    assert "user_daily_limit" in fragment.text
    assert '"counts":[' in fragment.text


async def test_json_form_for_gameplays_without_prizes_and_templates(env: Env, accounts: None) -> None:
    from tests.conftest import checkin_spec

    draft = await env.create(checkin_spec(), publish=False)
    await login(env, "mk1")
    edit = await env.client.get(f"/console/activities/{draft['id']}/edit")
    assert edit.status_code == 200 and 'id="json-form"' in edit.text and "&#34;checkin&#34;" in edit.text
    new = await env.client.get("/console/activities/new?kind=reservation")
    assert 'id="json-form"' in new.text and "&#34;reservation&#34;: {}" in new.text
    wheel_form = await env.client.get("/console/activities/new")
    assert 'id="wheel-form"' in wheel_form.text
    token = csrf_of(wheel_form.text)
    saved = await env.client.post(
        f"/operator/activities/{draft['id']}/template", json={"name": "Weekly sign-in"}, headers={"X-CSRF-Token": token}
    )
    assert saved.status_code == 201, saved.text
    listed = await env.client.get("/console/activities")
    assert "Weekly sign-in (checkin)" in listed.text
