"""`promo`: serve the platform, run its background work alone, mint demo tokens, migrate."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from importlib import metadata

from activities.config import Settings, load_settings
from activities.logs import mask_credentials, setup_logging
from activities.migrate import upgrade
from activities.redis_server import EmbeddedRedis, child_setup
from api.cli_tools import bootstrap_admin, migrate, operator, simulate, token, verify


def _with_redis(settings: Settings) -> tuple[Settings, EmbeddedRedis | None]:
    """The embedded default: without REDIS_URL, start redis-server as a child process in var/."""
    if settings.redis_url:
        return settings, None
    embedded = EmbeddedRedis(settings.var_dir / "redis", appendfsync=settings.redis_fsync)
    url = embedded.start()
    os.environ["REDIS_URL"] = url  # for the server workers, which load settings themselves
    print(f"embedded Redis: {mask_credentials(url)} (AOF in {embedded.data_dir})", flush=True)
    return load_settings(), embedded


def banner(settings: Settings, host: str, port: int) -> str:
    """What `promo serve` prints at start-up; URLs with their credentials masked."""
    return (
        f"promo platform on http://{host}:{port}  (SQL: {mask_credentials(settings.database_url)}, "
        f"Redis: {mask_credentials(settings.redis_url or 'embedded')})\n"
        f"  operator token: .venv/bin/promo token --operator --user ops1\n"
        f"  player token:   .venv/bin/promo token --user u1 --level gold\n"
        f"  API docs:       http://{host}:{port}/schema/swagger\n"
        f"  back office:    http://{host}:{port}/console"
    )


WRITER_MODES = ("process", "inline", "off")


def writer_mode() -> str:
    """How `promo serve` runs the background work (PROMO_AUDIT_WRITER): `process` (the default: a
    child `promo worker`, with its own interpreter, so the writer never waits for the API's GIL
    and one writer serves every API worker), `inline` (a thread in each API worker process) or
    `off` (nothing: run `promo worker` yourself)."""
    mode = os.environ.get("PROMO_AUDIT_WRITER", "process")
    if mode not in WRITER_MODES:
        raise SystemExit(f"PROMO_AUDIT_WRITER must be one of {', '.join(WRITER_MODES)}, not {mode!r}")
    return mode


def _start_worker() -> subprocess.Popen[bytes]:
    """`promo worker` as a child of `promo serve`, gone with it (PR_SET_PDEATHSIG); its metrics on
    PROMO_WORKER_METRICS_PORT when set."""
    port = os.environ.get("PROMO_WORKER_METRICS_PORT")
    command = [sys.executable, "-m", "api.cli", "worker", *(["--metrics-port", port] if port else [])]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, preexec_fn=child_setup)


def _stop_worker(process: subprocess.Popen[bytes], drain_s: float) -> None:
    """SIGTERM: the worker writes what is left for up to PROMO_SHUTDOWN_DRAIN_S, then exits."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=drain_s + 10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    mode = writer_mode()
    settings = load_settings()
    upgrade(settings.database_url)
    admin_password = bootstrap_admin(settings)
    settings, embedded = _with_redis(settings)
    host, port = args.host or settings.host, args.port or settings.port
    print(banner(settings, host, port), flush=True)
    if admin_password:
        print(
            f"  console:        http://{host}:{port}/console  first login: admin / {admin_password}\n"
            "                  (shown this once; add accounts with `promo operator create`)",
            flush=True,
        )
    background = _start_worker() if mode == "process" else None
    if background is not None:
        os.environ["PROMO_AUDIT_WRITER"] = "off"  # the API workers run none of their own
        print(f"background worker (audit writer, reconciler, sweeps): pid {background.pid}", flush=True)
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
            log_config=None,  # our JSON lines (activities/logs.py), not uvicorn's own format
            proxy_headers=False,  # X-Forwarded-*: only from PROMO_TRUSTED_PROXIES (api/proxies.py)
            backlog=4096,
        )
    finally:
        if background is not None:
            _stop_worker(background, settings.shutdown_drain_s)  # before Redis: it drains to SQL
        if embedded:
            embedded.stop()
    return 0


def worker(args: argparse.Namespace) -> int:
    """The background work as its own process (run the API with PROMO_AUDIT_WRITER=off): the
    audit writer, the reconciler, the expiry sweep, the webhook dispatcher."""
    from api.platform import Platform

    settings = load_settings()
    upgrade(settings.database_url)
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=args.metrics_host)  # the writer's backlog, lag, batches...
        print(f"metrics on http://{args.metrics_host}:{args.metrics_port}/metrics", flush=True)

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

                await asyncio.gather(
                    platform.audit_writer.run(stop),
                    reconcile(platform, stop),
                    sweep(platform, stop),
                    platform.outbound.run(stop),  # webhooks: the dispatcher and scheduled notifications
                )
        finally:
            await platform.close()

    asyncio.run(main())
    return 0


