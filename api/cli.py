"""`promo`: serve the platform, run the audit writer alone, mint demo tokens, migrate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from activities.config import Settings, load_settings
from activities.migrate import upgrade
from activities.redis_server import EmbeddedRedis


def _with_redis(settings: Settings) -> tuple[Settings, EmbeddedRedis | None]:
    """The embedded default: without REDIS_URL, start redis-server as a child process in var/."""
    if settings.redis_url:
        return settings, None
    embedded = EmbeddedRedis(settings.var_dir / "redis")
    url = embedded.start()
    os.environ["REDIS_URL"] = url  # for the server workers, which load settings themselves
    print(f"embedded Redis: {url} (AOF in {embedded.data_dir})", flush=True)
    return load_settings(), embedded


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    upgrade(settings.database_url)
    settings, embedded = _with_redis(settings)
    host, port = args.host or settings.host, args.port or settings.port
    print(
        f"promo platform on http://{host}:{port}  (SQL: {settings.database_url})\n"
        f"  operator token: .venv/bin/promo token --operator --user ops1\n"
        f"  player token:   .venv/bin/promo token --user u1 --level gold\n"
        f"  API docs:       http://{host}:{port}/schema/swagger",
        flush=True,
    )
    try:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=args.workers or settings.workers,
            loop="uvloop",
            http="httptools",
            access_log=args.access_log,
            log_level="info" if args.access_log else "warning",
            backlog=4096,
        )
    finally:
        if embedded:
            embedded.stop()
    return 0


def worker(args: argparse.Namespace) -> int:
    """The background work as its own process (run the API with PROMO_AUDIT_WRITER=off): the
    audit writer, the reconciler, the expiry sweep."""
    from api.platform import Platform

    settings = load_settings()
    upgrade(settings.database_url)

    async def main() -> None:
        platform = Platform.build(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            if args.once:
                await platform.audit_writer.drain()
            else:
                from api.app import reconcile, sweep

                await asyncio.gather(platform.audit_writer.run(stop), reconcile(platform, stop), sweep(platform, stop))
        finally:
            await platform.close()

    asyncio.run(main())
    return 0


def token(args: argparse.Namespace) -> int:
    from activities.auth import Tokens

    tokens = Tokens(load_settings().jwt_secret)
    tags = tuple(t for t in (args.tags or "").split(",") if t)
    print(
        tokens.issue(
            args.user,
            "operator" if args.operator else "player",
            level=args.level,
            tags=tags,
            new_user=args.new_user,
            ttl_s=args.ttl,
        )
    )
    return 0


def migrate(_: argparse.Namespace) -> int:
    upgrade(load_settings().database_url)
    print("schema is up to date")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="promo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="migrate, start embedded Redis if REDIS_URL is unset, serve the API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--access-log", action="store_true")
    p.set_defaults(func=serve)

    p = sub.add_parser("worker", help="run the audit writer (Redis streams -> SQL) on its own")
    p.add_argument("--once", action="store_true", help="write what is there, then exit")
    p.set_defaults(func=worker)

    p = sub.add_parser("token", help="mint a signed token (demo and load tests)")
    p.add_argument("--user", required=True, help="member id (player) or operator id")
    p.add_argument("--operator", action="store_true", help="an operator token instead of a player token")
    p.add_argument("--level", help="member level claim, e.g. gold")
    p.add_argument("--tags", help="comma-separated member tags")
    p.add_argument("--new-user", action="store_true", help="a member who just joined (claim new: true)")
    p.add_argument("--ttl", type=int, default=24 * 3600, help="seconds until it expires")
    p.set_defaults(func=token)

    p = sub.add_parser("migrate", help="apply the database migrations")
    p.set_defaults(func=migrate)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
