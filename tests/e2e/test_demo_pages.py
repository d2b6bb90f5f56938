"""The demo H5 pages in a real browser against a real server.

The server is `promo serve` on the embedded default (its own redis-server and SQLite in a temp
var dir) with PROMO_CORS_ORIGINS naming a second site; the browser is Debian's chromium driven
by Playwright (never a downloaded browser). Without chromium these tests are skipped on a
developer's machine and FAIL in CI (CI=true): `make test` installs it with apt-get as root.
Screenshots land in each test's tmp dir."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock_time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
import pytest

from activities.auth import Tokens
from api.frontend import STATIC

CHROMIUM = Path(os.environ.get("PROMO_CHROMIUM", "/usr/bin/chromium"))
SHANGHAI = ZoneInfo("Asia/Shanghai")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def missing(what: str) -> None:
    """No browser: a skip on a developer's machine, a failure in CI (browser tests must run)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what}: browser tests must run in CI (make test installs chromium with apt-get)")
    pytest.skip(f"{what} (sudo apt-get install -y chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def static_site(port: int) -> Iterator[str]:
    """The demo folder served by a plain http.server: the pages hosted on another origin."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(STATIC / "demo"))
    site = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        site.shutdown()
        site.server_close()


@dataclass
class Server:
    url: str
    tokens: Tokens
    page_port: int  # the other origin PROMO_CORS_ORIGINS allows
    secret: str = ""  # the server's JWT secret (for `promo token` in tests/e2e/test_readme.py)

    def token(self, user: str = "u1", role: Literal["player", "operator"] = "player") -> str:
        return self.tokens.issue(user, role, level="gold")

    async def create(self, spec: dict[str, Any]) -> int:
        operator = {"Authorization": f"Bearer {self.token('ops1', 'operator')}"}
        async with httpx.AsyncClient(base_url=self.url, headers=operator) as client:
            created = await client.post("/operator/activities", json=spec)
            assert created.status_code == 201, created.text
            activity_id: int = created.json()["id"]
            published = await client.post(f"/operator/activities/{activity_id}/publish")
            assert published.status_code == 200, published.text
            return activity_id


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var = tmp_path_factory.mktemp("serve")
    port, page_port = free_port(), free_port()
    secret = "e2e-" + secrets.token_hex(24)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= {
        "PROMO_VAR_DIR": str(var),
        "PROMO_HOST": "127.0.0.1",
        "PROMO_PORT": str(port),
        "PROMO_WORKERS": "1",
        "PROMO_JWT_SECRET": secret,
        "PROMO_CORS_ORIGINS": f"http://127.0.0.1:{page_port}",
    }
    log = var / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"promo serve exited with {process.returncode}:\n{log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"promo serve did not become ready:\n{log.read_text()}")
            time.sleep(0.3)
        yield Server(url=url, tokens=Tokens(secret), page_port=page_port, secret=secret)
    finally:
        process.send_signal(signal.SIGINT)  # uvicorn stops, then the embedded redis-server
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def chromium() -> str:
    if not CHROMIUM.exists():
        missing(f"no browser at {CHROMIUM}")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing("the playwright package is not installed")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A phone-sized page; JavaScript errors fail the test."""
    context = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    await context.close()
    assert errors == [], errors


def window(days_before: int = 1) -> dict[str, str]:
    """Open from local midnight `days_before` days ago for two months: any date works."""
    start = datetime.combine(datetime.now(SHANGHAI).date() - timedelta(days=days_before), clock_time(), SHANGHAI)
    return {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=60)).isoformat(),
        "timezone": "Asia/Shanghai",
    }


def lottery(kind: str = "wheel") -> dict[str, Any]:
    return {
        "type": kind,
        "name": f"Demo {kind}",
        **window(),
        "limits": {"per_user_daily": 20},
        "prizes": [
            {"name": "Phone", "type": "goods", "weight": 1, "stock": 5, "value_cny": 5999},
            {"name": "10 CNY coupon", "type": "coupon", "weight": 300, "stock": 1000, "value_cny": 10},
            {"name": "50 points", "type": "points", "points": 50, "weight": 200, "stock": 1000},
            {"name": "Thanks", "type": "thanks", "weight": 499},
        ],
    }