ENVIRONMENT = {
    "serve": """environment:
  PROMO_VAR_DIR          the platform's files: SQLite, embedded Redis, jwt-secret
                         (default: var/ of the repository the code runs from)
  DATABASE_URL           SQLAlchemy async URL (default: SQLite in the var folder)
  REDIS_URL              external Redis (default: an embedded redis-server in var/redis/)
  PROMO_JWT_SECRET       the tokens' HMAC secret (default: var/jwt-secret, created once)
  PROMO_HOST, PROMO_PORT, PROMO_WORKERS   where and how many (127.0.0.1, 8000, 1)
  PROMO_AUDIT_WRITER     process (default: a child `promo worker`), inline (a thread
                         in each API worker) or off (run `promo worker` yourself)
  PROMO_WORKER_METRICS_PORT  the child worker's /metrics port (default: none)
  PROMO_COALESCE         on (default) or off: one Redis round trip per script
  PROMO_BATCH            on (default) or off: each draw its own EVALSHA (on: one
                         EVALSHA carries a tick's draws of an activity)
  PROMO_TRUSTED_PROXIES  IPs/CIDRs whose X-Forwarded-For/-Proto are believed (default: none)
  PROMO_METRICS_TOKEN    bearer token GET /metrics requires (default: none, open)
  PROMO_SEED_KEY         the key of lotteries' commit-reveal seeds (default: var/seed-key)
  PROMO_LOG_FORMAT       json (default) or text; PROMO_LOG_LEVEL (default INFO)""",
    "worker": """environment:
  PROMO_VAR_DIR, DATABASE_URL   as for `promo serve`
  REDIS_URL              the Redis the API uses (required: the worker never starts one)
  PROMO_LOG_FORMAT, PROMO_LOG_LEVEL   as for `promo serve`
  PROMO_ADDRESS_KEY      the key of stored addresses and webhook secrets (default: var/address-key)
  PROMO_WEBHOOK_TIMEOUT_S, PROMO_WEBHOOK_LEASE_S   one attempt (10); a claim (60)
  PROMO_EXTERNAL_PRIZE_TYPES   prize types the CRM fulfils (coupon,goods)
  PROMO_NOTIFY_DAILY_CAP, PROMO_QUIET_HOURS   notifications per member a day (3); quiet hours (22-8)""",
    "token": """environment:
  PROMO_JWT_SECRET       the server's secret; else var/jwt-secret, var/ resolved as the server
                         does (PROMO_VAR_DIR, else var/ of the repository). Nothing is created:
                         without a secret the command stops and says so.""",
    "simulate": """environment:
  PROMO_VAR_DIR, DATABASE_URL   as for `promo serve` (the activity is read from SQL; Redis is not used)""",
    "verify": """environment:
  PROMO_VAR_DIR, DATABASE_URL   as for `promo serve` (the draws are read from SQL; Redis is not used)
  PROMO_SEED_KEY         the key the seeds are encrypted with (default: var/seed-key)""",
    "operator": """environment:
  PROMO_VAR_DIR, DATABASE_URL   as for `promo serve` (the account is written to SQL)""",
    "migrate": """environment:
  PROMO_VAR_DIR, DATABASE_URL   as for `promo serve`""",
}


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown (those without a value, None or an off flag, say theirs in the help text),
    and the description and epilog (the environment variables) kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _version() -> str:
    try:
        return metadata.version("promo-platform")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # every file the platform creates in var/ is the owner's only (0600, folders 0700)
    setup_logging()

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=textwrap.fill(description, 88),
            epilog=ENVIRONMENT[name],
            formatter_class=_Formatter,
        )

    parser = argparse.ArgumentParser(prog="promo", description=__doc__, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = command(
        "serve",
        "migrate, start embedded Redis if REDIS_URL is unset, serve the API",
        "Apply the migrations, start the embedded redis-server when REDIS_URL is not set, and serve "
        "the API with uvicorn (uvloop, httptools). The audit writer, the reconciler and the expiry "
        "sweep run in a child `promo worker` (PROMO_AUDIT_WRITER=process, the default), in a thread "
        "of each API worker (inline), or not at all (off: run `promo worker` yourself).",
    )
    p.add_argument("--host", help="address to listen on (default: PROMO_HOST, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default: PROMO_PORT, else 8000)")
    p.add_argument("--workers", type=int, help="uvicorn worker processes (default: PROMO_WORKERS, else 1)")
    p.add_argument("--access-log", action="store_true", help="log every request (uvicorn's access log; default: off)")
    p.set_defaults(func=serve)

    p = command(
        "worker",
        "run the background work alone: audit writer, reconciler, expiry sweeps",
        "The platform's background work as its own process, beside an API started with "
        "PROMO_AUDIT_WRITER=off: the audit writer (Redis streams -> SQL, in batches, acknowledged "
        "after commit), the reconciler (every minute: completes or undoes points and reward changes "
        "left half done) and the expiry sweeps (every 5 s: initiatives past their deadline, "
        "reservations past their day).",
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="write what the streams hold to SQL, then exit (no reconciler, no sweeps; default: run until stopped)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        help="serve this process's Prometheus metrics (audit backlog, lag, batches, repairs) on this port "
        "(default: not served; in the API process they are at GET /metrics)",
    )
    p.add_argument("--metrics-host", default="127.0.0.1", help="address of --metrics-port (no token: keep it private)")
    p.set_defaults(func=worker)

    p = command(
        "token",
        "mint a signed token (demo and load tests)",
        "Print a JWT signed with the server's secret, for curl and load tests.",
    )
    p.add_argument("--user", required=True, help="member id (player) or operator id")
    p.add_argument("--operator", action="store_true", help="an operator token (default: a player token)")
    p.add_argument("--system", action="store_true", help="a brand system's token: POST /events (--user names it)")
    p.add_argument("--level", help="member level claim, e.g. gold (default: no level)")
    p.add_argument("--tags", help="comma-separated member tags (default: no tags)")
    p.add_argument(
        "--new-user", action="store_true", help="a member who just joined (claim new: true; default: not new)"
    )
    p.add_argument(
        "--role",
        choices=("admin", "marketer", "analyst", "clerk"),
        help="an operator token's role (default: admin, as operator tokens were before roles)",
    )
    p.add_argument("--stores", help="comma-separated stores a clerk redeems at, e.g. SH01,SH02")
    p.add_argument("--ttl", type=int, default=24 * 3600, help="seconds until it expires")
    p.set_defaults(func=token)

    p = command(
        "operator",
        "operator accounts: promo operator create --role ROLE --user NAME",
        "Create an operator account in SQL (argon2 password hash) for the back office at /console and "
        "its API: admin (everything), marketer (create, edit, publish, grant points), analyst "
        "(read-only), clerk (redeem reservations at its --stores).",
    )
    p.add_argument("action", choices=("create",))
    p.add_argument("--user", required=True, help="the account's username")
    p.add_argument("--role", required=True, choices=("admin", "marketer", "analyst", "clerk"))
    p.add_argument("--stores", help="comma-separated stores (a clerk's)")
    p.add_argument("--password", help="at least 10 characters (default: a random one, printed once)")
    p.set_defaults(func=operator)

    p = command(
        "simulate",
        "pre-launch simulator: a lottery's cost, stock-outs and win rates, by Monte-Carlo",
        "Simulate many campaigns of a lottery (read from SQL, draft or live) under a traffic model and "
        "print the expected and P95 cost in CNY (total, per day), when each prize's stock runs out "
        "(P10, median, P90), the win rate per decile of members, the share of members who win "
        "anything, and the points spent and granted. The same as POST /operator/activities/{id}/simulations.",
    )
    p.add_argument("--activity", type=int, required=True, help="the lottery's id")
    p.add_argument("--members", type=int, default=100_000, help="members who may take part (at most 10^7)")
    p.add_argument(
        "--runs",
        type=int,
        help="simulated campaigns, at most 10^4 (default: 1000, fewer for a long window with many prizes)",
    )
    p.add_argument("--draws-per-day", type=float, default=1.0, help="mean draws a member tries per day")
    p.add_argument(
        "--distribution",
        choices=("poisson", "fixed"),
        default="poisson",
        help="draws a member tries per day: Poisson around the mean, or exactly the mean",
    )
    p.add_argument(
        "--spread", type=float, default=1.0, help="gamma shape of members' activity (smaller: heavier users; 0: alike)"
    )
    p.add_argument("--days", type=int, help="simulate only the first days (default: the whole window, at most 366)")
    p.add_argument("--seed", type=int, help="random seed, for a repeatable run (default: fresh)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (default: a readable report)")
    p.set_defaults(func=simulate)

    p = command(
        "verify",
        "recompute every draw of a lottery from its seed: verified, or where it differs",
        "Replay a lottery's draws in audit order and recompute each from its commit-reveal seed: the "
        "derived number, the weight table of its config version, the stock state it saw and the prize. "
        "Prints 'verified' or the draws that differ (exit 1). The same check as GET "
        "/activities/{id}/draws/{draw_id}/verification, for every draw, whether or not the seed is revealed.",
    )
    p.add_argument("--activity", type=int, required=True, help="the lottery's id")
    p.add_argument("--json", action="store_true", help="print the report as JSON (default: readable)")
    p.set_defaults(func=verify)

    p = command("migrate", "apply the database migrations", "Bring the SQL schema to the newest revision.")
    p.set_defaults(func=migrate)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
