"""The console's analytics page: the overview report drawn with the vendored ECharts (in-process:
the page, its chart holders, the report's data and the CSV links; no browser here)."""

from __future__ import annotations

import json
import re

from tests.conftest import Env, checkin_spec, wheel
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


CHARTS = {
    "funnel": ("chart-funnel", "chart-stores"),
    "checkin": ("chart-signins", "chart-streaks"),
    "assist": ("chart-assist", "chart-depths"),
    "points": ("chart-points",),
    "experiment": ("chart-variants",),
}


async def test_every_report_has_its_page(env: Env) -> None:
    await env.platform.accounts.create("an1", PASSWORD, "analyst")
    aid = (await env.create(checkin_spec()))["id"]
    for user in ("a", "b"):
        assert (await env.sign_in(aid, user=user)).status_code in (200, 201)
    await env.platform.audit_writer.drain()
    assert (await login(env, "an1")).status_code in (200, 303)
    overview = (await env.client.get(f"/console/activities/{aid}/analytics")).text
    for name, charts in CHARTS.items():
        assert f'href="/console/activities/{aid}/analytics/{name}"' in overview
        page = await env.client.get(f"/console/activities/{aid}/analytics/{name}")
        assert page.status_code == 200, page.text
        for chart in charts:
            assert f'id="{chart}"' in page.text
        found = re.search(r'<script id="analytics-data" type="application/json">(.*?)</script>', page.text, re.S)
        assert found and json.loads(found[1])["activity_id"] == aid
    checkin = (await env.client.get(f"/console/activities/{aid}/analytics/checkin")).text
    assert "D1 / D7 / D30" in checkin and '<table class="list" id="rows">' in checkin
    assert (await env.client.get(f"/console/activities/{aid}/analytics/nope")).status_code in (400, 404)
