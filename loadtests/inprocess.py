"""Python per request, in-process: the API's CPU time per answer of GET /health, draws, sign-ins,
helps and reservations, with no HTTP server and no network between (issue 17, "Python per request").

The app (api/app.py) runs in this process on the embedded Redis and a fresh SQLite database; each
request is a raw ASGI call (scope, receive, send) made by `concurrency` tasks at once, as a server
would make it, and the process CPU time over a round divided by its answers is the figure: the
Python of the route, the middleware and the Redis client, not the HTTP parser's nor Redis's (a
child process). It is far steadier than wrk on a shared machine; `--profile` writes a cProfile
of the draws for `python -m pstats` (or prints its top entries).

    python -m loadtests.inprocess [--requests 20000] [--concurrency 64] [--rounds 3] [--profile FILE]
                                  [--only draw,health]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import json
import math
import pstats
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from activities.config import Settings
from activities.migrate import upgrade
from activities.redis_server import EmbeddedRedis
from api.app import create_app
from api.platform import Platform
from loadtests.bench_rounds import HELPS_NEEDED, assist_for_bench, wheel_for_bench
from loadtests.harness import checkin_spec, reservation_spec, tomorrow

Request = tuple[str, list[tuple[bytes, bytes]], bytes]  # path, headers, body


@dataclass
class Action:
    name: str
    requests: list[Request]


def scope_of(path: str, headers: list[tuple[bytes, bytes]], method: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(app: Any, method: str, request: Request) -> int:
    path, headers, body = request
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # a disconnect never comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope_of(path, headers, method), receive, send)
    return status


async def round_of(app: Any, action: Action, concurrency: int, profile: cProfile.Profile | None) -> float:
    """CPU µs per answer over one pass through `action.requests`."""
    method = "GET" if action.name == "health" else "POST"
    todo = iter(action.requests)
    bad: list[int] = []

    async def worker() -> None:
        for request in todo:
            status = await call(app, method, request)
            if not 200 <= status < 300:
                bad.append(status)

    if profile:
        profile.enable()
    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    spent = time.process_time() - started
    if profile:
        profile.disable()
    if bad:
        raise RuntimeError(f"{action.name}: {len(bad)} answers were not 2xx: {sorted(set(bad))}")
    return spent / len(action.requests) * 1e6


def headers(token: str, key: str | None = None) -> list[tuple[bytes, bytes]]:
    found = [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {token}".encode())]
    found.append((b"content-type", b"application/json"))
    if key is not None:
        found.append((b"idempotency-key", key.encode()))
    return found


def warm(platform: Platform, action: Action) -> None:
    """Every token of the round verified once first: the bench's members act many times over its
    rounds (their tokens are cached by then); a first verification is measured on its own."""
    for _, found, _ in action.requests:
        for name, value in found:
            if name == b"authorization":
                platform.tokens.verify(value.decode().removeprefix("Bearer "))


class Setup:
    def __init__(self, client: httpx.AsyncClient, platform: Platform) -> None:
        self.client = client
        self.platform = platform
        self.operator = {"Authorization": f"Bearer {platform.tokens.issue('ops', 'operator')}"}
        self.runs = itertools.count()

    async def live(self, spec: dict[str, Any]) -> dict[str, Any]:
        made = await self.client.post("/operator/activities", json=spec, headers=self.operator)
        assert made.status_code == 201, made.text
        published = await self.client.post(f"/operator/activities/{made.json()['id']}/publish", headers=self.operator)
        assert published.status_code == 200, published.text
        result: dict[str, Any] = published.json()
        return result

    def token(self, member: str) -> str:
        return self.platform.tokens.issue(member, "player", level="gold", ttl_s=6 * 3600)

    async def health(self, n: int) -> Action:
        return Action("health", [("/health", [(b"host", b"127.0.0.1:8000")], b"")] * n)

    async def draw(self, n: int) -> Action:
        run = next(self.runs)
        activity = (await self.live(wheel_for_bench()))["id"]
        tokens = [self.token(f"bench{i}") for i in range(1000)]
        path = f"/activities/{activity}/draws"
        return Action("draw", [(path, headers(tokens[i % 1000], f"r{run}-{i}"), b"{}") for i in range(n)])

    async def signin(self, n: int) -> Action:
        activities = [(await self.live(checkin_spec("Bench")))["id"] for _ in range(4)]
        members = math.ceil(n / len(activities))
        tokens = [self.token(f"signer{next(self.runs)}-{i}") for i in range(members)]
        requests = [
            (f"/activities/{a}/signins", headers(t, f"s{a}-{m}"), b"{}")
            for a in activities
            for m, t in enumerate(tokens)
        ]
        return Action("signin", requests[:n])

    async def help(self, n: int) -> Action:
        count = math.ceil(n / HELPS_NEEDED) + 1
        activity = (await self.live(assist_for_bench(count)))["id"]
        shares = []
        for i in range(count):
            started = await self.client.post(
                f"/activities/{activity}/initiatives",
                headers={"Authorization": f"Bearer {self.token(f'initiator{activity}-{i}')}"},
            )
            assert started.status_code in (200, 201), started.text
            shares.append(started.json()["share_token"])
        tokens = [self.token(f"helper{activity}-{i}") for i in range(n)]
        requests = [
            (f"/assists/{shares[i // HELPS_NEEDED]}/helps", headers(t, f"h{i}"), b"{}") for i, t in enumerate(tokens)
        ]
        return Action("help", requests)

    async def reservation(self, n: int) -> Action:
        activity = (await self.live(reservation_spec("Bench reservations", quantity=n)))["id"]
        tokens = [self.token(f"reserver{activity}-{i}") for i in range(n)]
        body = json.dumps({"date": tomorrow()}).encode()
        return Action(
            "reservation",
            [(f"/activities/{activity}/reservations", headers(t, f"v{i}"), body) for i, t in enumerate(tokens)],
        )


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="promo-inprocess-"))
    redis = EmbeddedRedis(folder / "redis", appendonly=False)
    try:
        database = f"sqlite+aiosqlite:///{folder / 'promo.db'}"
        upgrade(database)
        settings = Settings(
            var_dir=folder,
            redis_url=redis.start(),
            database_url=database,
            jwt_secret="inprocess-secret-" + "x" * 40,
            audit_writer=False,
            coalesce=True,
            host="127.0.0.1",
            port=0,
            workers=1,
        )
        platform = Platform.build(settings)
        app = create_app(platform)
        gc.freeze()  # as the app's lifespan does at start-up (httpx's transport does not run it)
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                setup = Setup(client, platform)
                makers: dict[str, Callable[[int], Any]] = {
                    "health": setup.health,
                    "draw": setup.draw,
                    "signin": setup.signin,
                    "help": setup.help,
                    "reservation": setup.reservation,
                }
                names = args.only.split(",") if args.only else list(makers)
                results: dict[str, list[float]] = {name: [] for name in names}
                profile = cProfile.Profile() if args.profile else None
                for run in range(args.rounds + 1):  # the first: a warm-up, not kept
                    for name in names:
                        action = await makers[name](args.requests)
                        warm(platform, action)
                        keep = profile if (run and name == args.profile_action) else None
                        us = await round_of(app, action, args.concurrency, keep)
                        if run:
                            results[name].append(us)
                        print(f"round {run} {name}: {us:.1f} µs/request", flush=True)
        finally:
            await platform.close()
        health = statistics.median(results["health"]) if results.get("health") else None
        print(f"in-process, {args.requests} requests x {args.rounds} rounds, {args.concurrency} at once (median):")
        for name, values in results.items():
            us = statistics.median(values)
            extra = f"  ({us - health:+.1f} µs beyond /health)" if health else ""
            print(f"  {name:12} {us:7.1f} µs/request{extra}")
        if profile:
            profile.dump_stats(args.profile)
            pstats.Stats(args.profile).sort_stats("cumulative").print_stats(40)
    finally:
        redis.stop()
        shutil.rmtree(folder, ignore_errors=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated: health,draw,signin,help,reservation")
    parser.add_argument("--profile", default="", help="write a cProfile of one action's rounds here")
    parser.add_argument("--profile-action", default="draw")
    return parser.parse_args(argv)


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(parse()))
