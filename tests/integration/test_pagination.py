"""Every list is {"items", "next_cursor"}: keyset pages that neither repeat nor skip, opaque
cursors validated (400 invalid_cursor), RFC 3339 times and no internal fields for players; and
`details.field` on a body validation error."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import pytest

from activities.pages import decode_cursor, encode_cursor
from tests.conftest import Env, assist_spec, reservation_spec, wheel

INTERNAL = {"shard", "stream_id", "ref", "at_ms", "drawn_at_ms", "user_id"}


async def _walk(env: Env, url: str, headers: dict[str, str], limit: int) -> list[list[Any]]:
    """Every page of a list, following next_cursor."""
    pages: list[list[Any]] = []
    cursor = None
    while True:
        sep = "&" if "?" in url else "?"
        page_url = f"{url}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await env.client.get(page_url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50


async def test_draws_page_newest_first_without_repeats(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    drawn = [(await env.draw(activity["id"], key=f"k{i}")).json()["draw_id"] for i in range(5)]
    env.clock.advance(seconds=1)
    drawn += [(await env.draw(activity["id"], key=f"l{i}")).json()["draw_id"] for i in range(2)]
    await env.platform.audit_writer.drain()
    for url in ("/me/draws", f"/me/draws?activity={activity['id']}", "/players/u1/draws"):
        pages = await _walk(env, url, env.player(), limit=2)
        assert [len(p) for p in pages] == [2, 2, 2, 1]
        ids = [d["draw_id"] for page in pages for d in page]
        assert sorted(ids) == sorted(drawn) and len(set(ids)) == 7
        times = [datetime.fromisoformat(d["drawn_at"]) for page in pages for d in page]
        assert times == sorted(times, reverse=True)
        assert all(d["drawn_at"].endswith("+08:00") for page in pages for d in page)  # the activity's zone
    # A draw made after the first page was read does not shift the next pages.
    first = (await env.client.get("/me/draws?limit=3", headers=env.player())).json()
    await env.draw(activity["id"], key="late")
    await env.platform.audit_writer.drain()
    rest = (await env.client.get(f"/me/draws?limit=10&cursor={first['next_cursor']}", headers=env.player())).json()
    assert [d["draw_id"] for d in first["items"] + rest["items"]] == ids


async def test_points_history_pages_show_no_internal_fields(env: Env) -> None:
    ops = env.operator()
    for i in range(5):
        headers = {**ops, "Idempotency-Key": f"g{i}"}
        response = await env.client.post("/operator/members/u1/points", json={"amount": i + 1}, headers=headers)
        assert response.status_code == 201, response.text
    await env.platform.audit_writer.drain()
    pages = await _walk(env, "/me/points/history", env.player(), limit=2)
    entries = [e for page in pages for e in page]
    assert [e["delta"] for e in entries] == [5, 4, 3, 2, 1]
    assert [e["balance_after"] for e in entries] == [15, 10, 6, 3, 1]
    for entry in entries:
        assert not INTERNAL & set(entry), entry
        assert datetime.fromisoformat(entry["at"]).utcoffset() is not None  # RFC 3339 with an offset


async def test_activities_and_reservations_page(env: Env) -> None:
    created = [(await env.create(wheel(name=f"W{i}")))["id"] for i in range(3)]
    reservations = await env.create(reservation_spec())
    created.append(reservations["id"])
    pages = await _walk(env, "/operator/activities", env.operator(), limit=3)
    assert [a["id"] for page in pages for a in page] == sorted(created, reverse=True)
    made = [(await env.reserve(reservations["id"], day)).json()["code"] for day in ("2026-06-04", "2026-06-03")]
    pages = await _walk(env, f"/activities/{reservations['id']}/reservations", env.player(), limit=1)
    assert [[r["code"] for r in page] for page in pages] == [[made[1]], [made[0]]]  # by date
    assert all(p[0]["cancel_until"].endswith("+08:00") for p in pages)


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64-json",
        base64.urlsafe_b64encode(b"{}").decode().rstrip("="),
        encode_cursor((1,)),  # another list's shape
        encode_cursor(("a", 1)),
        encode_cursor((-1, 5)),
        encode_cursor((2**63, 5)),
        "A" * 200,
    ],
)
async def test_a_cursor_that_is_not_one_is_a_400(env: Env, cursor: str) -> None:
    for url in ("/me/draws", "/me/points/history"):
        response = await env.client.get(f"{url}?cursor={cursor}", headers=env.player())
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_cursor"
    response = await env.client.get(f"/operator/activities?cursor={encode_cursor((1, 2))}", headers=env.operator())
    assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor")


def test_cursors_round_trip() -> None:
    assert decode_cursor(encode_cursor((1_700_000_000_000, 42)), (int, int)) == (1_700_000_000_000, 42)
    assert decode_cursor(encode_cursor(("2026-06-03", 5, "AB")), (str, int, str)) == ("2026-06-03", 5, "AB")
    assert decode_cursor(None, (int,)) is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (wheel(limits={"per_user_daily": 10**15}), "limits.per_user_daily"),
        (wheel(limits={"per_user_daily": "3"}), "limits.per_user_daily"),
        (
            wheel(prizes=[{"name": "P", "type": "goods", "weight": 1, "stock": 1, "value_cny": 1, "oops": 1}]),
            "prizes[0].oops",
        ),
        (wheel(prizes=[{"type": "goods", "weight": 1}]), "prizes[0].name"),
        ({k: v for k, v in wheel().items() if k != "name"}, "name"),
    ],
)
async def test_a_body_validation_error_names_the_field(env: Env, spec: dict[str, Any], field: str) -> None:
    response = await env.client.post("/operator/activities", json=spec, headers=env.operator())
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_body" and body["details"]["field"] == field, body


async def test_a_members_initiatives_page(env: Env) -> None:
    activity = await env.create(assist_spec(assist={"initiatives_per_user": 3}))
    started = []
    for round_ in range(3):
        initiative = (await env.start(activity["id"])).json()
        started.append(initiative["initiative_id"])
        if round_ < 2:  # complete it, so that the member can start another
            for friend in ("f1", "f2", "f3"):
                assert (await env.help(initiative["share_token"], f"{friend}-{round_}")).status_code == 201
        env.clock.advance(seconds=1)
    await env.start(activity["id"], user="u2")  # someone else's: not listed
    await env.platform.audit_writer.drain()
    pages = await _walk(env, f"/activities/{activity['id']}/initiatives", env.player(), limit=2)
    listed = [i for page in pages for i in page]
    assert [i["initiative_id"] for i in listed] == started[::-1]
    assert [i["status"] for i in listed] == ["open", "completed", "completed"]
    assert all(i["started_at"].endswith("+08:00") and i["helpers"] is not None for i in listed)
