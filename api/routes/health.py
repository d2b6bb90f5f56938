from __future__ import annotations

from typing import Any

from litestar import Request, get

from api.security import platform_of


@get("/health", sync_to_thread=False, tags=["operations"])
def health() -> dict[str, str]:
    """Liveness: the process answers.

    Also the baseline of `make bench`."""
    return {"status": "ok"}


@get("/health/ready", tags=["operations"])
async def ready(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Readiness: Redis and SQL answer."""
    platform = platform_of(request)
    await platform.redis.ping()
    async with platform.engine.connect() as conn:
        await conn.exec_driver_sql("SELECT 1")
    return {"status": "ready"}
