"""Operator roles (issue 13): every role against every operator route, enumerated from the app
itself (a new operator route without a rule in api/roles.py fails here), a clerk redeeming at
another store, the action log, `promo token --role`."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.routes import HTTPRoute

from activities.accounts import ROLES
from api.app import create_app
from api.roles import rule_of
from api.security import provide_anyone, provide_operator
from tests.conftest import Env, reservation_spec, wheel

FILL = {
    "{activity_id}": "1",
    "{prize_id}": "1",
    "{action}": "pause",
    "{user_id}": "u1",
    "{initiative_id}": "x",
    "{template_id}": "1",
    "{endpoint_id}": "1",
    "{delivery_id}": "1",
    "{grant_id}": "1",
    "{question_id}": "1",
    "{list_id}": "1",
    "{member_id}": "u1",
}


def operator_routes(app: Any) -> list[tuple[str, str, Any]]:
    """(method, route, opt) of every handler that takes an operator identity, whatever its path."""
    found: list[tuple[str, str, Any]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            dependencies = handler.resolve_dependencies()
            providers = {getattr(p, "dependency", None) for p in dependencies.values()}
            if providers & {provide_operator, provide_anyone}:
                found.extend(
                    (m, route.path_format, handler.opt) for m in handler.http_methods if m not in ("OPTIONS", "HEAD")
                )
    return sorted(found, key=lambda found: found[:2])


def token(env: Env, role: str) -> dict[str, str]:
    stores = ("SH01",) if role == "clerk" else ()
    issued = env.platform.tokens.issue(f"op-{role}", "operator", operator_role=role, stores=stores)
    return {"Authorization": f"Bearer {issued}"}


def concrete(route: str) -> str:
    for name, value in FILL.items():
        route = route.replace(name, value)
    return route


async def test_every_operator_route_has_a_role_rule(env: Env) -> None:
    app = env.client._transport.app  # type: ignore[attr-defined]
    routes = operator_routes(app)
    assert len(routes) >= 18
    missing = [(m, r) for m, r, opt in routes if rule_of(m, r, opt) is None]
    assert not missing, f"operator routes without a rule (api/roles.py or the route's opt['roles']): {missing}"


async def test_role_matrix(env: Env) -> None:
    """Each role on each operator route: refused with 403 role_forbidden exactly where the rule
    says so; elsewhere the request gets past the role check (whatever the body then earns)."""
    await env.create(wheel())
    app = env.client._transport.app  # type: ignore[attr-defined]
    checked = 0
    for method, route, opt in operator_routes(app):
        rule = rule_of(method, route, opt)
        assert rule is not None
        for role in ROLES:
            response = await env.client.request(method, concrete(route), headers=token(env, role))
            forbidden = response.status_code == 403 and response.json()["code"] == "role_forbidden"
            assert forbidden == (role not in rule), (role, method, route, response.text)
            checked += 1
    assert checked >= 70


# The policy in words, pinned: a change to api/roles.py that loosens it fails here.
EXPECTED = [
    ("POST", "/operator/activities", {"admin", "marketer"}),
    ("GET", "/operator/activities", {"admin", "marketer", "analyst"}),
    ("POST", "/operator/activities/{activity_id}/{action}", {"admin", "marketer"}),
    ("POST", "/operator/activities/{activity_id}/redemptions", {"admin", "clerk"}),
    ("POST", "/operator/members/{user_id}/points", {"admin", "marketer"}),
    ("GET", "/operator/activities/{activity_id}/counters", {"admin", "marketer", "analyst"}),
    ("POST", "/operator/accounts", {"admin"}),
    ("POST", "/operator/activities/{activity_id}/recovery", {"admin"}),
    ("GET", "/operator/activities/{activity_id}/questions", {"admin", "marketer"}),  # the answers: not analysts'
]


@pytest.mark.parametrize(("method", "route", "roles"), EXPECTED)
def test_policy(method: str, route: str, roles: set[str]) -> None:
    rules = {(m, r): rule_of(m, r, opt) for m, r, opt in operator_routes(create_app())}
    assert set(rules[(method, route)] or ()) == roles


async def test_clerk_and_analyst_cannot_create(env: Env) -> None:
    for role in ("clerk", "analyst"):
        response = await env.client.post("/operator/activities", json=wheel(), headers=token(env, role))
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "role_forbidden"
    response = await env.client.post("/operator/activities", json=wheel(), headers=token(env, "marketer"))
    assert response.status_code == 201


async def test_clerk_redeems_only_at_its_stores(env: Env) -> None:
    spec = reservation_spec()
    spec["reservation"]["stores"] = [{"id": "SH01", "name": "Shanghai"}, {"id": "BJ01", "name": "Beijing"}]
    activity = await env.create(spec)
    day = spec["reservation"]["dates"][0]["date"]
    from datetime import datetime

    from activities.clock import to_ms
    from tests.conftest import SHANGHAI

    env.clock._now_ms = to_ms(datetime.fromisoformat(f"{day}T11:00:00").replace(tzinfo=SHANGHAI)) - 86400_000 * 2
    made = []
    for store in ("SH01", "BJ01"):
        response = await env.reserve(activity["id"], day, store=store, user=f"m-{store}")
        assert response.status_code == 201, response.text
        made.append(response.json()["code"])
    env.clock._now_ms += 86400_000 * 2
    path = f"/operator/activities/{activity['id']}/redemptions"
    clerk = token(env, "clerk")
    response = await env.client.post(path, json={"code": made[1], "store_id": "BJ01"}, headers=clerk)
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "store_forbidden"
    response = await env.client.post(path, json={"code": made[0], "store_id": "SH01"}, headers=clerk)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "redeemed"


async def test_action_log_names_the_account(env: Env) -> None:
    created = await env.client.post("/operator/activities", json=wheel(), headers=token(env, "marketer"))
    activity_id = created.json()["id"]
    await env.client.post(f"/operator/activities/{activity_id}/publish", headers=token(env, "marketer"))
    await env.client.post("/operator/activities", json=wheel(), headers=token(env, "analyst"))  # refused, logged
    response = await env.client.get("/operator/log?limit=10", headers=token(env, "analyst"))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(i["account"], i["action"], i["status"]) for i in items] == [
        ("op-analyst", "create", 403),
        ("op-marketer", "publish", 200),
        ("op-marketer", "create", 201),
    ]
    assert items[1]["activity_id"] == activity_id and items[1]["endpoint"].endswith("/{action}")
    filtered = await env.client.get("/operator/log?account=op-marketer&action=publish", headers=token(env, "admin"))
    assert [i["action"] for i in filtered.json()["items"]] == ["publish"]
    by_activity = await env.client.get(f"/operator/log?activity={activity_id}", headers=token(env, "admin"))
    assert len(by_activity.json()["items"]) == 1


async def test_plain_operator_token_is_an_admin(env: Env) -> None:
    response = await env.client.post(
        "/operator/accounts",
        json={"username": "m1", "password": "correct horse battery", "role": "marketer"},
        headers=env.operator(),
    )
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "marketer"
    listed = await env.client.get("/operator/accounts", headers=env.operator())
    assert [a["username"] for a in listed.json()["items"]] == ["m1"]
