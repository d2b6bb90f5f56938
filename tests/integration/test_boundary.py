"""The boundary (issue 10): bad input never answers 500 and never half-applies.

Each class of the audit's findings is tested as a class: every route walked with huge integers,
every integer of every spec sent too large, every spec sent with out-of-range times, every
route asked for an unknown resource with a bad body.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from litestar.routes import HTTPRoute

from activities import db
from activities.model import MAX_SAFE_INT
from api.app import create_app
from tests.conftest import Env, assist_spec, checkin_spec, reservation_spec, wheel

HUGE = (2**63, 99999999999999999999)


def _expect(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def _listed(env: Env) -> list[Any]:
    response = await env.client.get("/operator/activities", headers=env.operator())
    assert response.status_code == 200, response.text
    listed: list[Any] = response.json()["items"]
    return listed


# --- 1. times -------------------------------------------------------------------------------------

SPECS = {
    "wheel": wheel,
    "checkin": checkin_spec,
    "assist": assist_spec,
    "reservation": reservation_spec,
}


@pytest.mark.parametrize("kind", sorted(SPECS))
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("starts_at", "0001-01-01T00:00:00+00:00"),
        ("starts_at", "1999-12-31T23:59:59+00:00"),
        ("ends_at", "9999-12-31T23:59:59+00:00"),
        ("ends_at", "2100-01-01T00:00:01+00:00"),
    ],
)
async def test_times_out_of_range_are_refused_before_anything_is_written(
    env: Env, kind: str, field: str, value: str
) -> None:
    response = await env.client.post("/operator/activities", json=SPECS[kind](**{field: value}), headers=env.operator())
    body = _expect(response, 422, "invalid_body")
    assert field in body["message"]
    assert await _listed(env) == []


async def test_days_out_of_range_are_refused(env: Env) -> None:
    spec = reservation_spec(reservation={"dates": [{"date": "0001-01-01", "quantity": 5}]})
    body = _expect(
        await env.client.post("/operator/activities", json=spec, headers=env.operator()), 422, "invalid_body"
    )
    assert "date" in body["message"] and "reservation.dates[0]" in body["message"]
    activity = await env.create(reservation_spec())
    _expect(await env.reserve(activity["id"], "0001-01-01"), 422, "invalid_body")
    _expect(await env.reserve(activity["id"], "9999-12-31"), 422, "invalid_body")
    checkin = await env.create(checkin_spec())
    _expect(await env.make_up(checkin["id"], "0001-01-01"), 422, "invalid_body")


async def test_one_odd_stored_row_never_breaks_the_activity_list(env: Env) -> None:
    good = await env.create(wheel())
    odd = await env.create(wheel(), publish=False)
    async with env.platform.engine.begin() as conn:  # a row written before times were bounded
        await conn.execute(
            sa.update(db.activities)
            .where(db.activities.c.id == odd["id"])
            .values(starts_at_ms=-62135596800000, ends_at_ms=253402300799999 * 10)
        )
    listed = await _listed(env)
    assert good["id"] in [a["id"] for a in listed]
    assert (await env.client.get(f"/operator/activities/{good['id']}", headers=env.operator())).status_code == 200
    assert (await env.client.get(f"/operator/activities/{odd['id']}", headers=env.operator())).status_code < 500


async def test_a_row_stored_before_the_bounds_still_reads_and_draws(env: Env) -> None:
    """The audit's lottery with a per-member daily limit of 10^15 (and a label with a NUL),
    stored before the bounds: it reads, its limit as 10^9, and its draws work."""
    legacy = await env.create(wheel(), publish=False)
    async with env.platform.engine.begin() as conn:
        await conn.execute(
            sa.update(db.activities)
            .where(db.activities.c.id == legacy["id"])
            .values(limits={"per_user_daily": 10**15}, audience={"levels": ["gold", "x\x00"]})
        )
    view = await env.client.get(f"/operator/activities/{legacy['id']}", headers=env.operator())
    assert view.status_code == 200 and view.json()["limits"]["per_user_daily"] == 10**9
    assert (
        await env.client.post(f"/operator/activities/{legacy['id']}/publish", headers=env.operator())
    ).status_code == 200
    drawn = await env.draw(legacy["id"])
    assert drawn.status_code == 201 and drawn.json()["left_today"] == 10**9 - 1
    await env.platform.audit_writer.drain()
    assert (await env.counters(legacy["id"]))["draws_in_sql"] == 1


# --- 2. every integer of every path and query, bounded ---------------------------------------------


def _routes() -> Iterator[tuple[str, str, dict[str, type], list[str]]]:
    """(method, path template, path parameters and their types, query parameters) of every route."""
    app = create_app()
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/console"):
            continue  # the console's pages are HTML for a logged-in browser (tests/integration/test_console.py)
        params = {p.name: p.type for p in route.path_parameters.values()}
        for method, (handler, _) in route.route_handler_map.items():
            if method in ("HEAD", "OPTIONS"):
                continue
            signature = handler.parsed_fn_signature.parameters
            dependencies = set(handler.resolve_dependencies())
            query = [
                name
                for name in signature
                if name not in params and name not in dependencies and name not in ("request", "self", "data")
            ]
            yield method, route.path, params, query


def _url(template: str, params: dict[str, type], int_value: object, str_value: str, query: dict[str, object]) -> str:
    url = template
    for name, type_ in params.items():
        url = url.replace(f"{{{name}:{type_.__name__}}}", str(int_value if type_ is int else str_value))
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def test_the_route_walk_sees_every_route() -> None:
    routes = list(_routes())
    assert len(routes) >= 25
    assert sum(1 for _, _, params, _ in routes if int in params.values()) >= 17


@pytest.mark.parametrize("huge", HUGE)
async def test_huge_integers_in_any_path_or_query_are_a_4xx_on_every_route(env: Env, huge: int) -> None:
    await env.create(wheel())
    failures = []
    for method, template, params, query in _routes():
        url = _url(template, params, huge, "x", {name: huge for name in query if name != "month"})
        for headers in (env.player(), env.operator(), {}):
            response = await env.client.request(
                method, url, headers={**headers, "Idempotency-Key": "k1"}, content=b"{}"
            )
            if response.status_code >= 500 or (
                int in params.values() and response.status_code not in (400, 401, 403, 404)
            ):
                failures.append((method, url, response.status_code, response.text[:200]))
    assert failures == []


async def test_ids_are_bounded_to_exact_integers(env: Env) -> None:
    _expect(await env.client.get("/activities/99999999999999999999"), 400, "invalid_parameter")
    _expect(await env.client.get(f"/activities/{MAX_SAFE_INT + 1}"), 400, "invalid_parameter")
    _expect(await env.client.get("/activities/0"), 400, "invalid_parameter")
    _expect(await env.client.get(f"/activities/{MAX_SAFE_INT}"), 404, "activity_not_found")
    _expect(await env.client.get(f"/me/draws?cursor={'A' * 201}", headers=env.player()), 400, "invalid_parameter")
    _expect(await env.client.get(f"/me/draws?activity={2**64}", headers=env.player()), 400, "invalid_parameter")
    _expect(await env.client.get("/me/draws?cursor=WzI1XQ", headers=env.player()), 400, "invalid_cursor")


# --- 3. every integer of every spec and body, bounded (the bounds half) ------------------------------


def _rich_wheel() -> dict[str, Any]:
    return wheel(
        limits={"per_user_daily": 3, "per_user_total": 10, "global_daily": 1000},
        points_cost=5,
        prizes=[
            {"name": "Phone", "type": "goods", "weight": 10, "stock": 2, "daily_stock": 1, "per_user_cap": 1},
            {"name": "Points", "type": "points", "weight": 10, "stock": 20, "points": 50},
            {"name": "Thanks", "type": "thanks", "weight": 700},
        ],
    )


def _rich_checkin() -> dict[str, Any]:
    return checkin_spec(
        checkin={
            "cycle": {"kind": "rolling", "days": 10},
            "daily_reward": {"type": "points", "points": 5},
            "streak_rewards": [
                {"days": 3, "reward": {"type": "chances", "chances": 1}},
                {"days": 4, "reward": {"type": "prize", "prize_id": 1}},
            ],
            "cumulative_rewards": [{"count": 5, "reward": {"type": "points", "points": 50}}],
            "makeup": {"per_cycle": 2, "max_days_back": 3, "points_cost": 10},
            "linked_lottery_id": 1,
        }
    )


def _rich_assist() -> dict[str, Any]:
    return assist_spec(
        assist={
            "helper_reward": {"reward": {"type": "points", "points": 1}, "stock": 100},
            "anti_abuse": {"helps_per_helper_daily": 3, "helps_per_device_daily": 3, "helps_per_ip_daily": 10},
            "initiatives_per_user": 2,
        }
    )


def _rich_reservation() -> dict[str, Any]:
    return reservation_spec(reservation={"per_user_per_date": 1, "per_user_total": 2})


def _int_paths(value: Any, path: str = "$") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _int_paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _int_paths(item, f"{path}[{index}]")
    elif isinstance(value, int) and not isinstance(value, bool):
        yield path


def _set(spec: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    changed = copy.deepcopy(spec)
    target: Any = changed
    parts = path[2:].replace("[", ".[").split(".")
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    last = parts[-1]
    if last.startswith("["):
        target[int(last[1:-1])] = value
    else:
        target[last] = value
    return changed


RICH = {"wheel": _rich_wheel, "checkin": _rich_checkin, "assist": _rich_assist, "reservation": _rich_reservation}


@pytest.mark.parametrize("kind", sorted(RICH))
async def test_every_integer_of_every_spec_is_bounded(env: Env, kind: str) -> None:
    spec = RICH[kind]()
    paths = list(_int_paths(spec))
    assert len(paths) >= 5
    for path in paths:
        for value in (10**15, 2**63, -(2**63)):
            response = await env.client.post(
                "/operator/activities", json=_set(spec, path, value), headers=env.operator()
            )
            body = _expect(response, 422, "invalid_body")
            assert f"`{path}`" in body["message"], (path, body)
    assert await _listed(env) == []


async def test_a_lottery_with_a_huge_limit_is_refused(env: Env) -> None:
    """The audit's case: it used to be created, and then every draw answered 500."""
    response = await env.client.post(
        "/operator/activities", json=wheel(limits={"per_user_daily": 10**15}), headers=env.operator()
    )
    body = _expect(response, 422, "invalid_body")
    assert "$.limits.per_user_daily" in body["message"]
    assert await _listed(env) == []


