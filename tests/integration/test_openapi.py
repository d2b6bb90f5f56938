"""The OpenAPI document tells the truth: every POST body, our error shape, the bearer scheme.
And the answers the fuzzer (tests/e2e/test_fuzz.py) once caught outside it, each pinned here."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import create_app
from api.openapi import BODIES, ERROR, ERRORS, EXAMPLES, operations
from tests.conftest import Env, assist_spec


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    schema: dict[str, Any] = create_app().openapi_schema.to_schema()
    return schema


def test_every_post_documents_its_body(document: dict[str, Any]) -> None:
    app = create_app()
    posts = {(method, path) for method, path, _ in operations(app) if method in {"POST", "PUT", "PATCH"}}
    assert posts == set(BODIES), "add the route's body to api.openapi.BODIES (or give it a typed data: body)"
    for method, path in posts:
        assert "requestBody" in document["paths"][path][method.lower()], (method, path)


def test_every_route_documents_our_errors_and_its_token(document: dict[str, Any]) -> None:
    assert set(document["components"]["schemas"][ERROR]["required"]) == {"code", "message", "details"}
    for method, path, needs_token in operations(create_app()):
        operation = document["paths"][path][method.lower()]
        if path.startswith("/health"):
            continue
        for status in ERRORS:
            if status in (401, 403) and not needs_token:
                continue
            content = operation["responses"][str(status)]["content"]["application/json"]
            assert content["schema"] == {"$ref": f"#/components/schemas/{ERROR}"}, (method, path, status)
        assert ("security" in operation) == needs_token, (method, path)


def test_create_documents_every_gameplay(document: dict[str, Any]) -> None:
    body = document["paths"]["/operator/activities"]["post"]["requestBody"]
    options = body["content"]["application/json"]["schema"]["anyOf"]
    assert [o["$ref"].rsplit(".", 1)[1] for o in options] == [
        "LotterySpec",
        "CheckinSpec",
        "AssistSpec",
        "ReservationSpec",
        "EventGiftSpec",
        "TasksSpec",
        "QuizSpec",
    ]
    assert body["required"] is True
    prize = document["components"]["schemas"]["in.PrizeSpec"]["properties"]["value_cny"]
    assert {"type": "number"} in prize["anyOf"]  # 999 and "999.00" both decode


async def test_options_lists_every_method_of_the_path(env: Env) -> None:
    for path, allowed in (
        ("/operator/activities", "GET, OPTIONS, POST"),
        ("/activities/1/reservations", "GET, OPTIONS, POST"),
        ("/health", "GET, OPTIONS"),
    ):
        response = await env.client.options(path)
        assert response.headers["allow"] == allowed, path


async def test_a_share_token_with_non_ascii_characters_is_not_found(env: Env) -> None:
    """Was a 500: hmac.compare_digest refuses str with non-ASCII characters."""
    activity = await env.create(assist_spec())
    started = await env.client.post(f"/activities/{activity['id']}/initiatives", headers=env.player("u1"))
    token = started.json()["share_token"]
    for bad in ("\u00f3F\u00aem.R~", token[:-1] + "\u00e9", "x.\u00e9\u00e9"):
        response = await env.client.post(f"/assists/{bad}/helps", headers=env.player("u2"))
        assert (response.status_code, response.json()["code"]) == (404, "share_token_invalid"), response.text
        response = await env.client.get(f"/assists/{bad}")
        assert (response.status_code, response.json()["code"]) == (404, "share_token_invalid"), response.text


async def test_calendar_month_outside_the_documented_pattern_is_400(env: Env) -> None:
    """Was documented as any NNNN-NN, so `4652-29` was a valid request that got 400."""
    for month in ("4652-29", "2026-00", "0000-01"):
        response = await env.client.get(f"/activities/1/calendar?month={month}", headers=env.player())
        assert (response.status_code, response.json()["code"]) == (400, "invalid_parameter"), month


def test_the_list_parameters_are_documented(document: dict[str, Any]) -> None:
    """Every list takes a bounded `limit` and an opaque `cursor` (activities/pages.py)."""
    for path in ("/me/draws", "/players/{user_id}/draws", "/me/points/history", "/operator/activities"):
        params = {p["name"]: p["schema"] for p in document["paths"][path]["get"]["parameters"]}
        assert (params["limit"]["minimum"], params["limit"]["maximum"]) == (1, 200), path
        assert (params["cursor"]["maxLength"], params["cursor"]["pattern"]) == (200, "^[A-Za-z0-9_-]+$"), path


async def test_the_documented_examples_work(env: Env) -> None:
    """Examples the docs UI shows, and the fuzzer starts from: each is accepted as it stands."""
    for name, spec in EXAMPLES["POST", "/operator/activities"].items():
        response = await env.client.post("/operator/activities", json=spec, headers=env.operator())
        assert response.status_code == 201, (name, response.text)
    listed = (await env.client.get("/operator/activities", headers=env.operator())).json()["items"]
    (wheel,) = [a for a in listed if a["type"] == "wheel"]
    wheel_id, prize_id = wheel["id"], wheel["prizes"][0]["id"]
    (stock,) = EXAMPLES["POST", "/operator/activities/{activity_id}/prizes/{prize_id}/stock"].values()
    response = await env.client.post(
        f"/operator/activities/{wheel_id}/prizes/{prize_id}/stock", json=stock, headers=env.operator()
    )
    assert response.status_code == 200, response.text
    (grant,) = EXAMPLES["POST", "/operator/members/{user_id}/points"].values()
    response = await env.client.post(
        "/operator/members/u1/points", json=grant, headers={**env.operator(), "Idempotency-Key": "example"}
    )
    assert response.status_code == 201, response.text
