"""Every class of bad input gets the right 4xx with a machine-readable code, and changes nothing."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.conftest import Env, reservation_spec, wheel


def _expect(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert body["message"]


async def test_bad_json_unknown_fields_wrong_types(env: Env) -> None:
    ops = env.operator()
    _expect(await env.client.post("/operator/activities", content=b"{nope", headers=ops), 400, "malformed_json")
    _expect(
        await env.client.post("/operator/activities", json={**wheel(), "colour": "red"}, headers=ops),
        422,
        "invalid_body",
    )
    _expect(
        await env.client.post("/operator/activities", json={**wheel(), "name": 42}, headers=ops), 422, "invalid_body"
    )
    activity = await env.create(wheel())
    _expect(await env.draw(activity["id"], content=b'{"channel": '), 400, "malformed_json")
    _expect(await env.draw(activity["id"], json={"lucky": True}), 422, "invalid_body")
    _expect(await env.draw(activity["id"], json={"channel": 7}), 422, "invalid_body")
    _expect(await env.draw(activity["id"], json={"channel": "fax"}), 422, "invalid_body")
    _expect(await env.client.get("/me/draws?activity=abc", headers=env.player()), 400, "invalid_parameter")
    _expect(await env.client.get("/me/draws?limit=0", headers=env.player()), 400, "invalid_parameter")
    # None of it drew anything or created anything.
    assert (await env.counters(activity["id"]))["draws_total"] == 0
    listed = await env.client.get("/operator/activities", headers=ops)
    assert [a["id"] for a in listed.json()["items"]] == [activity["id"]]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"prizes": []}, "no_prizes"),
        ({"prizes": [{"name": "A", "type": "coupon", "weight": 1, "stock": 1}]}, "consolation_prize_required"),
        (
            {"prizes": [{"name": "T1", "type": "thanks", "weight": 1}, {"name": "T2", "type": "thanks", "weight": 1}]},
            "consolation_prize_required",
        ),
        ({"prizes": [{"name": "T", "type": "thanks", "weight": 1, "stock": 5}]}, "consolation_must_be_unlimited"),
        (
            {"prizes": [{"name": "A", "type": "goods", "weight": 1}, {"name": "T", "type": "thanks", "weight": 1}]},
            "stock_required",
        ),
        (
            {
                "prizes": [
                    {"name": "A", "type": "goods", "weight": 1, "stock": -1},
                    {"name": "T", "type": "thanks", "weight": 1},
                ]
            },
            "invalid_body",
        ),
        (
            {
                "prizes": [
                    {"name": "A", "type": "goods", "weight": -3, "stock": 1},
                    {"name": "T", "type": "thanks", "weight": 1},
                ]
            },
            "invalid_body",
        ),
        ({"prizes": [{"name": "T", "type": "thanks", "weight": 0}]}, "weights_all_zero"),
        (
            {
                "prizes": [
                    {"name": "Car", "type": "goods", "weight": 1, "stock": 1, "value_cny": 50000.01},
                    {"name": "T", "type": "thanks", "weight": 1},
                ]
            },
            "prize_value_too_high",
        ),
        ({"ends_at": "2026-04-01T00:00:00+08:00"}, "window_invalid"),
        ({"starts_at": "2026-05-01T00:00:00"}, "invalid_body"),  # no time zone
        ({"timezone": "Mars/Olympus"}, "unknown_timezone"),
        ({"type": "slot_machine"}, "invalid_body"),
        ({"limits": {"per_user_daily": 0}}, "invalid_body"),
    ],
)
async def test_activity_validation(env: Env, change: dict, code: str) -> None:
    response = await env.client.post("/operator/activities", json=wheel(**change), headers=env.operator())
    _expect(response, 422, code)
    assert (await env.client.get("/operator/activities", headers=env.operator())).json()["items"] == []


async def test_top_prize_of_exactly_50000_is_allowed(env: Env) -> None:
    spec = wheel(
        prizes=[
            {"name": "Car", "type": "goods", "weight": 1, "stock": 1, "value_cny": 50000},
            {"name": "T", "type": "thanks", "weight": 1},
        ]
    )
    assert (await env.client.post("/operator/activities", json=spec, headers=env.operator())).status_code == 201


async def test_unknown_draft_paused_and_out_of_window_activities(env: Env) -> None:
    _expect(await env.draw(999), 404, "activity_not_found")
    _expect(await env.client.get("/activities/999"), 404, "activity_not_found")
    draft = await env.create(wheel(), publish=False)
    _expect(await env.draw(draft["id"]), 404, "activity_not_found")  # players never see drafts
    _expect(await env.client.get(f"/activities/{draft['id']}"), 404, "activity_not_found")

    live = await env.create(wheel())
    await env.client.post(f"/operator/activities/{live['id']}/pause", headers=env.operator())
    _expect(await env.draw(live["id"]), 409, "activity_not_live")
    await env.client.post(f"/operator/activities/{live['id']}/resume", headers=env.operator())
    assert (await env.draw(live["id"])).status_code == 201

    future = await env.create(wheel(starts_at="2026-06-02T00:00:00+08:00"))
    _expect(await env.draw(future["id"]), 409, "not_started")
    past = await env.create(wheel(starts_at="2026-05-01T00:00:00+08:00", ends_at="2026-06-01T12:00:00+08:00"))
    _expect(await env.draw(past["id"]), 409, "already_ended")  # the end is exclusive
    await env.client.post(f"/operator/activities/{live['id']}/end", headers=env.operator())
    _expect(await env.draw(live["id"]), 409, "activity_not_live")


async def test_audience(env: Env) -> None:
    activity = await env.create(wheel(audience={"levels": ["gold", "platinum"], "tags": ["vip", "beauty"]}))
    ok = {**env.player("a", level="gold", tags=("beauty",)), "Idempotency-Key": "1"}
    assert (await env.client.post(f"/activities/{activity['id']}/draws", headers=ok)).status_code == 201
    for level, tags in (("silver", ("vip",)), ("gold", ("sports",)), (None, ("vip",)), ("gold", ())):
        headers = {**env.player("b", level=level, tags=tags), "Idempotency-Key": "2"}
        _expect(
            await env.client.post(f"/activities/{activity['id']}/draws", headers=headers), 403, "audience_not_allowed"
        )
    assert (await env.counters(activity["id"]))["draws_total"] == 1


async def test_tokens(env: Env) -> None:
    activity = await env.create(wheel())
    url = f"/activities/{activity['id']}/draws"
    key = {"Idempotency-Key": "t"}
    _expect(await env.client.post(url, headers=key), 401, "token_missing")
    _expect(await env.client.post(url, headers={**key, "Authorization": "Basic abc"}), 401, "token_invalid")
    _expect(await env.client.post(url, headers={**key, "Authorization": "Bearer not.a.jwt"}), 401, "token_invalid")
    expired = env.platform.tokens.issue("u1", ttl_s=60, now=time.time() - 3600)
    _expect(await env.client.post(url, headers={**key, "Authorization": f"Bearer {expired}"}), 401, "token_expired")
    forged = jwt.encode(
        {"sub": "u1", "role": "player", "exp": time.time() + 60, "iss": "promo-platform"},
        "another-secret-of-enough-length-0123456789",
        algorithm="HS256",
    )
    _expect(await env.client.post(url, headers={**key, "Authorization": f"Bearer {forged}"}), 401, "token_invalid")
    unsigned = jwt.encode(
        {"sub": "u1", "role": "operator", "exp": time.time() + 60, "iss": "promo-platform"}, "", "none"
    )
    _expect(
        await env.client.post("/operator/activities", json=wheel(), headers={"Authorization": f"Bearer {unsigned}"}),
        401,
        "token_invalid",
    )
    no_exp = jwt.encode({"sub": "u1", "role": "player", "iss": "promo-platform"}, "test-secret-" + "x" * 40, "HS256")
    _expect(await env.client.post(url, headers={**key, "Authorization": f"Bearer {no_exp}"}), 401, "token_invalid")
    assert (await env.counters(activity["id"]))["draws_total"] == 0


async def test_roles_and_other_players_data(env: Env) -> None:
    activity = await env.create(wheel())
    assert (await env.draw(activity["id"], user="alice")).status_code == 201
    await env.platform.audit_writer.drain()
    _expect(
        await env.client.post("/operator/activities", json=wheel(), headers=env.player()),
        403,
        "operator_token_required",
    )
    _expect(
        await env.client.get(f"/operator/activities/{activity['id']}/counters", headers=env.player()),
        403,
        "operator_token_required",
    )
    _expect(await env.client.get("/players/alice/draws", headers=env.player("mallory")), 403, "not_your_data")
    own = await env.client.get("/players/alice/draws", headers=env.player("alice"))
    assert own.status_code == 200 and len(own.json()["items"]) == 1
    assert len((await env.client.get("/players/alice/draws", headers=env.operator())).json()["items"]) == 1
    # /me/draws only ever shows the caller's own draws.
    assert (await env.client.get("/me/draws", headers=env.player("mallory"))).json() == {
        "items": [],
        "next_cursor": None,
    }
    headers = {**env.operator(), "Idempotency-Key": "x"}
    _expect(await env.client.post(f"/activities/{activity['id']}/draws", headers=headers), 403, "player_token_required")


async def test_idempotency_key_is_required_and_checked(env: Env) -> None:
    activity = await env.create(wheel())
    url = f"/activities/{activity['id']}/draws"
    _expect(await env.client.post(url, headers=env.player()), 400, "idempotency_key_required")
    bad = {**env.player(), "Idempotency-Key": "has space"}
    _expect(await env.client.post(url, headers=bad), 422, "idempotency_key_invalid")
    _expect(
        await env.client.post(url, headers={**env.player(), "Idempotency-Key": "k" * 129}),
        422,
        "idempotency_key_invalid",
    )


async def test_operator_actions(env: Env) -> None:
    activity = await env.create(wheel())
    ops = env.operator()
    base = f"/operator/activities/{activity['id']}"
    _expect(await env.client.post(f"{base}/publish", headers=ops), 409, "invalid_transition")
    _expect(await env.client.post(f"{base}/resume", headers=ops), 409, "invalid_transition")
    _expect(await env.client.post(f"{base}/explode", headers=ops), 404, "unknown_action")
    _expect(await env.client.post("/operator/activities/999/pause", headers=ops), 404, "activity_not_found")
    top, _, thanks = activity["prizes"]
    _expect(
        await env.client.post(f"{base}/prizes/{top['id']}/stock", json={"units": 0}, headers=ops),
        422,
        "units_not_positive",
    )
    _expect(
        await env.client.post(f"{base}/prizes/{top['id']}/stock", json={"units": "5"}, headers=ops), 422, "invalid_body"
    )
    _expect(await env.client.post(f"{base}/prizes/9999/stock", json={"units": 5}, headers=ops), 404, "prize_not_found")
    _expect(
        await env.client.post(f"{base}/prizes/{thanks['id']}/stock", json={"units": 5}, headers=ops),
        409,
        "stock_unlimited",
    )
    response = await env.client.post(f"{base}/prizes/{top['id']}/stock", json={"units": 3}, headers=ops)
    assert response.status_code == 200 and response.json()["prizes"][0]["stock"] == top["stock"] + 3
    await env.client.post(f"{base}/end", headers=ops)
    _expect(
        await env.client.post(f"{base}/prizes/{top['id']}/stock", json={"units": 1}, headers=ops), 409, "activity_ended"
    )
    _expect(await env.client.post(f"{base}/pause", headers=ops), 409, "invalid_transition")


async def test_public_view_discloses_odds_but_not_stock(env: Env) -> None:
    activity = await env.create(wheel())
    view = (await env.client.get(f"/activities/{activity['id']}")).json()
    assert [p["odds"] for p in view["prizes"]] == ["0.010000", "0.290000", "0.700000"]
    assert [p["odds_percent"] for p in view["prizes"]] == ["1.0000%", "29.0000%", "70.0000%"]
    assert all(p["stock"] is None and p["weight"] is None for p in view["prizes"])
    assert "consolation" in view["odds_rule"]


async def test_unknown_route_and_method(env: Env) -> None:
    _expect(await env.client.get("/nowhere"), 404, "not_found")
    _expect(await env.client.delete("/health"), 405, "method_not_allowed")


async def test_openapi_schema_renders(env: Env) -> None:
    response = await env.client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert "/activities/{activity_id}/draws" in response.json()["paths"]


async def test_redis_down_gives_503_never_500(env: Env, tmp_path) -> None:
    from dataclasses import replace

    from api.platform import Platform
    from tests.conftest import asgi_client

    activity = await env.create(wheel())
    broken = Platform.build(
        replace(env.platform.settings, redis_url=f"unix://{tmp_path}/no-redis.sock"), clock=env.clock
    )
    async with asgi_client(broken) as client:
        headers = {**env.player(), "Idempotency-Key": "down"}
        _expect(await client.post(f"/activities/{activity['id']}/draws", headers=headers), 503, "outcome_unknown")
        counters = await client.get(f"/operator/activities/{activity['id']}/counters", headers=env.operator())
        _expect(counters, 503, "service_unavailable")
        assert (await client.get(f"/activities/{activity['id']}")).status_code == 200  # SQL still answers
    await broken.close()


async def test_the_audit_lookup_finds_acknowledged_actions_once(env) -> None:
    activity = await env.create(wheel(limits={}))
    drawn = [(await env.draw(activity["id"])).json()["draw_id"] for _ in range(3)]
    await env.platform.audit_writer.drain()
    url = "/operator/audit/lookup"
    found = await env.client.post(url, json={"kind": "draw", "ids": [*drawn, "d-missing"]}, headers=env.operator())
    assert found.status_code == 200
    assert found.json() == {"kind": "draw", "rows": {**dict.fromkeys(drawn, 1), "d-missing": 0}}
    _expect(
        await env.client.post(url, json={"kind": "draw", "ids": drawn}, headers=env.player()),
        403,
        "operator_token_required",
    )
    _expect(
        await env.client.post(url, json={"kind": "nope", "ids": drawn}, headers=env.operator()), 422, "invalid_body"
    )
    _expect(await env.client.post(url, json={"kind": "draw", "ids": []}, headers=env.operator()), 422, "invalid_body")


async def test_an_empty_body_where_one_is_needed_is_a_422_and_the_document_says_required(env: Env) -> None:
    """Litestar does not decode an empty body: a typed `data:` without a default would be a 400
    about parameters. It is a 422 `invalid_body`, and the document marks that body required
    (a route whose `data:` has a default takes an empty body: the draw)."""
    activity = (await env.create(reservation_spec()))["id"]
    for content in (None, b""):
        answer = await env.client.post(
            f"/operator/activities/{activity}/redemptions", headers=env.operator(), content=content
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid_body"
    document = (await env.client.get("/schema/openapi.json")).json()
    redeem = document["paths"]["/operator/activities/{activity_id}/redemptions"]["post"]
    assert redeem["requestBody"]["required"] is True
    draw = document["paths"]["/activities/{activity_id}/draws"]["post"]
    assert draw["requestBody"]["required"] is False
