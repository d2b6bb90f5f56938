"""What every console page shares: the session of the operator looking at it, the rule of who
may open it, the language, and rendering a template with all of that."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from activities.accounts import Session
from api.roles import ADMIN, READ, REDEEM, WRITE
from api.security import SESSION_COOKIE, platform_of
from console.i18n import LANG_COOKIE, LANGS, messages, translate

HERE = Path(__file__).parent
STATIC = HERE / "static"
SHANGHAI = ZoneInfo("Asia/Shanghai")
EVERYONE = frozenset({"admin", "marketer", "analyst", "clerk"})

# Who may open each console page (GET); changes go through the operator API and its rules
# (api/roles.py). tests/integration/test_console.py checks every console route has one.
PAGES: dict[str, frozenset[str] | None] = {  # None: no login needed
    "/console": None,
    "/console/login": None,
    "/console/logout": None,
    "/console/lang/{lang}": None,
    "/console/activities": READ,
    "/console/activities/new": WRITE,
    "/console/activities/{activity_id}": READ,
    "/console/activities/{activity_id}/edit": WRITE,
    "/console/activities/{activity_id}/dashboard": READ,
    "/console/activities/{activity_id}/analytics": READ,  # analytics/console_page.py
    "/console/activities/{activity_id}/analytics/{name}": READ,  # the other reports' pages
    "/console/activities/{activity_id}/reservations": READ,
    "/console/activities/{activity_id}/questions": WRITE,  # quiz/console_page.py: the bank holds the answers
    "/console/calendar": READ,
    "/console/redeem": REDEEM,
    "/console/members": READ,
    "/console/lists": READ,  # lists/console_page.py; uploads and deletions: the API's write rule
    "/console/log": READ,
    "/console/accounts": ADMIN,
}


def _at(ms: int | None) -> str:
    """An epoch-milliseconds time as the operators read it (Shanghai)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)


def lang_of(request: Request[Any, Any, Any]) -> str:
    lang = request.cookies.get(LANG_COOKIE, "zh")
    return lang if lang in LANGS else "zh"


async def session_of(request: Request[Any, Any, Any]) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    return await platform_of(request).accounts.session(token) if token else None


def home_of(session: Session) -> str:
    return "/console/redeem" if session.account.role == "clerk" else "/console/activities"


def render(
    request: Request[Any, Any, Any], name: str, session: Session | None, http_status: int = 200, **context: Any
) -> Template:
    lang = lang_of(request)
    base = {
        "lang": lang,
        "t": partial(translate, lang=lang),
        "session": session,
        "account": session.account if session else None,
        "csrf": session.csrf if session else "",
        "path": request.url.path,
        "query": request.url.query,
        "messages_json": msgspec.json.encode(messages(lang)).decode().replace("</", "<\\/"),
        "at": _at,
    }
    return Template(template_name=name, context={**base, **context}, status_code=http_status)


async def gate(request: Request[Any, Any, Any]) -> Session | Response[Any]:
    """The session of the operator, if its role may open this page; otherwise the login page
    (no or an expired session) or a 403 page."""
    session = await session_of(request)
    if session is None:
        expired = "?expired=1" if request.cookies.get(SESSION_COOKIE) else ""
        return Redirect(f"/console/login{expired}", status_code=303)
    allowed = PAGES.get(str(request.scope.get("path_template", "")), frozenset())
    if allowed is not None and session.account.role not in allowed:
        return render(request, "forbidden.html", session, http_status=403)
    return session