async def draw_and_read(page: Any, target: str) -> dict[str, Any]:
    """Tap `target`, check the draw request's Idempotency-Key, return the draw the API answered."""
    async with page.expect_response("**/draws") as answered:
        await page.click(target)
    response = await answered.value
    assert UUID.match(await response.request.header_value("idempotency-key") or "")
    assert response.status == 201, await response.text()
    drawn: dict[str, Any] = await response.json()
    await page.wait_for_function("document.querySelector('#result').textContent !== ''")
    assert drawn["prize"]["name"] in await page.text_content("#result")
    return drawn


async def test_the_wheel_page_shows_the_odds_draws_and_shows_the_prize(
    server: Server, page: Any, tmp_path: Path
) -> None:
    activity = await server.create(lottery("wheel") | {"limits": {"per_user_daily": 2}})
    await page.goto(f"{server.url}/demo/wheel.html?activity={activity}&token={server.token('u1')}")
    await page.wait_for_selector("#draw:not([disabled])")
    odds = await page.locator("table.odds").inner_text()
    for disclosed in ("Phone\t0.1000%", "10 CNY coupon\t30.0000%", "50 points\t20.0000%", "Thanks\t49.9000%"):
        assert disclosed in odds
    drawn = await draw_and_read(page, "#draw")
    assert await page.text_content("#left") == f"Spins left today: {drawn['left_today']}"
    await page.screenshot(path=tmp_path / "wheel.png", full_page=True)
    again = await draw_and_read(page, "#draw")  # a second tap is a second draw: a new key
    assert again["draw_id"] != drawn["draw_id"]
    # A refusal shows its message, its code and the request id to quote.
    await page.click("#draw")
    await page.wait_for_function("document.querySelector('#message').textContent.includes('user_daily_limit')")
    assert ", request " in (await page.text_content("#message") or "")


async def test_a_page_on_another_origin_calls_the_api_with_cors(server: Server, page: Any, tmp_path: Path) -> None:
    activity = await server.create(lottery("wheel"))
    query = f"activity={activity}&token={server.token('u2')}&api={server.url}"
    with static_site(server.page_port) as allowed, static_site(free_port()) as refused:
        await page.goto(f"{allowed}/wheel.html?{query}")
        await page.wait_for_selector("#draw:not([disabled])")
        async with page.expect_response("**/draws") as answered:
            await page.click("#draw")
        response = await answered.value
        assert response.status == 201
        assert await response.header_value("access-control-allow-origin") == allowed
        prize = (await response.json())["prize"]["name"]
        await page.wait_for_function("document.querySelector('#result').textContent !== ''")
        assert prize in await page.text_content("#result")
        await page.screenshot(path=tmp_path / "cross-origin.png", full_page=True)
        # The exposed headers are readable by the page's script (the request id, for support).
        read = f"fetch('{server.url}/health').then((r) => r.headers.get('x-request-id'))"
        assert await page.evaluate(read)

        # The same page from an origin PROMO_CORS_ORIGINS does not name: the browser refuses.
        await page.goto(f"{refused}/wheel.html?{query}")
        await page.wait_for_function("document.querySelector('#message').textContent.includes('network_error')")
        assert await page.is_disabled("#draw")
        await page.screenshot(path=tmp_path / "refused-origin.png", full_page=True)


async def test_golden_egg_and_blind_box_pages_draw(server: Server, page: Any, tmp_path: Path) -> None:
    token = server.token("u3")
    egg = await server.create(lottery("golden_egg"))
    await page.goto(f"{server.url}/demo/egg.html?activity={egg}&token={token}")
    await page.wait_for_selector(".egg")
    assert "49.9000%" in await page.locator("table.odds").inner_text()
    await draw_and_read(page, ".egg >> nth=1")
    assert await page.locator(".egg.cracked").count() == 1
    await page.screenshot(path=tmp_path / "egg.png", full_page=True)

    box = await server.create(lottery("blind_box"))
    await page.goto(f"{server.url}/demo/blindbox.html?activity={box}&token={token}")
    await page.wait_for_selector(".box")
    drawn = await draw_and_read(page, ".box >> nth=4")
    assert await page.text_content(".box.open") == drawn["prize"]["name"]


