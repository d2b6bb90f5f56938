"""The reports: JSON and streamed CSV from the rollups, in the activity's time zone, and the raw
events export."""

from __future__ import annotations

import csv
import io

from tests.conftest import Env, assist_spec, checkin_spec, reservation_spec, wheel


async def _report(env: Env, activity_id: int, name: str, **params: str) -> dict[str, object]:
    path = f"/operator/activities/{activity_id}/reports/{name}"
    response = await env.client.get(path, params=params, headers=env.operator())
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


async def test_overview_funnel_points_of_a_wheel(env: Env) -> None:
    activity = await env.create(wheel(limits={}, points_cost=0))
    aid = activity["id"]
    for i in range(30):
        assert (await env.draw(aid, user=f"u{i % 10}")).status_code == 201
    await env.platform.audit_writer.drain()
    overview = await _report(env, aid, "overview")
    totals = overview["totals"]
    assert isinstance(totals, dict)
    assert totals["actions"] == 30 and totals["participants"] == 10
    assert totals["actions_per_participant"] == 3.0
    by_channel = overview["by_channel"]
    assert isinstance(by_channel, list)
    assert {c["channel"] for c in by_channel} <= {"h5", "mini_program", "app", "other"}
    assert sum(c["actions"] for c in by_channel) == 30
    assert {"participants", "actions", "cost_cny"} <= set(by_channel[0])
    assert overview["timezone"] == "Asia/Shanghai"
    prizes = overview["prizes"]
    assert isinstance(prizes, list) and sum(p["wins"] for p in prizes) == 30
    funnel = await _report(env, aid, "funnel")
    steps = funnel["steps"]
    assert isinstance(steps, list) and [s["step"] for s in steps] == ["viewed", "participated", "won"]
    assert (await _report(env, aid, "points"))["totals"] == {"granted": 0, "spent": 0, "net": 0}
    experiment = await _report(env, aid, "experiment")
    assert experiment["declared"] is False

    response = await env.client.get(
        f"/operator/activities/{aid}/reports/overview", params={"format": "csv"}, headers=env.operator()
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert sum(int(line["actions"]) for line in lines) == 30

    day = lines[0]["day"]
    response = await env.client.get(
        f"/operator/activities/{aid}/events", params={"from": day, "to": day}, headers=env.operator()
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    events = list(csv.DictReader(io.StringIO(response.text)))
    assert sum(1 for e in events if e["table"] == "draws") == 30


async def test_checkin_report_counts_signins_and_streaks(env: Env) -> None:
    activity = await env.create(checkin_spec())
    aid = activity["id"]
    for day in range(3):
        for user in ("a", "b", "c")[: 3 - day]:
            assert (await env.sign_in(aid, user=user)).status_code in (200, 201)
        await env.platform.audit_writer.drain()
        env.clock.advance(days=1)
    report = await _report(env, aid, "checkin")
    rows = report["rows"]
    assert isinstance(rows, list)
    assert [r["signins"] for r in rows] == [3, 2, 1]
    assert rows[0]["d1"] == round(2 / 3, 6)  # a and b came back the next day
    streaks = report["streaks"]
    assert isinstance(streaks, list)
    assert {s["streak"]: s["signins"] for s in streaks} == {1: 3, 2: 2, 3: 1}


async def test_bad_requests(env: Env) -> None:
    activity = await env.create(wheel())
    base = f"/operator/activities/{activity['id']}/reports"
    assert (await env.client.get(f"{base}/nope", headers=env.operator())).json()["code"] == "invalid_parameter"
    response = await env.client.get(f"{base}/overview", params={"from": "2026-13-01"}, headers=env.operator())
    assert response.status_code == 400, response.text
    response = await env.client.get(
        f"{base}/overview", params={"from": "2026-06-02", "to": "2026-06-01"}, headers=env.operator()
    )
    assert (response.status_code, response.json()["code"]) == (422, "range_invalid")
    assert (
        await env.client.get("/operator/activities/999/reports/overview", headers=env.operator())
    ).status_code == 404
    assert (await env.client.get(f"{base}/overview", headers=env.player("u1"))).status_code == 403


async def test_views_are_counted_and_persisted(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    aid = activity["id"]
    for i in range(12):
        params = {"channel": "h5" if i % 3 else "app", "visitor": f"v{i % 6}"}
        assert (await env.client.get(f"/activities/{aid}", params=params)).status_code == 200
    assert (await env.client.get(f"/activities/{aid}", params={"channel": "tv"})).status_code == 400
    await env.draw(aid, user="u1")
    await env.platform.audit_writer.drain()
    assert env.platform.views is not None
    assert await env.platform.views.persist(force=True) == 2
    overview = await _report(env, aid, "overview")
    totals = overview["totals"]
    assert isinstance(totals, dict)
    assert totals["visitors"] == 4 + 2  # v1, v2, v4, v5 on h5; v0, v3 on the app (per channel, summed)
    assert totals["participation_rate"] == round(1 / 6, 6)


async def test_assist_report_counts_the_viral_loop(env: Env) -> None:
    activity = await env.create(assist_spec("collect"))
    aid = activity["id"]
    mine = (await env.start(aid, user="u1")).json()
    for i in range(3):
        assert (await env.help(mine["share_token"], f"f{i}")).status_code in (200, 201)
    await env.platform.audit_writer.drain()
    assert (await env.start(aid, user="f0")).status_code in (200, 201)  # a helper starts their own
    await env.platform.audit_writer.drain()
    totals = (await _report(env, aid, "assist"))["totals"]
    assert isinstance(totals, dict)
    assert (totals["initiatives"], totals["helps"], totals["completions"]) == (2, 3, 1)
    assert totals["completion_rate"] == 0.5 and totals["helps_per_initiative"] == 1.5
    assert totals["new_members_brought"] == 3 and totals["helpers_who_became_initiators"] == 1
    assert totals["mean_time_to_complete_s"] == 0.0  # the test clock does not move


async def test_funnel_shows_reservations_by_store(env: Env) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    activity = await env.create(reservation_spec())
    aid = activity["id"]
    env.clock.set(datetime(2026, 5, 31, 12, tzinfo=tz))
    codes = []
    for user in ("u1", "u2", "u3"):
        response = await env.reserve(aid, "2026-06-03", user=user)
        assert response.status_code == 201, response.text
        codes.append(response.json()["code"])
    assert (await env.cancel(aid, codes[2], user="u3")).status_code == 200
    env.clock.set(datetime(2026, 6, 3, 11, tzinfo=tz))
    assert (await env.redeem(aid, code=codes[0])).status_code == 200
    await env.platform.audit_writer.drain()
    reservations = (await _report(env, aid, "funnel"))["reservations"]
    assert isinstance(reservations, dict)
    assert (reservations["reserved"], reservations["redeemed"], reservations["cancelled"]) == (3, 1, 1)
    assert reservations["by_store"] == [
        {"store": "S1", "reserved": 3, "redeemed": 1, "cancelled": 1, "expired": 0, "show_up_rate": 0.5}
    ]


async def test_a_report_as_an_xlsx_workbook(env: Env) -> None:
    import re
    import zipfile

    aid = (await env.create(wheel(limits={})))["id"]
    for i in range(8):
        assert (await env.draw(aid, user=f"u{i % 4}", json={"channel": "h5" if i % 2 else "app"})).status_code == 201
    await env.platform.audit_writer.drain()
    response = await env.client.get(
        f"/operator/activities/{aid}/reports/overview", params={"format": "xlsx"}, headers=env.operator()
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert response.headers["content-disposition"].endswith('.xlsx"')
    book = zipfile.ZipFile(io.BytesIO(response.content))
    names = re.findall(r'<sheet name="([^"]+)"', book.read("xl/workbook.xml").decode())
    assert names[0] == "summary" and {"rows", "by_channel", "prizes"} <= set(names)
    by_channel = book.read(f"xl/worksheets/sheet{names.index('by_channel') + 1}.xml").decode()
    assert by_channel.count("<row ") == 1 + 2  # the header, h5 and app
    strings = book.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in book.namelist() else ""
    assert "totals.actions" in by_channel + strings + book.read("xl/worksheets/sheet1.xml").decode()