async def test_every_integer_of_every_body_is_bounded(env: Env) -> None:
    activity = await env.create(wheel())
    ops = env.operator()
    prize = activity["prizes"][0]["id"]
    for value in (10**15, 2**63, -(2**63)):
        body = _expect(
            await env.client.post(
                f"/operator/activities/{activity['id']}/prizes/{prize}/stock", json={"units": value}, headers=ops
            ),
            422,
            "invalid_body",
        )
        assert "$.units" in body["message"]
        body = _expect(
            await env.client.post(
                "/operator/members/u1/points", json={"amount": value}, headers={**ops, "Idempotency-Key": "g"}
            ),
            422,
            "invalid_body",
        )
        assert "$.amount" in body["message"]


def _body_types() -> list[type]:
    from api.routes.audit import Lookup
    from api.routes.points import Grant
    from assist.model import AssistSpec
    from assist.schemas import HelpBody, InviteEvent
    from checkin.model import CheckinSpec
    from checkin.schemas import MakeupBody
    from lottery.controllers import AddStock
    from lottery.model import LotterySpec
    from lottery.service import DrawBody
    from reservation.model import ReservationSpec
    from reservation.schemas import RedeemBody, ReserveBody

    return [
        LotterySpec,
        CheckinSpec,
        AssistSpec,
        ReservationSpec,
        AddStock,
        Grant,
        DrawBody,
        MakeupBody,
        HelpBody,
        InviteEvent,
        ReserveBody,
        RedeemBody,
        Lookup,
    ]


