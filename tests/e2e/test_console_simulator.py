"""The pre-launch simulator in the back office (issue 18), in a real browser against a real
`promo serve`: an operator opens a draft wheel, runs the simulator with a traffic model and sees
the expected and P95 cost, when the limited prize runs out and the two charts drawn; a request
too large for the simulator is refused with the reason in the operator's language. The
screenshot goes to docs/console-simulator.png with PROMO_DOCS_SCREENSHOTS=1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_console_browser import Console, browser, console, local, log_in, new_page, shot

__all__ = ["browser", "console"]  # the fixtures, shared with the console's main browser test


async def test_the_simulator_answers_on_the_activity_page(console: Console, browser: Any, tmp_path: Path) -> None:
    spec = {
        "type": "wheel",
        "name": "Simulated wheel",
        "starts_at": local(1) + ":00+08:00",
        "ends_at": local(400) + ":00+08:00",  # a year and more: the simulator caps at 366 days
        "limits": {"per_user_daily": 3},
        "prizes": [
            {"name": "Thanks", "type": "thanks", "weight": 880},
            {"name": "Earbuds", "type": "goods", "weight": 20, "stock": 300, "value_cny": "199"},
            {"name": "Coupon", "type": "coupon", "weight": 100, "stock": 100000, "value_cny": "5"},
        ],
    }
    async with httpx.AsyncClient(base_url=console.url) as client:
        created = await client.post("/operator/activities", json=spec, headers=console.bearer("ops-sim", "operator"))
        assert created.status_code == 201, created.text
        activity_id = created.json()["id"]

    errors: list[str] = []
    page = await new_page(browser, errors)
    await log_in(page, console.url, "admin", console.admin_password)
    await page.goto(f"{console.url}/console/activities/{activity_id}")
    assert await page.is_visible("text=上线前模拟")
    await page.fill('#simulator-form input[name="members"]', "20000")
    await page.fill('#simulator-form input[name="draws_per_day"]', "1.5")
    await page.fill('#simulator-form input[name="days"]', "14")
    await page.fill('#simulator-form input[name="runs"]', "200")
    await page.click("#simulate")
    await page.wait_for_selector("#simulator-result", state="visible", timeout=60_000)

    cost = await page.text_content('[data-k="cost_mean"]')
    p95 = await page.text_content('[data-k="cost_p95"]')
    assert cost and cost.startswith("¥") and p95 and p95.startswith("¥"), (cost, p95)
    names = await page.eval_on_selector_all("#sim-prizes tbody tr td:first-child", "els => els.map(e => e.textContent)")
    assert names == ["Thanks", "Earbuds", "Coupon"]
    # 20,000 members x 1.5 draws a day x 2% Earbuds: 600 a day, so the 300 earbuds go on the first day
    earbuds = await page.text_content("#sim-prizes tbody tr:nth-child(2) td:last-child")
    assert earbuds and earbuds[:4].isdigit(), earbuds
    for chart in ("sim-chart-days", "sim-chart-deciles"):
        assert await page.locator(f"#{chart} canvas").count() >= 1
    legend = await page.evaluate(
        "echarts.getInstanceByDom(document.querySelector('#sim-chart-days')).getOption().legend[0].data"
    )
    assert legend == ["平均", "P95"]
    days = await page.evaluate(
        "echarts.getInstanceByDom(document.querySelector('#sim-chart-days')).getOption().xAxis[0].data.length"
    )
    assert days == 14
    await shot(page, tmp_path, "simulator", docs=True)

    # too large for the simulator (10,000 runs x 366 days x 24 hours x 3 prizes): the API's refusal,
    # in the operator's words
    await page.fill('#simulator-form input[name="days"]', "366")
    await page.fill('#simulator-form input[name="runs"]', "10000")
    await page.click("#simulate")
    await page.wait_for_selector("#simulator-error", state="visible")
    assert "模拟规模过大" in (await page.text_content("#simulator-error") or "")
    assert errors == [], errors
