"""Audience lists in the back office (issue 15), in a real browser against a real `promo serve`:
the operator uploads a CSV file as a deny list (the size shows, repeated ids counted once), looks
a member up on it, is refused a file with a bad id (the reason and its line, in the operator's
language, nothing created), cannot delete the list while a live activity excludes it, and
deletes another one. The screenshot goes to docs/console-lists.png with
PROMO_DOCS_SCREENSHOTS=1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_console_browser import Console, browser, console, local, log_in, new_page, shot

__all__ = ["browser", "console"]  # the fixtures, shared with the console's main browser test


async def test_the_lists_page(console: Console, browser: Any, tmp_path: Path) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    await log_in(page, console.url, "admin", console.admin_password)
    await page.goto(f"{console.url}/console/activities")
    await page.click("nav >> text=名单")
    await page.wait_for_url("**/console/lists")

    async def upload(name: str, kind: str, csv: str, file_name: str) -> None:
        await page.fill('#list-upload input[name="name"]', name)
        await page.select_option('#list-upload select[name="kind"]', kind)
        await page.set_input_files(
            '#list-upload input[name="file"]', {"name": file_name, "mimeType": "text/csv", "buffer": csv.encode()}
        )
        await page.click("#upload-button")

    fraud = "member_id\r\n" + "".join(f"fraud-{n}\r\n" for n in range(1500)) + "fraud-7\r\n"
    async with page.expect_navigation():
        await upload("Known fraud accounts", "deny", fraud, "fraud.csv")
    async with page.expect_navigation():
        await upload("VIP preview", "allow", "vip-1\nvip-2\n", "vip.csv")
    rows = page.locator("#list-table tbody tr")
    assert await rows.count() == 2
    sizes = await page.eval_on_selector_all("#list-table td.size", "els => els.map(e => e.textContent)")
    assert sizes == ["2", "1,500"]  # newest first; fraud-7 twice counts once
    assert "黑名单" in (await page.text_content("#list-table") or "")

    # a member looked up on the deny list
    fraud_id = await page.get_attribute("#list-table tbody tr:nth-child(2)", "data-list")
    await page.select_option('#member-check select[name="list"]', fraud_id)
    await page.fill('#member-check input[name="member"]', "fraud-1499")
    await page.click('#member-check button[type="submit"]')
    await page.wait_for_function("document.querySelector('#member-answer').textContent.includes('在名单中')")
    await shot(page, tmp_path, "lists", docs=True)

    # a bad id refuses the whole file, with its line; nothing is created
    await upload("Broken", "deny", "ok-1\nnot ok\n", "broken.csv")
    await page.wait_for_selector("#lists-error", state="visible")
    message = await page.text_content("#lists-error") or ""
    assert "会员ID无效" in message and "2" in message, message
    assert await rows.count() == 2

    # a live activity excludes the deny list: it cannot be deleted; the allow list can
    wheel = {
        "type": "wheel",
        "name": "Fraud-free wheel",
        "starts_at": local(-1) + ":00+08:00",
        "ends_at": local(30) + ":00+08:00",
        "audience": {"lists": {"exclude": [int(fraud_id or 0)]}},
        "prizes": [{"name": "Thanks", "type": "thanks", "weight": 1}],
    }
    admin = console.bearer("ops-lists", "operator")
    async with httpx.AsyncClient(base_url=console.url) as client:
        created = await client.post("/operator/activities", json=wheel, headers=admin)
        assert created.status_code == 201, created.text
        published = await client.post(f"/operator/activities/{created.json()['id']}/publish", headers=admin)
        assert published.status_code == 200, published.text
    await page.reload()
    await page.click(f'[data-delete="{fraud_id}"]')
    await page.wait_for_function(
        "document.querySelector('#lists-error').textContent.includes('仍有未结束的活动在使用此名单')"
    )
    async with page.expect_navigation():
        await page.click("#list-table tbody tr:nth-child(1) [data-delete]")
    assert await rows.count() == 1
    assert errors == [], errors