def _walk(t: msgspec.inspect.Type, where: str, seen: set[type]) -> Iterator[tuple[str, msgspec.inspect.Type]]:
    yield where, t
    if isinstance(t, msgspec.inspect.StructType):
        if t.cls in seen:
            return
        seen.add(t.cls)
        for f in t.fields:
            yield from _walk(f.type, f"{t.cls.__name__}.{f.name}", seen)
    elif isinstance(t, msgspec.inspect.UnionType):
        for member in t.types:
            yield from _walk(member, where, seen)
    elif isinstance(t, msgspec.inspect.ListType | msgspec.inspect.SetType | msgspec.inspect.FrozenSetType):
        yield from _walk(t.item_type, f"{where}[]", seen)


def test_every_int_and_free_text_field_a_client_sends_is_bounded() -> None:
    """The class, structurally: every integer of every spec and body has bounds inside what Lua
    and Redis hold exactly, every string a length bound and a pattern (no control characters)."""
    unbounded = []
    for body in _body_types():
        for where, t in _walk(msgspec.inspect.type_info(body), body.__name__, set()):
            if isinstance(t, msgspec.inspect.IntType):
                if t.ge is None or t.le is None or t.le > MAX_SAFE_INT or t.ge < -MAX_SAFE_INT:
                    unbounded.append(where)
            elif isinstance(t, msgspec.inspect.StrType):
                # a pattern, and a length bound (max_length, or the pattern's own `{m,n}$`)
                bounded_pattern = t.pattern and t.pattern[-1] == "$" and "*" not in t.pattern and "+" not in t.pattern
                if t.pattern is None or (t.max_length is None and not bounded_pattern):
                    unbounded.append(where)
            elif isinstance(t, msgspec.inspect.ListType) and t.max_length is None:
                unbounded.append(where)
    assert unbounded == [], unbounded


