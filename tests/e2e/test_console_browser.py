"""The back office (/console) in a real browser against a real `promo serve` (issue 13).

The admin logs in with the password `promo serve` printed on its fresh var/, creates a wheel with
three prizes through the form (the odds and the expected cost per 1,000 draws follow the
typing), publishes it, sees the live dashboard's counters and chart follow draws made through
the API, clones it and edits the clone; a clerk (made with `promo operator create`) redeems a
reservation at its store (big OK, then a big refusal with the reason) and cannot open the
activity form. Screenshots land in the test's tmp dir; with PROMO_DOCS_SCREENSHOTS=1 a few are
copied to docs/ (console-*.png) for the README."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.auth import Tokens
from tests.e2e.test_demo_pages import CHROMIUM, SHANGHAI, free_port, missing

DOCS = Path(__file__).resolve().parents[2] / "docs"
CLERK_PASSWORD = "clerk-password-123"


@dataclass
class Console:
    url: str
    tokens: Tokens
    admin_password: str
    env: dict[str, str]

    def bearer(self, user: str, role: str = "player") -> dict[str, str]:
        token = self.tokens.issue(user, "operator" if role != "player" else "player", level="gold")
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    var = tmp_path_factory.mktemp("console")
    port = free_port()
    secret = "e2e-" + secrets.token_hex(24)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= {
        "PROMO_VAR_DIR": str(var),
        "PROMO_HOST": "127.0.0.1",
        "PROMO_PORT": str(port),
        "PROMO_WORKERS": "1",
        "PROMO_JWT_SECRET": secret,
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
        printed = re.search(r"first login: admin / (\S+)", log.read_text())
        assert printed, f"promo serve did not print the admin's password:\n{log.read_text()}"
        yield Console(url=url, tokens=Tokens(secret), admin_password=printed[1], env=env)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        missing(f"no browser at {CHROMIUM}")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing("the playwright package is not installed")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        await browser.close()


async def new_page(browser: Any, errors: list[str]) -> Any:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())  # the publish / end confirmations
    return page


async def shot(page: Any, folder: Path, name: str, docs: bool = False) -> None:
    path = folder / f"console-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if docs and os.environ.get("PROMO_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / path.name)


async def log_in(page: Any, url: str, username: str, password: str) -> None:
    await page.goto(f"{url}/console")
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', password)
    await page.click('button[type="submit"]')
    await page.wait_for_load_state("networkidle")


def local(days: int) -> str:
    when = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=days)
    return when.strftime("%Y-%m-%dT%H:%M")


async def test_console_flow(console: Console, browser: Any, tmp_path: Path) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    url = console.url

    # 1. the admin logs in with the password printed once by `promo serve`
    await page.goto(f"{url}/console")
    assert page.url.endswith("/console/login")
    assert await page.is_visible("text=登录")
    await shot(page, tmp_path, "login")
    await log_in(page, url, "admin", console.admin_password)
    assert page.url.endswith("/console/activities")
    assert "还没有活动" in await page.text_content("#empty-state")
    srcs = await page.eval_on_selector_all(
        "[src],[href]", "els => els.map(e => e.getAttribute('src') || e.getAttribute('href'))"
    )
    assert not [s for s in srcs if re.match(r"^\s*(https?:)?//", s)], srcs

    # 2. a wheel with three prizes through the form: odds and cost follow the typing
    await page.click("text=新建大转盘")
    await page.fill('input[name="name"]', "Browser wheel")
    await page.fill('input[name="starts_at"]', local(-1))
    await page.fill('input[name="ends_at"]', local(30))
    await page.fill('input[name="per_user_daily"]', "50")
    rows = "#prize-table tbody tr"
    await page.fill(f"{rows}:nth-child(1) [data-f=name]", "Thanks")
    await page.fill(f"{rows}:nth-child(1) [data-f=weight]", "700")
    for name, kind, weight, stock, value in (
        ("Phone", "goods", "10", "5", "100"),
        ("Coupon", "coupon", "290", "1000", "10"),
    ):
        await page.click("#add-prize")
        last = f"{rows}:last-child"
        await page.fill(f"{last} [data-f=name]", name)
        await page.select_option(f"{last} [data-f=type]", kind)
        await page.fill(f"{last} [data-f=weight]", weight)
        await page.fill(f"{last} [data-f=stock]", stock)
        await page.fill(f"{last} [data-f=value_cny]", value)
    # 1,000 draws: 10 phones at 100 and 290 coupons at 10 = 3,900.00 CNY
    assert await page.text_content("#expected-cost") == "3900.00"
    assert await page.text_content(f"{rows}:nth-child(2) .odds") == "1.0000%"
    await shot(page, tmp_path, "wheel-form", docs=True)
    await page.click('#wheel-form button[type="submit"]')
    await page.wait_for_url(re.compile(r"/console/activities/\d+$"))
    activity_id = int(page.url.rsplit("/", 1)[1])
    assert await page.text_content("#activity-name") == "Browser wheel"
    assert await page.text_content("#activity-status") == "草稿"

    # 3. publish (confirmed), then draws through the API: the dashboard follows
    await page.click("button[data-action=publish]")
    await page.wait_for_function("document.querySelector('#activity-status').textContent === '进行中'")
    async with httpx.AsyncClient(base_url=url) as client:
        for n in range(6):
            headers = {**console.bearer(f"m{n % 2}"), "Idempotency-Key": secrets.token_hex(8)}
            drawn = await client.post(f"/activities/{activity_id}/draws", headers=headers)
            assert drawn.status_code == 201, drawn.text
    await page.wait_for_function(
        "document.querySelector('[data-figure=draws_total]')?.textContent === '6'"
        " && document.querySelector('#chart').dataset.total === '6'",
        timeout=20_000,
    )
    series = await page.evaluate(
        "echarts.getInstanceByDom(document.querySelector('#chart')).getOption().series[0].data"
    )
    assert sum(series) == 6
    assert "Phone" in await page.text_content("#dashboard")
    await shot(page, tmp_path, "dashboard", docs=True)

    # 4. clone it, edit the clone
    await page.click("button[data-action=clone]")
    await page.wait_for_url(re.compile(rf"/console/activities/(?!{activity_id}$)\d+$"))
    assert await page.text_content("#activity-status") == "草稿"
    assert await page.text_content("#activity-name") == "Browser wheel (copy)"
    await page.click("text=编辑")
    await page.fill('input[name="name"]', "Browser wheel, second run")
    await page.click('#wheel-form button[type="submit"]')
    await page.wait_for_function(
        "document.querySelector('#activity-name')?.textContent === 'Browser wheel, second run'"
    )
    await page.goto(f"{url}/console/activities")
    assert await page.is_visible("text=Browser wheel, second run")
    await shot(page, tmp_path, "activities", docs=True)
    await page.goto(f"{url}/console/lang/en?next=/console/activities")
    assert await page.is_visible("text=New wheel")
    await page.goto(f"{url}/console/lang/zh?next=/console/log")
    assert await page.is_visible("text=publish")
    await shot(page, tmp_path, "log")

    # 3b. the analytics page (issue 14): the overview drawn with ECharts once the draws are in SQL
    draws_cell = "#totals tbody td:nth-child(4)"
    for _ in range(60):
        await page.goto(f"{url}/console/activities/{activity_id}/analytics")
        if await page.text_content(draws_cell) == "6":
            break
        await asyncio.sleep(0.5)
    assert await page.text_content(draws_cell) == "6"
    for chart in ("chart-days", "chart-channels", "chart-prizes"):
        assert await page.locator(f"#{chart} canvas").count() >= 1
    legend = await page.evaluate(
        "echarts.getInstanceByDom(document.querySelector('#chart-days')).getOption().legend[0].data"
    )
    assert legend == ["participants", "actions"]
    await shot(page, tmp_path, "analytics", docs=True)

    # 5. a clerk made with `promo operator create` redeems at its store
    today = datetime.now(SHANGHAI).date().isoformat()
    spec = {
        "type": "reservation",
        "name": "Sneaker drop",
        "starts_at": local(-1) + ":00+08:00",
        "ends_at": local(30) + ":00+08:00",
        "reservation": {
            "item": {"sku": "SNK-1", "name": "Limited sneakers", "price_cny": "1299.00"},
            "dates": [{"date": today, "quantity": 10}],
            "method": "pickup",
            "stores": [{"id": "SH01", "name": "Shanghai"}, {"id": "BJ01", "name": "Beijing"}],
            "purchase": "in_store",
        },
    }
    admin = console.bearer("ops1", "operator")
    async with httpx.AsyncClient(base_url=url) as client:
        created = await client.post("/operator/activities", json=spec, headers=admin)
        assert created.status_code == 201, created.text
        drop = created.json()["id"]
        assert (await client.post(f"/operator/activities/{drop}/publish", headers=admin)).status_code == 200
        codes = []
        for store in ("SH01", "BJ01"):
            headers = {**console.bearer(f"buyer-{store}"), "Idempotency-Key": secrets.token_hex(8)}
            made = await client.post(
                f"/activities/{drop}/reservations", json={"date": today, "store_id": store}, headers=headers
            )
            assert made.status_code == 201, made.text
            codes.append(made.json()["code"])
    made_clerk = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "api.cli", "operator", "create", "--role", "clerk", "--user", "c1", "--stores", "SH01"),
        *("--password", CLERK_PASSWORD),
        env=console.env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(made_clerk.communicate(), timeout=60)
    assert made_clerk.returncode == 0, stderr
    clerk = await new_page(browser, errors)
    await log_in(clerk, url, "c1", CLERK_PASSWORD)
    assert clerk.url.endswith("/console/redeem")
    await clerk.select_option('select[name="activity"]', str(drop))
    await clerk.fill('input[name="code"]', codes[0])
    await clerk.click('#redeem-form button[type="submit"]')
    await clerk.wait_for_selector("#redeem-result.ok")
    assert "核销成功" in await clerk.text_content("#redeem-result")
    await shot(clerk, tmp_path, "redeem", docs=True)
    await clerk.fill('input[name="code"]', codes[0])
    await clerk.click('#redeem-form button[type="submit"]')
    await clerk.wait_for_selector("#redeem-result.refused")
    assert "此预约已核销过" in await clerk.text_content("#redeem-result")
    await clerk.fill('input[name="code"]', codes[1])  # reserved at the Beijing store
    await clerk.click('#redeem-form button[type="submit"]')
    await clerk.wait_for_function("document.querySelector('#redeem-result').textContent.includes('不是此预约的门店')")
    await shot(clerk, tmp_path, "redeem-refused")

    # 6. the clerk cannot open the activity form
    response = await clerk.goto(f"{url}/console/activities/new")
    assert response.status == 403
    assert "您的角色无权访问此页面" in await clerk.text_content("#forbidden")
    assert errors == [], errors


async def _wait_report(client: httpx.AsyncClient, path: str, headers: dict[str, str], ready: Any) -> dict[str, Any]:
    """The report once the audit writer has put the actions in SQL (the rollups follow it)."""
    for _ in range(180):
        report: dict[str, Any] = (await client.get(path, headers=headers)).json()
        if ready(report):
            return report
        await asyncio.sleep(0.5)
    pytest.fail(f"{path} never had its data: {report}")


async def test_analytics_report_pages(console: Console, browser: Any, tmp_path: Path) -> None:
    """Issue 14: each report's console page draws its ECharts charts with the data (a canvas per
    chart, the legend's text) beside its visible totals and table."""
    errors: list[str] = []
    page = await new_page(browser, errors)
    url = console.url
    admin = console.bearer("ops1", "operator")
    window = {"starts_at": local(-1) + ":00+08:00", "ends_at": local(30) + ":00+08:00", "timezone": "Asia/Shanghai"}
    wheel = {
        "type": "wheel",
        "name": "A/B wheel",
        **window,
        "limits": {},
        "prizes": [
            {"name": "Coupon", "type": "coupon", "weight": 300, "stock": 1000, "value_cny": 10},
            {"name": "Thanks", "type": "thanks", "weight": 700},
        ],
        "experiment": {
            "salt": "e2e",
            "variants": [{"name": "control"}, {"name": "b", "overrides": {"weights": [900, 100]}}],
        },
    }
    checkin = {
        "type": "checkin",
        "name": "Daily sign-in",
        **window,
        "checkin": {"cycle": {"kind": "weekly"}, "daily_reward": {"type": "points", "points": 5}},
    }
    assist = {
        "type": "assist",
        "name": "Help me",
        **window,
        "assist": {
            "kind": "collect",
            "helps_needed": 3,
            "hours": 24,
            "prize": {"name": "Gift", "stock": 10, "value_cny": "49"},
        },
    }
    ids: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=url) as client:
        for key, spec in (("wheel", wheel), ("checkin", checkin), ("assist", assist)):
            created = await client.post("/operator/activities", json=spec, headers=admin)
            assert created.status_code == 201, created.text
            ids[key] = created.json()["id"]
            published = await client.post(f"/operator/activities/{ids[key]}/publish", headers=admin)
            assert published.status_code == 200, published.text
        for n in range(12):
            headers = {**console.bearer(f"m{n}"), "Idempotency-Key": secrets.token_hex(8)}
            body = {"channel": ("h5", "app", "mini_program")[n % 3]}
            drawn = await client.post(f"/activities/{ids['wheel']}/draws", json=body, headers=headers)
            assert drawn.status_code == 201, drawn.text
            signed = await client.post(
                f"/activities/{ids['checkin']}/signins", json=body, headers=console.bearer(f"m{n}")
            )
            assert signed.status_code in (200, 201), signed.text
        started = await client.post(f"/activities/{ids['assist']}/initiatives", json={}, headers=console.bearer("m0"))
        token = started.json()["share_token"]
        for helper, via in (("m1", "m0"), ("m2", "m1")):
            helped = await client.post(f"/assists/{token}/helps", json={"via": via}, headers=console.bearer(helper))
            assert helped.status_code in (200, 201), helped.text
        base = "/operator/activities/{}/reports/{}"
        await _wait_report(client, base.format(ids["wheel"], "overview"), admin, lambda r: r["totals"]["actions"] == 12)
        await _wait_report(
            client, base.format(ids["checkin"], "checkin"), admin, lambda r: r["totals"]["signins"] == 12
        )
        await _wait_report(client, base.format(ids["assist"], "assist"), admin, lambda r: r["totals"]["helps"] == 2)

    await log_in(page, url, "admin", console.admin_password)
    pages = (
        ("wheel", "funnel", "chart-funnel", ["viewed", "participated", "won"], "漏斗"),
        ("checkin", "points", "chart-points", ["granted", "spent", "net"], "积分"),
        ("wheel", "experiment", "chart-variants", ["rate", "members"], "实验"),
        ("checkin", "checkin", "chart-signins", ["sign-ins", "make-ups"], "D1 / D7 / D30"),
        ("assist", "assist", "chart-depths", ["helps"], "share tree depth"),
    )
    for activity, name, chart, legend, text in pages:
        await page.goto(f"{url}/console/activities/{ids[activity]}/analytics/{name}")
        assert await page.locator(f"#{chart} canvas").count() >= 1, name
        shown = await page.evaluate(
            f"echarts.getInstanceByDom(document.querySelector('#{chart}')).getOption().legend[0].data"
        )
        assert shown == legend, (name, shown)
        assert await page.is_visible(f"text={text}"), name
        await shot(page, tmp_path, f"analytics-{name}", docs=True)
    depth = await page.text_content("#totals td[data-key=share_tree_depth]")  # the assist page's share tree depth
    assert depth == "2", depth
    assert not errors, errors
