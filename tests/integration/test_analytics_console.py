"""The console's analytics page: the overview report drawn with the vendored ECharts (in-process:
the page, its chart holders, the report's data and the CSV links; no browser here)."""

from __future__ import annotations

import json
import re

from tests.conftest import Env, wheel
from tests.integration.test_console import PASSWORD, login


async def test_the_analytics_page_carries_the_overview_and_its_charts(env: Env) -> None:
    await env.platform.accounts.create("an1", PASSWORD, "analyst")
    activity = await env.create(wheel(limits={}))
    aid = activity["id"]
    for i in range(6):
        assert (await env.draw(aid, user=f"u{i % 3}", json={"channel": "h5" if i % 2 else "app"})).status_code == 201
    await env.platform.audit_writer.drain()
    assert (await login(env, "an1")).status_code in (200, 303)
    page = await env.client.get(f"/console/activities/{aid}/analytics")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'src="/console/static/echarts.min.js"' in html
    for chart in ("chart-days", "chart-channels", "chart-prizes"):
        assert f'id="{chart}"' in html
    found = re.search(r'<script id="analytics-data" type="application/json">(.*?)</script>', html, re.S)
    assert found
    report = json.loads(found[1])
    assert report["totals"]["actions"] == 6 and report["totals"]["participants"] == 3
    assert {c["channel"] for c in report["by_channel"]} == {"h5", "app"}
    assert f"/operator/activities/{aid}/reports/funnel?format=csv" in html
    assert (await env.client.get("/console/activities/999/analytics")).status_code == 404
