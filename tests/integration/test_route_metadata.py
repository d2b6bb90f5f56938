"""The routes' `opt` at work: the Idempotency-Key guard (after the token and the 404, before the
body), the activity lookup before a typed body, audit kinds from the registry."""

from __future__ import annotations

from typing import Any

from tests.conftest import Env, wheel


def _expect(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    if field is not None:
        assert response.json()["details"]["field"] == field, response.text


async def test_the_idempotency_key_is_checked_before_the_body(env: Env) -> None:
    url = "/operator/members/u1/points"
    ops = env.operator()
    _expect(await env.client.post(url, content=b"{nope", headers=ops), 400, "idempotency_key_required")
    bad_key = {**ops, "Idempotency-Key": "not a key"}
    _expect(await env.client.post(url, content=b"{nope", headers=bad_key), 422, "idempotency_key_invalid")
    keyed = {**ops, "Idempotency-Key": "k-1"}
    _expect(await env.client.post(url, content=b"{nope", headers=keyed), 400, "malformed_json")
    _expect(await env.client.post(url, json={"amount": 0}, headers=keyed), 422, "invalid_body", "amount")
    _expect(await env.client.post(url, json={"amount": 5}, headers=env.player()), 403, "operator_token_required")
    first = await env.client.post(url, json={"amount": 5}, headers=keyed)
    again = await env.client.post(url, json={"amount": 5}, headers=keyed)
    assert (first.status_code, first.json()["replayed"], again.json()["replayed"]) == (201, False, True)
    assert first.json()["balance"] == again.json()["balance"] == 5


async def test_an_unknown_activity_is_404_before_a_typed_body_is_read(env: Env) -> None:
    ops = env.operator()
    for path in ("/operator/activities/999/publish", "/operator/activities/999/recovery"):
        _expect(await env.client.post(path, content=b"{nope", headers=ops), 404, "activity_not_found")
    _expect(await env.client.post("/operator/activities/999/explode", headers=ops), 404, "activity_not_found")
    activity = await env.create(wheel(), publish=False)
    path = f"/operator/activities/{activity['id']}/publish"
    _expect(await env.client.post(path, json={"x": 1}, headers=ops), 422, "invalid_body", "x")
    assert (await env.client.post(path, headers=ops)).json()["status"] == "live"


async def test_audit_kinds_come_from_the_registry(env: Env) -> None:
    url = "/operator/audit/lookup"
    response = await env.client.post(url, json={"kind": "nope", "ids": ["x"]}, headers=env.operator())
    _expect(response, 422, "invalid_body", "kind")
    for kind in ("draw", "points", "mark", "initiative", "help", "reservation", "reservation_change"):
        response = await env.client.post(url, json={"kind": kind, "ids": ["x"]}, headers=env.operator())
        assert response.json() == {"kind": kind, "rows": {"x": 0}}, response.text
