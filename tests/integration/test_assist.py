"""Friend assist, bargain and invite through the API: the flows, every anti-abuse refusal with
its own code and nothing changed, a ring of accounts held by the caps, the expiry sweep with an
injected clock, rebuilds and the helper reward."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from assist import bargain
from assist.db import assist_helps, assist_initiatives, assist_outcomes
from assist.service import AssistService
from tests.conftest import Env, asgi_client, assist_spec


def expect(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.json()


async def started(env: Env, activity_id: int, user: str = "u1") -> dict[str, Any]:
    response = await env.start(activity_id, user)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def helped(env: Env, token: str, user: str, **kwargs: Any) -> dict[str, Any]:
    response = await env.help(token, user, **kwargs)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_collect_helps_complete_the_initiative_and_win_the_prize_once(env: Env) -> None:
    activity = await env.create(assist_spec("collect"))
    mine = await started(env, activity["id"])
    assert (mine["status"], mine["helps"], mine["needed"], mine["reward"]) == ("open", 0, 3, "Gift box")
    assert mine["deadline"] == "2026-06-02T12:00:00+08:00"  # 24 hours from noon
    again = await started(env, activity["id"])  # a retry: the same initiative
    assert again["initiative_id"] == mine["initiative_id"] and again["replayed"] is True
    token = mine["share_token"]
    public = (await env.client.get(f"/assists/{token}")).json()
    assert (public["initiator"], public["helps"], public["status"]) == ("***", 0, "open")
    results = [await helped(env, token, f"f{i}") for i in range(3)]
    assert [r["number"] for r in results] == [1, 2, 3]
    assert [r["completed"] for r in results] == [False, False, True]
    expect(await env.help(token, "f9"), 409, "initiative_completed")
    view = (
        await env.client.get(f"/activities/{activity['id']}/initiatives/{mine['initiative_id']}", headers=env.player())
    ).json()
    assert view["status"] == "completed" and [h["helper"] for h in view["helpers"]] == ["f0", "f1", "f2"]
    other = await env.client.get(
        f"/activities/{activity['id']}/initiatives/{mine['initiative_id']}", headers=env.player("f0")
    )
    expect(other, 403, "not_your_data")
    ops = await env.client.get(
        f"/activities/{activity['id']}/initiatives/{mine['initiative_id']}", headers=env.operator()
    )
    assert ops.status_code == 200
    # One initiative per member by default.
    expect(await env.start(activity["id"]), 429, "initiative_limit")
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity["id"])
    assert (counters["stock_left"], counters["completed_total"], counters["completed_in_sql"]) == (9, 1, 1)
    assert counters["helps_total"] == counters["helps_in_sql"] == 3


async def test_a_bargain_reaches_the_floor_exactly_at_the_last_help(env: Env) -> None:
    activity = await env.create(assist_spec("bargain", assist={"helps_needed": 5}))
    mine = await started(env, activity["id"])
    assert (mine["price_cny"], mine["floor_cny"], mine["original_price_cny"]) == ("99.00", "9.90", "99.00")
    prices, cuts = [], []
    for i in range(5):
        result = await helped(env, mine["share_token"], f"f{i}")
        prices.append(result["price_cny"])
        cuts.append(result["cut_cny"])
    assert prices[-1] == "9.90" and all(float(c) > 0 for c in cuts)
    assert sorted(prices, key=float, reverse=True) == prices
    await env.platform.audit_writer.drain()
    async with env.platform.engine.connect() as conn:
        row = (await conn.execute(sa.select(assist_initiatives))).one()._mapping
        sql_cuts = (
            (await conn.execute(sa.select(assist_helps.c.cut_cents).order_by(assist_helps.c.number))).scalars().all()
        )
    # The cuts can be drawn again from the seed kept with the initiative.
    assert bargain.cuts(9900 - 990, 5, row["seed"]) == sql_cuts == [int(c) for c in row["cuts"].split(",")]
    assert [f"{bargain.from_cents(c):.2f}" for c in sql_cuts] == cuts


async def test_invitees_count_when_the_host_reports_the_target_action(env: Env) -> None:
    activity = await env.create(assist_spec("invite", assist={"helps_needed": 2}))
    mine = await started(env, activity["id"])
    url = f"/operator/activities/{activity['id']}/invites"

    def event(invitee: str, action: str = "registration", token: str | None = None) -> dict[str, Any]:
        return {"share_token": token or mine["share_token"], "invitee_id": invitee, "action": action}

    ignored = await env.client.post(url, json=event("new1", "first_order"), headers=env.operator())
    assert ignored.status_code == 200 and ignored.json() == {
        "counted": False,
        "reason": "only registration counts in this activity",
    }
    counted = await env.client.post(url, json=event("new1"), headers=env.operator())
    assert counted.status_code == 200 and counted.json()["counted"] is True and counted.json()["help"]["number"] == 1
    expect(await env.client.post(url, json=event("new1"), headers=env.operator()), 409, "already_helped")
    other = await started(env, activity["id"], "u2")
    expect(
        await env.client.post(url, json=event("new1", token=other["share_token"]), headers=env.operator()),
        409,
        "invitee_already_counted",
    )
    expect(await env.client.post(url, json=event("u1"), headers=env.operator()), 403, "self_help")
    expect(await env.client.post(url, json=event("new2"), headers=env.player()), 403, "operator_token_required")
    expect(
        await env.client.post(url, json=event("new2", token="forged.token"), headers=env.operator()),
        404,
        "share_token_invalid",
    )
    expect(
        await env.client.post(url, json={**event("new2"), "action": "click"}, headers=env.operator()),
        422,
        "invalid_body",
    )
    expect(await env.help(mine["share_token"], "f1"), 409, "invitees_count_by_event")
    done = await env.client.post(url, json=event("new2"), headers=env.operator())
    assert done.json()["help"]["completed"] is True


async def test_every_abuse_is_refused_with_its_own_code_and_changes_nothing(env: Env) -> None:
    activity = await env.create(
        assist_spec(
            "collect",
            assist={
                "helps_needed": 10,
                "anti_abuse": {"helps_per_helper_daily": 2, "helps_per_device_daily": 3, "helps_per_ip_daily": 4},
            },
        )
    )
    tokens = [(await started(env, activity["id"], f"init{i}"))["share_token"] for i in range(6)]
    before = await env.counters(activity["id"])
    expect(await env.help(tokens[0], "init0"), 403, "self_help")
    await helped(env, tokens[0], "f1", device="d1")
    expect(await env.help(tokens[0], "f1", device="d9"), 409, "already_helped")
    await helped(env, tokens[1], "f1", device="d1")
    expect(await env.help(tokens[2], "f1", device="d8"), 429, "helper_daily_limit")  # f1 helped twice today
    await helped(env, tokens[2], "f2", device="d1")
    expect(await env.help(tokens[3], "f3", device="d1"), 429, "device_daily_limit")  # d1 used three times
    await helped(env, tokens[3], "f3", device="d2")  # a fourth help from 127.0.0.1
    expect(await env.help(tokens[4], "f4", device="d3"), 429, "ip_daily_limit")
    async with asgi_client(env.platform, address="10.0.0.2") as elsewhere:
        response = await elsewhere.post(f"/assists/{tokens[4]}/helps", json={}, headers=env.player("f4"))
        assert response.status_code == 201
    expect(await env.help("1-ixyz.forged", "f5"), 404, "share_token_invalid")
    expect(await env.help(tokens[0][:-2] + "xx", "f5"), 404, "share_token_invalid")
    after = await env.counters(activity["id"])
    assert after["helps_total"] == before["helps_total"] + 5  # the five accepted helps, nothing else

    # The next day (midnight in Shanghai) the daily caps start again.
    env.clock.advance(hours=12)
    await helped(env, tokens[2], "f1", device="d1")

    new_only = await env.create(assist_spec("collect", assist={"anti_abuse": {"new_users_only": True}}))
    token = (await started(env, new_only["id"]))["share_token"]
    expect(await env.help(token, "old1"), 403, "new_users_only")
    await helped(env, token, "fresh1", new_user=True)

    scarce = await env.create(assist_spec("collect", assist={"prize": {"name": "Gift", "stock": 1}}))
    await started(env, scarce["id"], "a1")
    expect(await env.start(scarce["id"], "a2"), 409, "out_of_stock")

    draft = await env.create(assist_spec(), publish=False)
    expect(await env.start(draft["id"]), 404, "activity_not_found")
    expect(
        await env.client.post(f"/activities/{activity['id']}/initiatives", json={"x": 1}, headers=env.player()),
        422,
        "invalid_body",
    )


async def test_a_ring_of_accounts_helping_each_other_is_held_by_the_caps(env: Env) -> None:
    """Ten accounts on two phones each start an initiative and help all the others. Without caps
    every initiative completes; with a per-helper and a per-device daily cap the ring gets 12
    helps a day in all (enough for two initiatives at most; spread out, it completes none)."""

    async def run_ring(anti_abuse: dict[str, int]) -> tuple[int, int]:
        activity = await env.create(assist_spec("collect", assist={"helps_needed": 6, "anti_abuse": anti_abuse}))
        ring = [f"ring{i}" for i in range(10)]
        tokens = {member: (await started(env, activity["id"], member))["share_token"] for member in ring}
        accepted = 0
        for member in ring:
            for other in ring:
                if other != member:
                    response = await env.help(tokens[other], member, device=f"phone{ring.index(member) % 2}")
                    accepted += response.status_code == 201
                    assert response.status_code in (201, 409, 429), response.text
        counters = await env.counters(activity["id"])
        assert counters["helps_total"] == accepted
        return accepted, counters["completed_total"]

    assert await run_ring({}) == (60, 10)  # every initiative completes (then refuses more help)
    assert await run_ring({"helps_per_helper_daily": 2, "helps_per_device_daily": 6}) == (12, 0)


async def test_the_sweep_expires_initiatives_and_returns_the_stock(env: Env) -> None:
    activity = await env.create(
        assist_spec("collect", assist={"hours": 2, "initiatives_per_user": 2, "prize": {"name": "Gift", "stock": 2}})
    )
    first = await started(env, activity["id"], "u1")
    await started(env, activity["id"], "u2")
    expect(await env.start(activity["id"], "u3"), 409, "out_of_stock")
    await helped(env, first["share_token"], "f1")
    env.clock.advance(hours=1, minutes=59)
    assert await env.platform.service(AssistService).sweep() == 0
    env.clock.advance(minutes=1)  # the deadline: the initiative is over, even before the sweep
    expect(await env.help(first["share_token"], "f2"), 409, "initiative_expired")
    assert await env.platform.service(AssistService).sweep() == 2
    assert await env.platform.service(AssistService).sweep() == 0  # once only
    counters = await env.counters(activity["id"])
    assert (counters["stock_left"], counters["expired_total"], counters["open"]) == (2, 2, 0)
    view = (await env.client.get(f"/assists/{first['share_token']}")).json()
    assert view["status"] == "expired" and view["helps"] == 1
    # The stock came back: u3 can start now, u1 may start a second initiative.
    assert (await env.start(activity["id"], "u3")).status_code == 201
    second = await started(env, activity["id"], "u1")
    assert second["initiative_id"] != first["initiative_id"]
    await env.platform.audit_writer.drain()
    async with env.platform.engine.connect() as conn:
        outcomes = (await conn.execute(sa.select(assist_outcomes.c.outcome))).scalars().all()
    assert sorted(outcomes) == ["expired", "expired"]


async def test_the_deadline_never_passes_the_activity_s_end(env: Env) -> None:
    activity = await env.create(assist_spec(ends_at="2026-06-01T18:00:00+08:00"))
    assert (await started(env, activity["id"]))["deadline"] == "2026-06-01T18:00:00+08:00"


async def test_first_time_helpers_get_the_helper_reward_while_it_lasts(env: Env) -> None:
    activity = await env.create(
        assist_spec(
            "collect",
            assist={"helps_needed": 5, "helper_reward": {"reward": {"type": "points", "points": 10}, "stock": 2}},
        )
    )
    a = (await started(env, activity["id"], "a"))["share_token"]
    b = (await started(env, activity["id"], "b"))["share_token"]
    first = await helped(env, a, "f1")
    assert first["helper_reward"] == {"type": "points", "points": 10} and first["helper_reward_status"] == "granted"
    assert "helper_reward" not in await helped(env, b, "f1")  # f1's second help: no second reward
    assert "helper_reward" in await helped(env, a, "f2")
    assert "helper_reward" not in await helped(env, a, "f3")  # the two rewards are gone
    balances = [
        (await env.client.get("/me/points", headers=env.player(u))).json()["balance"] for u in ("f1", "f2", "f3")
    ]
    assert balances == [10, 10, 0]


async def test_a_flushed_redis_is_rebuilt_with_open_initiatives_and_the_caps(env: Env) -> None:
    activity = await env.create(
        assist_spec("bargain", assist={"helps_needed": 4, "anti_abuse": {"helps_per_helper_daily": 1}})
    )
    mine = await started(env, activity["id"])
    first = await helped(env, mine["share_token"], "f1")
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()
    view = (await env.client.get(f"/assists/{mine['share_token']}")).json()
    assert (view["helps"], view["price_cny"]) == (1, first["price_cny"])
    await env.release_held(activity["id"])  # the writer had written everything: nothing was lost
    expect(await env.help(mine["share_token"], "f1"), 409, "already_helped")
    other = await started(env, activity["id"], "u2")
    expect(await env.help(other["share_token"], "f1"), 429, "helper_daily_limit")  # today's help survived
    last = [await helped(env, mine["share_token"], f) for f in ("f2", "f3", "f4")][-1]
    assert last["completed"] is True and last["price_cny"] == "9.90"
    counters = await env.counters(activity["id"])
    assert (counters["stock_left"], counters["initiatives_total"]) == (8, 2)
    # A closed initiative Redis has let go is still answered from SQL.
    await env.platform.audit_writer.drain()
    await env.platform.redis.flushall()
    expect(await env.help(mine["share_token"], "f9"), 409, "initiative_completed")


async def test_the_reconciler_credits_a_lost_helper_reward(env: Env, monkeypatch) -> None:
    activity = await env.create(
        assist_spec("collect", assist={"helper_reward": {"reward": {"type": "points", "points": 7}, "stock": 5}})
    )
    token = (await started(env, activity["id"]))["share_token"]

    async def wallet_down(*_args, **_kwargs):
        raise ConnectionError("wallet shard unreachable")

    monkeypatch.setattr(env.platform.points, "credit", wallet_down)
    assert (await helped(env, token, "f1"))["helper_reward_status"] == "pending"
    monkeypatch.undo()
    await env.platform.audit_writer.drain()
    env.clock.advance(minutes=6)
    assert await env.platform.reconcile() == 1
    assert (await env.client.get("/me/points", headers=env.player("f1"))).json()["balance"] == 7
    await env.platform.audit_writer.drain()
    assert await env.platform.reconcile() == 0
