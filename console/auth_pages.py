"""Logging in and out of the console, and the language switch.

The login form has its own CSRF token (a double-submit cookie: a page of another site can
neither read the cookie nor set the field), the session cookie is HttpOnly, SameSite=Lax and
Secure when the request came over TLS (directly or through a trusted proxy)."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from activities.accounts import SESSION_MS
from activities.auth import Identity
from activities.errors import PromoError
from api.action_log import write as log_action
from api.security import SESSION_COOKIE
from console.i18n import LANG_COOKIE, LANGS
from console.web import gate, home_of, render, session_of

LOGIN_CSRF = "promo_login_csrf"


def _cookie(request: Request[Any, Any, Any], key: str, value: str, max_age: int | None) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        path="/",
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


@get("/console", include_in_schema=False)
async def console_home(request: Request[Any, Any, Any]) -> Response[Any]:
    session = await session_of(request)
    return Redirect(home_of(session) if session else "/console/login", status_code=303)


@get("/console/login", include_in_schema=False)
async def login_page(request: Request[Any, Any, Any], expired: FromQuery[bool] = False) -> Response[Any]:
    token = secrets.token_urlsafe(24)
    error = "session_expired" if expired else None
    page = render(request, "login.html", None, login_csrf=token, error=error, username="")
    page.cookies.append(_cookie(request, LOGIN_CSRF, token, 3600))
    return page


@post("/console/login", include_in_schema=False, status_code=303)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await request.form()
    username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:200]
    sent, expected = str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF, "")
    error: str | None = None
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        error = "csrf_failed"
    else:
        platform = request.app.state.platform
        try:
            account = await platform.accounts.authenticate(username, password)
        except PromoError as exc:
            error = exc.code
    if error is not None:
        token = secrets.token_urlsafe(24)
        status = 403 if error in ("csrf_failed", "account_locked") else 401
        page = render(request, "login.html", None, http_status=status, login_csrf=token, error=error, username=username)
        page.cookies.append(_cookie(request, LOGIN_CSRF, token, 3600))
        return page
    token, session = await platform.accounts.open_session(account)
    identity = Identity(subject=account.username, role="operator", operator_role=account.role, via="session")
    await log_action(request.scope, identity, 303, action="login")
    response = Redirect(home_of(session), status_code=303)
    response.cookies.append(_cookie(request, SESSION_COOKIE, token, SESSION_MS // 1000))
    response.cookies.append(_cookie(request, LOGIN_CSRF, "", 0))
    return response


@post("/console/logout", include_in_schema=False, status_code=303)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    session = await gate(request)
    if not isinstance(session, Response):
        form = await request.form()
        if hmac.compare_digest(str(form.get("csrf", "")).encode(), session.csrf.encode()):
            await request.app.state.platform.accounts.close_session(request.cookies.get(SESSION_COOKIE, ""))
            account = session.account
            identity = Identity(subject=account.username, role="operator", operator_role=account.role, via="session")
            await log_action(request.scope, identity, 303, action="logout")
        else:
            return render(request, "forbidden.html", session, http_status=403, error="csrf_failed")
    response = Redirect("/console/login", status_code=303)
    response.cookies.append(_cookie(request, SESSION_COOKIE, "", 0))
    return response


@get("/console/lang/{lang:str}", include_in_schema=False)
async def switch_language(
    request: Request[Any, Any, Any], lang: FromPath[str], next: FromQuery[str] = "/console"
) -> Response[Any]:
    target = next if next.startswith("/console") and "//" not in next else "/console"
    response = Redirect(target, status_code=303)
    response.cookies.append(
        Cookie(key=LANG_COOKIE, value=lang if lang in LANGS else "zh", path="/", max_age=365 * 86400, samesite="lax")
    )
    return response


ROUTES = [console_home, login_page, login, logout, switch_language]
