"""The campaign workflow API (issue 13): filtered lists, edit / delete / clone a draft, templates,
the calendar, a live end time extended, reservations searched and exported, member lookup."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.conftest import Env, checkin_spec, reservation_spec, wheel


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def test_list_filters_and_pages(env: Env) -> None:
    op = env.operator()
    a = await env.create(wheel(name="Spring wheel"), publish=False)
    b = await env.create(wheel(name="Summer wheel"))
    c = await env.create(checkin_spec(name="Daily sign-in"), publish=False)
    page = await ok(await env.client.get("/operator/activities?status=draft", headers=op))
    assert [i["id"] for i in page["items"]] == [c["id"], a["id"]]
    page = await ok(await env.client.get("/operator/activities?type=wheel&q=SUMMER", headers=op))
    assert [i["id"] for i in page["items"]] == [b["id"]]
    first = await ok(await env.client.get("/operator/activities?limit=2&type=wheel", headers=op))
    assert first["next_cursor"] is None and len(first["items"]) == 2
    first = await ok(await env.client.get("/operator/activities?limit=1&status=draft", headers=op))
    second = await ok(
        await env.client.get(f"/operator/activities?limit=1&status=draft&cursor={first['next_cursor']}", headers=op)
    )
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [c["id"], a["id"]]
    none = await ok(await env.client.get("/operator/activities?q=nothing-like-it", headers=op))
    assert none == {"items": [], "next_cursor": None}
    window = "starts_from=2026-08-01"
    page = await ok(await env.client.get(f"/operator/activities?{window}", headers=op))
    assert [i["id"] for i in page["items"]] == [c["id"]]  # the wheels end on 1 July
    bad = await env.client.get("/operator/activities?status=sleeping", headers=op)
    assert bad.status_code == 400


async def test_edit_a_draft(env: Env) -> None:
    op = env.operator()
    draft = await env.create(wheel(), publish=False)
    path = f"/operator/activities/{draft['id']}"
    prizes = [
        {"name": "Tablet", "type": "goods", "weight": 5, "stock": 3, "value_cny": 2999},
        {"name": "Thanks", "type": "thanks", "weight": 95},
    ]
    edited = await ok(await env.client.patch(path, json={"name": "Autumn wheel", "prizes": prizes}, headers=op))
    assert edited["id"] == draft["id"] and edited["name"] == "Autumn wheel"
    assert [p["name"] for p in edited["prizes"]] == ["Tablet", "Thanks"]
    assert edited["limits"] == draft["limits"]  # what the PATCH did not name is kept
    # the same validation as a create: refused, nothing changed
    refused = await env.client.patch(path, json={"prizes": [prizes[0]]}, headers=op)
    assert refused.status_code == 422 and refused.json()["code"] == "consolation_prize_required"
    refused = await env.client.patch(path, json={"prizes": [{**prizes[0], "weight": "5"}]}, headers=op)
    assert refused.status_code == 422 and refused.json()["details"]["field"] == "prizes[0].weight"
    refused = await env.client.patch(path, json={"type": "checkin"}, headers=op)
    assert refused.status_code == 422
    assert (await ok(await env.client.get(path, headers=op)))["name"] == "Autumn wheel"
    await ok(await env.client.post(f"{path}/publish", headers=op))
    live = await env.client.patch(path, json={"name": "Too late"}, headers=op)
    assert live.status_code == 409 and live.json()["code"] == "not_a_draft"
    assert (await env.client.delete(path, headers=op)).status_code == 409
    assert (await env.client.patch("/operator/activities/999", json={}, headers=op)).status_code == 404


async def test_edit_a_sign_in_draft_through_its_gameplay(env: Env) -> None:
    draft = await env.create(checkin_spec(), publish=False)
    rules = {**draft["checkin"], "makeup": {"per_cycle": 1, "max_days_back": 2, "points_cost": 5}}
    edited = await ok(
        await env.client.patch(f"/operator/activities/{draft['id']}", json={"checkin": rules}, headers=env.operator())
    )
    assert edited["checkin"]["makeup"]["points_cost"] == 5


async def test_delete_a_draft(env: Env) -> None:
    draft = await env.create(wheel(), publish=False)
    response = await env.client.delete(f"/operator/activities/{draft['id']}", headers=env.operator())
    assert response.status_code == 204
    assert (await env.client.get(f"/operator/activities/{draft['id']}", headers=env.operator())).status_code == 404


async def test_clone_and_templates(env: Env) -> None:
    op = env.operator()
    live = await env.create(wheel())
    dates = {"starts_at": "2026-07-01T00:00:00+08:00", "ends_at": "2026-08-01T00:00:00+08:00"}
    copy = await ok(await env.client.post(f"/operator/activities/{live['id']}/clone", json=dates, headers=op), 201)
    assert copy["id"] != live["id"] and copy["status"] == "draft" and copy["name"] == "Summer wheel (copy)"
    assert copy["starts_at"] == dates["starts_at"]
    assert [(p["name"], p["weight"], p["stock"]) for p in copy["prizes"]] == [
        (p["name"], p["weight"], p["stock"]) for p in live["prizes"]
    ]
    signin = await env.create(checkin_spec())
    cloned = await ok(await env.client.post(f"/operator/activities/{signin['id']}/clone", headers=op), 201)
    assert cloned["type"] == "checkin" and cloned["checkin"] == signin["checkin"]
    template = await ok(
        await env.client.post(f"/operator/activities/{live['id']}/template", json={"name": "Our wheel"}, headers=op),
        201,
    )
    listed = await ok(await env.client.get("/operator/templates", headers=op))
    assert [t["name"] for t in listed["items"]] == ["Our wheel"]
    made = await ok(
        await env.client.post(f"/operator/templates/{template['id']}/activities", json=dates, headers=op), 201
    )
    assert made["name"] == "Our wheel" and made["status"] == "draft" and made["ends_at"] == dates["ends_at"]
    assert (await env.client.post("/operator/templates/99/activities", headers=op)).status_code == 404


async def test_calendar(env: Env) -> None:
    june = await env.create(wheel())  # 1 May - 1 July
    august = await env.create(checkin_spec(), publish=False)  # 1 May - 1 September
    page = await ok(await env.client.get("/operator/calendar?month=2026-08", headers=env.operator()))
    assert [a["id"] for a in page["activities"]] == [august["id"]]
    page = await ok(await env.client.get("/operator/calendar?month=2026-06", headers=env.operator()))
    assert {a["id"] for a in page["activities"]} == {june["id"], august["id"]}
    assert (await env.client.get("/operator/calendar?month=2026-13", headers=env.operator())).status_code == 400


async def test_extend_a_live_activity(env: Env) -> None:
    live = await env.create(wheel(ends_at="2026-06-02T00:00:00+08:00"))
    path = f"/operator/activities/{live['id']}/window"
    earlier = await env.client.patch(path, json={"ends_at": "2026-06-01T23:00:00+08:00"}, headers=env.operator())
    assert earlier.status_code == 409
    env.clock.advance(days=1)
    assert (await env.draw(live["id"])).json()["code"] == "already_ended"
    later = await ok(
        await env.client.patch(path, json={"ends_at": "2026-06-09T00:00:00+08:00"}, headers=env.operator())
    )
    assert later["ends_at"] == "2026-06-09T00:00:00+08:00"
    assert (await env.draw(live["id"])).status_code == 201


async def test_reservations_search_and_csv(env: Env) -> None:
    activity = await env.create(reservation_spec())
    env.clock.advance(days=1)  # 2 June: 3 June is open
    codes = {}
    for user, store in (("m1", "S1"), ("m2", "S2"), ("m3", "S1")):
        codes[user] = (await ok(await env.reserve(activity["id"], "2026-06-03", store=store, user=user), 201))["code"]
    await env.platform.audit_writer.drain()
    path = f"/operator/activities/{activity['id']}/reservations"
    op = env.operator()
    page = await ok(await env.client.get(f"{path}?store=S1", headers=op))
    assert [i["user_id"] for i in page["items"]] == ["m3", "m1"]
    page = await ok(await env.client.get(f"{path}?code={codes['m2']}", headers=op))
    assert [i["user_id"] for i in page["items"]] == ["m2"] and page["items"][0]["status"] == "reserved"
    first = await ok(await env.client.get(f"{path}?limit=2", headers=op))
    rest = await ok(await env.client.get(f"{path}?limit=2&cursor={first['next_cursor']}", headers=op))
    assert [i["user_id"] for i in first["items"] + rest["items"]] == ["m3", "m2", "m1"]
    exported = await env.client.get(f"{path}?format=csv&date=2026-06-03", headers=op)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv"), exported.text[:300]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["user_id"] for r in rows) == ["m1", "m2", "m3"] and rows[0]["status"] == "reserved"
    member = await ok(await env.client.get("/operator/members/m2", headers=op))
    assert [r["code"] for r in member["gameplays"]["reservation"]] == [codes["m2"]]


async def test_member_lookup(env: Env) -> None:
    live = await env.create(wheel())
    for _ in range(3):
        await ok(await env.draw(live["id"], user="m9"), 201)
    await env.platform.audit_writer.drain()
    member = await ok(await env.client.get("/operator/members/m9", headers=env.operator()))
    draws = member["gameplays"]["lottery"]
    assert len(draws) == 3 and all(d["won"] == (d["prize_id"] != live["prizes"][2]["id"]) for d in draws)
    assert set(member["gameplays"]) == {"lottery", "checkin", "assist", "reservation"}
    assert (await env.client.get("/operator/members/bad|id", headers=env.operator())).status_code == 422
