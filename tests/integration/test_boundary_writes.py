"""The boundary (issue 10), what reaches state: adding stock validates first and writes SQL and
Redis both or neither (or the reconciler repairs it), stock columns refuse floats, a reused
Idempotency-Key with another body is refused on every keyed endpoint, and the smaller rules
(Allow on 405, names without control or bidi characters, code or qr, terse token errors)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from activities import db
from lottery import db as lottery_db
from lottery.service import DrawService
from tests.conftest import Env, assist_spec, checkin_spec, reservation_spec, wheel
from tests.integration.test_boundary import _expect, _listed

# --- 4. adding stock: validated first, SQL and Redis both or neither (or repaired) ------------------


async def _stock(env: Env, activity_id: int, prize_id: int) -> tuple[int, int]:
    """(SQL stock, Redis stock left) of a prize."""
    counters = await env.counters(activity_id)
    prize = next(p for p in counters["prizes"] if p["prize_id"] == prize_id)
    return prize["stock"], prize["stock_left"]


async def test_a_huge_stock_addition_is_refused_and_changes_nothing(env: Env) -> None:
    activity = await env.create(wheel())
    prize = activity["prizes"][0]
    url = f"/operator/activities/{activity['id']}/prizes/{prize['id']}/stock"
    ops = env.operator()
    body = _expect(await env.client.post(url, json={"units": 9223372036854775807}, headers=ops), 422, "invalid_body")
    assert "$.units" in body["message"]
    _expect(await env.client.post(url, json={"units": 1.5}, headers=ops), 422, "invalid_body")
    _expect(await env.client.post(url, json={"units": 10**9}, headers=ops), 422, "stock_too_large")
    assert await _stock(env, activity["id"], prize["id"]) == (2, 2)
    assert (await env.client.post(url, json={"units": 10**9 - 2}, headers=ops)).status_code == 200
    assert await _stock(env, activity["id"], prize["id"]) == (10**9, 10**9)
    _expect(await env.client.post(url, json={"units": 1}, headers=ops), 422, "stock_too_large")
    view = (await env.client.get(f"/operator/activities/{activity['id']}", headers=ops)).json()
    assert view["prizes"][0]["stock"] == 10**9 and isinstance(view["prizes"][0]["stock"], int)


@pytest.mark.parametrize("value", [9.223372036854776e18, 5.5, -1, 10**9 + 1])
async def test_stock_columns_refuse_floats_and_out_of_range_values(env: Env, value: float) -> None:
    activity = await env.create(wheel(), publish=False)
    for column in ("stock", "daily_stock", "per_user_cap", "weight", "points"):
        with pytest.raises(sa.exc.IntegrityError):
            async with env.platform.engine.begin() as conn:
                await conn.execute(
                    sa.update(lottery_db.prizes)
                    .where(lottery_db.prizes.c.activity_id == activity["id"])
                    .values({column: value})
                )


async def test_a_stock_addition_whose_redis_write_fails_is_repaired_by_the_reconciler(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    activity = await env.create(wheel())
    prize = activity["prizes"][0]
    store = env.platform.service(DrawService).store

    async def down(*_: Any, **__: Any) -> int:
        raise RedisConnectionError("Redis went away")

    with monkeypatch.context() as patch:
        patch.setattr(store, "add_stock", down)
        response = await env.client.post(
            f"/operator/activities/{activity['id']}/prizes/{prize['id']}/stock",
            json={"units": 3},
            headers=env.operator(),
        )
    assert response.status_code == 200, response.text  # SQL has it: never send it twice
    assert await _stock(env, activity["id"], prize["id"]) == (5, 2)
    assert await env.platform.service(DrawService).admin.sync_stock() == 1
    assert await _stock(env, activity["id"], prize["id"]) == (5, 5)
    assert await env.platform.service(DrawService).admin.sync_stock() == 0  # idempotent


async def test_a_stock_addition_whose_sql_write_fails_changes_nothing(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity = await env.create(wheel())
    prize = activity["prizes"][0]

    async def fails(*_: Any, **__: Any) -> int:
        raise sa.exc.OperationalError("UPDATE prizes", {}, Exception("database is locked"))

    with monkeypatch.context() as patch:
        patch.setattr(env.platform.service(DrawService).repository, "add_stock", fails)
        response = await env.client.post(
            f"/operator/activities/{activity['id']}/prizes/{prize['id']}/stock",
            json={"units": 3},
            headers=env.operator(),
        )
    assert response.status_code == 503, response.text
    assert await _stock(env, activity["id"], prize["id"]) == (2, 2)


async def test_concurrent_stock_additions_agree_in_sql_and_redis(env: Env) -> None:
    activity = await env.create(wheel())
    prize = activity["prizes"][0]
    url = f"/operator/activities/{activity['id']}/prizes/{prize['id']}/stock"
    responses = await asyncio.gather(
        *[env.client.post(url, json={"units": 7}, headers=env.operator()) for _ in range(20)]
    )
    assert all(r.status_code == 200 for r in responses)
    assert await _stock(env, activity["id"], prize["id"]) == (2 + 140, 2 + 140)


def test_the_sql_bound_is_the_spec_bound() -> None:
    from activities.model import MAX_COUNT

    assert db.MAX_COUNT == MAX_COUNT


# --- 6. an Idempotency-Key reused for another request is 422, on every idempotent endpoint -------


async def test_a_grant_with_a_reused_key_and_another_body_is_refused(env: Env) -> None:
    url, ops = "/operator/members/u1/points", {**env.operator(), "Idempotency-Key": "welcome-u1"}
    first = await env.client.post(url, json={"amount": 30}, headers=ops)
    assert first.status_code == 201 and first.json() == {"user_id": "u1", "balance": 30, "replayed": False}
    again = await env.client.post(url, json={"amount": 30}, headers=ops)
    assert again.json() == {"user_id": "u1", "balance": 30, "replayed": True}
    _expect(await env.client.post(url, json={"amount": 3000}, headers=ops), 422, "idempotency_key_reused")
    _expect(
        await env.client.post(url, json={"amount": 30, "reason": "goodwill"}, headers=ops),
        422,
        "idempotency_key_reused",
    )
    assert (await env.client.get("/me/points", headers=env.player("u1"))).json()["balance"] == 30


async def test_every_keyed_endpoint_refuses_a_reused_key_with_another_body(env: Env) -> None:
    """Draws, reservations and grants take an Idempotency-Key; sign-ins, make-ups, initiatives,
    helps and invites are idempotent by what they are about (the day, the member, the invitee),
    so another body is another request there, never a silent replay."""
    lottery = await env.create(wheel())
    assert (await env.draw(lottery["id"], key="d1", json={"channel": "h5"})).status_code == 201
    _expect(await env.draw(lottery["id"], key="d1", json={"channel": "app"}), 422, "idempotency_key_reused")
    drop = await env.create(reservation_spec())
    env.clock.advance(days=1)  # 2 June noon: 3 and 4 June are open
    assert (await env.reserve(drop["id"], "2026-06-03", key="r1")).status_code == 201
    _expect(await env.reserve(drop["id"], "2026-06-04", key="r1"), 422, "idempotency_key_reused")
    _expect(await env.reserve(drop["id"], "2026-06-03", store="S2", key="r1"), 422, "idempotency_key_reused")
    ops = {**env.operator(), "Idempotency-Key": "g1"}
    assert (await env.client.post("/operator/members/u1/points", json={"amount": 5}, headers=ops)).status_code == 201
    _expect(
        await env.client.post("/operator/members/u1/points", json={"amount": 6}, headers=ops),
        422,
        "idempotency_key_reused",
    )


# --- 8. Allow on 405, names without control or bidi characters, code or qr, terse token errors ----


async def test_a_405_says_which_methods_are_allowed(env: Env) -> None:
    response = await env.client.delete("/health")
    _expect(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]
    response = await env.client.put("/operator/activities", headers=env.operator())
    _expect(response, 405, "method_not_allowed")
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}


BAD_TEXT = ["nul\x00byte", "rtl\u202eoverride", "isolate\u2066x", "bell\x07", "newline\nname", "c1\x85"]


@pytest.mark.parametrize("text", BAD_TEXT)
async def test_names_refuse_control_and_bidi_characters(env: Env, text: str) -> None:
    ops = env.operator()
    prizes = wheel()["prizes"]
    for spec in (
        wheel(name=text),
        wheel(skin=text),
        wheel(audience={"levels": [text]}),
        wheel(prizes=[{**prizes[0], "name": text}, *prizes[1:]]),
        checkin_spec(checkin={"daily_reward": {"type": "coupon", "coupon": "C1", "name": text}}),
        assist_spec(assist={"prize": {"name": text, "stock": 1}}),
        reservation_spec(reservation={"stores": [{"id": "S1", "name": text}]}),
    ):
        _expect(await env.client.post("/operator/activities", json=spec, headers=ops), 422, "invalid_body")
    assert await _listed(env) == []
    lottery = await env.create(wheel())
    _expect(await env.draw(lottery["id"], json={"device_id": text}), 422, "invalid_body")


async def test_a_redemption_with_both_code_and_qr_is_refused(env: Env) -> None:
    activity = await env.create(reservation_spec())
    env.clock.advance(days=1)
    made = (await env.reserve(activity["id"], "2026-06-03")).json()
    env.clock.advance(days=1)
    other = (await env.reserve(activity["id"], "2026-06-03", user="u2")).json()
    _expect(await env.redeem(activity["id"], code=made["code"], qr=other["qr_payload"]), 422, "code_and_qr")
    views = (await env.client.get(f"/activities/{activity['id']}/reservations", headers=env.player())).json()["items"]
    assert [v["status"] for v in views] == ["reserved"]


@pytest.mark.parametrize(
    "token", ["abc", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9.", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"]
)
async def test_token_errors_do_not_echo_the_jwt_library(env: Env, token: str) -> None:
    body = _expect(
        await env.client.get("/me/points", headers={"Authorization": f"Bearer {token}"}), 401, "token_invalid"
    )
    assert body["message"] == "the token is not valid"


def test_migration_0007_repairs_out_of_range_stock_then_refuses_it(tmp_path: Any) -> None:
    """A database with the audit's float stock upgrades: the float becomes 0 (never "near
    unlimited"), a fraction is rounded down, and from then on the CHECKs refuse both; it
    downgrades again."""
    from alembic import command

    from activities.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    command.upgrade(config, "0006")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO activities (id, type, name, status, starts_at_ms, ends_at_ms, timezone, audience, limits,"
            " points_cost, created_at_ms, updated_at_ms) VALUES (1, 'wheel', 'w', 'live', 0, 1, 'UTC', '{}', '{}',"
            " 0, 0, 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO prizes (id, activity_id, position, name, type, weight, stock, value_cny) VALUES"
            " (1, 1, 0, 'Phone', 'goods', 1, 9.223372036854776e18, 0), (2, 1, 1, 'Cup', 'goods', 1, 5.5, 0)"
        )
    command.upgrade(config, "head")
    with engine.begin() as conn:
        stocks = conn.exec_driver_sql("SELECT stock, typeof(stock) FROM prizes ORDER BY id").all()
    assert [tuple(row) for row in stocks] == [(0, "integer"), (5, "integer")]
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql("UPDATE prizes SET stock = 9.223372036854776e18 WHERE id = 1")
    command.downgrade(config, "0006")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE prizes SET stock = 5.5 WHERE id = 1")  # no CHECK any more
    engine.dispose()