# --- 10. precedence: an unknown resource is 404 whatever the body ----------------------------------

RESOURCE_STRINGS = ("share_token", "code", "initiative_id")  # user ids are not looked up: any is valid


@pytest.mark.parametrize("body", [b'{"bogus": 1}', b"{nope", b'{"day": "not a day", "units": "x"}'])
async def test_an_unknown_resource_is_404_whatever_the_body_on_every_route(env: Env, body: bytes) -> None:
    await env.create(wheel())
    checked, failures = 0, []
    for method, template, params, _ in _routes():
        if not (int in params.values() or set(params) & set(RESOURCE_STRINGS)):
            continue
        url = _url(template, params, MAX_SAFE_INT, "nope", {})
        answers = []
        for role, headers in (("player", env.player()), ("operator", env.operator())):
            for key in ({}, {"Idempotency-Key": "has space"}):
                response = await env.client.request(method, url, headers={**headers, **key}, content=body)
                answers.append(response.status_code)
                if response.status_code not in (403, 404):
                    failures.append((method, url, role, response.status_code, response.text[:120]))
        checked += 1
        assert 404 in answers, (method, url, answers)
    assert failures == []
    assert checked >= 17


async def test_a_draft_is_unknown_to_players_whatever_the_body(env: Env) -> None:
    draft = await env.create(wheel(), publish=False)
    _expect(await env.draw(draft["id"], json={"lucky": True}), 404, "activity_not_found")
    headers = env.player()
    _expect(
        await env.client.post(f"/activities/{draft['id']}/draws", headers=headers, content=b"{nope"),
        404,
        "activity_not_found",
    )
    _expect(
        await env.client.post(f"/activities/{draft['id']}/reservations", headers=headers, json={}),
        404,
        "activity_not_found",
    )
