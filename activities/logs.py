"""Logs: one JSON object per line, with the id of the request being served, and credentials
masked wherever a URL is printed (log lines and start-up banners alike).

    {"time": "2026-11-26T03:04:05.123Z", "level": "INFO", "logger": "promo.api",
     "message": "POST /activities/{activity_id:int}/draws -> 429 user_daily_limit",
     "request_id": "5f0c1d2e3a4b5c6d", "code": "user_daily_limit", "route": "...", "status": 429}

PROMO_LOG_FORMAT=text gives one readable line instead (same fields); PROMO_LOG_LEVEL sets the
level (default INFO).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any


class RequestInfo:
    """What the log lines and metrics of one HTTP request share: its id, and the error code and
    exception of its answer when it is an error (set by the error handlers)."""

    __slots__ = ("code", "exc", "request_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.code: str | None = None
        self.exc: BaseException | None = None


CURRENT_REQUEST: ContextVar[RequestInfo | None] = ContextVar("promo_request", default=None)

# scheme://user:password@ -> scheme://user:***@ ; scheme://token@ -> scheme://***@
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@\s:]*)(?::(?P<password>[^/@\s]*))?@")


def _masked(match: re.Match[str]) -> str:
    if match["password"] is None:
        return f"{match['scheme']}***@"  # a lone user part may be a token (redis://secret@host)
    return f"{match['scheme']}{match['user']}:***@"


def mask_credentials(text: str) -> str:
    """Every URL in `text` with its password masked: `postgresql+asyncpg://promo:secret@db/promo`
    becomes `postgresql+asyncpg://promo:***@db/promo`. The one function every log line and
    banner that prints a URL goes through."""
    if "@" not in text:
        return text
    return _USERINFO.sub(_masked, text)


_FIELDS = ("code", "route", "method", "status", "duration_ms")


def _entry(record: logging.LogRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": record.levelname,
        "logger": record.name,
        "message": mask_credentials(record.getMessage()),
    }
    request_id = getattr(record, "request_id", None)
    if request_id is None and (current := CURRENT_REQUEST.get()) is not None:
        request_id = current.request_id
    if request_id is not None:
        entry["request_id"] = request_id
    for name in _FIELDS:
        value = record.__dict__.get(name)
        if value is not None:
            entry[name] = value
    return entry


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback (5xx only) goes in `exception`, on the same line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = _entry(record)
        if record.exc_info:
            entry["exception"] = mask_credentials(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The same fields for a human at a terminal (PROMO_LOG_FORMAT=text)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = _entry(record)
        head = f"{entry.pop('time')} {entry.pop('level')} {entry.pop('logger')}: {entry.pop('message')}"
        line = " ".join([head, *(f"{k}={v}" for k, v in entry.items())])
        if record.exc_info:
            line += "\n" + mask_credentials(self.formatException(record.exc_info))
        return line


def setup_logging() -> None:
    """The root logger writes to stderr in the chosen format; idempotent (the CLI calls it, and
    each uvicorn worker process through the app factory)."""
    root = logging.getLogger()
    if any(getattr(handler, "promo", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.promo = True  # type: ignore[attr-defined]
    text = os.environ.get("PROMO_LOG_FORMAT", "json").lower() == "text"
    handler.setFormatter(TextFormatter() if text else JsonFormatter())
    for old in list(root.handlers):  # e.g. a basicConfig from before
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(os.environ.get("PROMO_LOG_LEVEL", "INFO").upper())