async def test_the_sign_in_page_signs_in_and_makes_up_a_day(server: Server, page: Any, tmp_path: Path) -> None:
    # A rolling 7-day cycle that started 3 days ago: today is its 4th day, 3 days to make up.
    activity = await server.create(
        {
            "type": "checkin",
            "name": "Daily sign-in",
            **window(days_before=3),
            "checkin": {
                "cycle": {"kind": "rolling", "days": 7},
                "daily_reward": {"type": "points", "points": 5},
                "streak_rewards": [{"days": 2, "reward": {"type": "points", "points": 20}}],
                "makeup": {"per_cycle": 2, "max_days_back": 3, "points_cost": 0},
            },
        }
    )
    await page.goto(f"{server.url}/demo/checkin.html?activity={activity}&token={server.token('u4')}")
    await page.click("#signin:not([disabled])")
    await page.wait_for_function("document.querySelector('#result').textContent !== ''")
    assert "you got 5 points" in await page.text_content("#result")
    assert await page.is_disabled("#signin")
    await page.wait_for_selector(".day.today.signed")

    await page.click(".can_make_up >> nth=-1")  # yesterday
    await page.click("#makeup")
    await page.wait_for_function("document.querySelector('#result').textContent.startsWith('Made up')")
    assert "20 points" in await page.text_content("#result")  # the 2-day streak reward
    await page.wait_for_selector(".day.made_up")
    assert (await page.text_content("#streak") or "").startswith("2-day streak")
    await page.screenshot(path=tmp_path / "checkin.png", full_page=True)


async def test_the_bargain_page_starts_shares_and_a_friend_helps(
    server: Server, browser: Any, page: Any, tmp_path: Path
) -> None:
    activity = await server.create(
        {
            "type": "assist",
            "name": "Bargain the serum",
            **window(),
            "assist": {
                "kind": "bargain",
                "helps_needed": 3,
                "hours": 24,
                "item": {"name": "Serum 30 ml", "price_cny": "99.00", "floor_cny": "9.90", "stock": 10},
            },
        }
    )
    await page.goto(f"{server.url}/demo/bargain.html?activity={activity}&token={server.token('u5')}")
    await page.click("#start:not([hidden])")
    await page.wait_for_function("document.querySelector('#link').value !== ''")
    link = await page.input_value("#link")
    assert "share=" in link and "token=" not in link  # a friend brings their own token

    friend = await browser.new_page()
    await friend.goto(f"{link}&token={server.token('f1')}")
    await friend.click("#help:not([hidden])")
    await friend.wait_for_function("document.querySelector('#result').textContent.startsWith('You cut')")
    await friend.close()

    await page.click("#refresh")
    await page.wait_for_selector("#helpers li")
    assert "f1 cut" in await page.inner_text("#helpers")
    assert await page.inner_text("#helps") == "1 of 3 helps"
    await page.screenshot(path=tmp_path / "bargain.png", full_page=True)


async def test_the_reservation_page_reserves_and_cancels(server: Server, page: Any, tmp_path: Path) -> None:
    tomorrow = datetime.now(SHANGHAI).date() + timedelta(days=1)
    activity = await server.create(
        {
            "type": "reservation",
            "name": "Sneaker drop",
            **window(),
            "reservation": {
                "item": {"sku": "SNK-1", "name": "Sneakers", "price_cny": "899.00"},
                "dates": [{"date": str(tomorrow + timedelta(days=d)), "quantity": 100} for d in range(3)],
                "method": "pickup",
                "stores": [{"id": "S1", "name": "Flagship"}, {"id": "S2", "name": "Mall"}],
                "purchase": "in_store",
            },
        }
    )
    await page.goto(f"{server.url}/demo/reservation.html?activity={activity}&token={server.token('u6')}")
    await page.select_option("#store", "S2")
    async with page.expect_response(lambda r: r.request.method == "POST") as answered:
        await page.click("#reserve:not([disabled])")
    reserved = await (await answered.value).json()
    await page.wait_for_function("document.querySelector('#result').textContent.startsWith('Reserved')")
    card = page.locator("#mine .card")
    assert await card.locator(".code").inner_text() == reserved["code"]
    assert "Mall" in await card.inner_text()
    await page.screenshot(path=tmp_path / "reservation.png", full_page=True)
    await card.locator("button").click()
    await page.wait_for_function("document.querySelector('#message').textContent.startsWith('Cancelled')")
    assert "cancelled" in await page.locator("#mine .card").inner_text()


def test_a_missing_browser_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        missing("no browser")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        missing("no browser")
