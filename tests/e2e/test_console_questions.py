"""A quiz's question bank in the back office (issue 15), in a real browser against a real
`promo serve`: the operator goes from the quiz's page to its bank, adds a single-choice and a
multiple-choice question through the form (options one per line, correct options numbered from
1), sees them listed with their correct options marked, is refused a question whose answer is not
an option (the reason in its language, nothing added), and retires one. The screenshot goes to
docs/console-questions.png with PROMO_DOCS_SCREENSHOTS=1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_console_browser import Console, browser, console, local, log_in, new_page, shot

__all__ = ["browser", "console"]  # the fixtures, shared with the console's main browser test


async def test_the_question_bank_page(console: Console, browser: Any, tmp_path: Path) -> None:
    admin = console.bearer("ops-quiz", "operator")
    window = {"starts_at": local(-1) + ":00+08:00", "ends_at": local(30) + ":00+08:00"}
    wheel = {
        "type": "wheel",
        "name": "Quiz prizes",
        **window,
        "prizes": [
            {"name": "Thanks", "type": "thanks", "weight": 90},
            {"name": "Mug", "type": "goods", "weight": 10, "stock": 100, "value_cny": "30"},
        ],
    }
    async with httpx.AsyncClient(base_url=console.url) as client:
        created = await client.post("/operator/activities", json=wheel, headers=admin)
        assert created.status_code == 201, created.text
        quiz = {
            "type": "quiz",
            "name": "Tea quiz",
            **window,
            "quiz": {
                "questions": 1,
                "pass_mark": 1,
                "time_limit_s": 60,
                "attempts_per_day": 2,
                "chances": 1,
                "linked_lottery_id": created.json()["id"],
            },
        }
        made = await client.post("/operator/activities", json=quiz, headers=admin)
        assert made.status_code == 201, made.text
        quiz_id = made.json()["id"]

    errors: list[str] = []
    page = await new_page(browser, errors)
    await log_in(page, console.url, "admin", console.admin_password)
    await page.goto(f"{console.url}/console/activities/{quiz_id}")
    await page.click("#questions-link")
    await page.wait_for_url(f"**/console/activities/{quiz_id}/questions")
    assert await page.is_visible("#no-questions")

    async def add(text: str, kind: str, options: str, answer: str, explanation: str = "") -> None:
        await page.fill('#question-form textarea[name="text"]', text)
        await page.select_option('#question-form select[name="kind"]', kind)
        await page.fill('#question-form textarea[name="options"]', options)
        await page.fill('#question-form input[name="answer"]', answer)
        await page.fill('#question-form textarea[name="explanation"]', explanation)
        await page.click('#question-form button[type="submit"]')

    async with page.expect_navigation():
        await add("Where is Longjing tea grown?", "single", "Yunnan\nHangzhou\nFujian", "2", "West Lake, Hangzhou.")
    async with page.expect_navigation():
        await add("Which are green teas?", "multiple", "Longjing\nPu'er\nBiluochun\nDa Hong Pao", "1, 3")
    rows = page.locator("#question-list tbody tr")
    assert await rows.count() == 2
    assert await page.text_content("#question-list tbody tr:nth-child(1) li.correct") == "Hangzhou ✔"
    correct = await page.eval_on_selector_all(
        "#question-list tbody tr:nth-child(2) li.correct", "els => els.map(e => e.textContent)"
    )
    assert correct == ["Longjing ✔", "Biluochun ✔"]
    assert "West Lake, Hangzhou." in (await page.text_content("#question-list") or "")
    await shot(page, tmp_path, "questions", docs=True)

    # an answer that is not an option: the API's refusal, in the operator's words; nothing added
    await add("A bad question", "single", "Yes\nNo", "5")
    await page.wait_for_selector("#question-error", state="visible")
    assert "正确选项必须是列出的选项之一" in (await page.text_content("#question-error") or "")
    assert await rows.count() == 2

    # retire the first question (confirmed): new sessions no longer draw it
    async with page.expect_navigation():
        await page.click("#question-list tbody tr:nth-child(1) [data-retire]")
    assert await rows.count() == 1
    assert "Which are green teas?" in (await page.text_content("#question-list") or "")
    assert errors == [], errors
