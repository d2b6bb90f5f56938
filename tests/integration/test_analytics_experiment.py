"""A/B on a wheel: each member plays and sees their variant's odds; the variant is recorded with
the draw and the experiment report compares the variants."""

from __future__ import annotations

from activities.experiment import assign
from tests.conftest import Env, wheel

EXPERIMENT = {
    "salt": "spring-odds",
    "variants": [
        {"name": "control"},
        {"name": "b", "overrides": {"weights": [0, 1000, 0]}},  # always the coupon
    ],
}


async def test_members_play_and_see_their_variant(env: Env) -> None:
    activity = await env.create(wheel(limits={}, experiment=EXPERIMENT))
    aid = activity["id"]
    shares = [("control", 1), ("b", 1)]
    members = [f"m{i}" for i in range(40)]
    variants = {m: assign("spring-odds", m, shares) for m in members}
    assert set(variants.values()) == {"control", "b"}
    b_member = next(m for m, v in variants.items() if v == "b")
    view = (await env.client.get(f"/activities/{aid}", headers=env.player(b_member))).json()
    assert view["variant"] == "b"
    assert [p["odds"] for p in view["prizes"]] == ["0.000000", "1.000000", "0.000000"]
    anonymous = (await env.client.get(f"/activities/{aid}")).json()
    assert anonymous["variant"] is None and anonymous["prizes"][0]["odds"] == "0.010000"
    operator = (await env.client.get(f"/operator/activities/{aid}", headers=env.operator())).json()
    assert operator["experiment"]["salt"] == "spring-odds"

    coupon = activity["prizes"][1]["id"]
    for m in members:
        response = await env.draw(aid, user=m, json={"channel": "app"})
        assert response.status_code == 201, response.text
        if variants[m] == "b":
            assert response.json()["prize"]["id"] == coupon
    await env.platform.audit_writer.drain()
    report = (await env.client.get(f"/operator/activities/{aid}/reports/experiment", headers=env.operator())).json()
    assert report["declared"] is True
    rows = {r["variant"]: r for r in report["rows"]}
    assert rows["control"]["control"] is True
    assert rows["control"]["members"] + rows["b"]["members"] == 40
    assert rows["b"]["rate"] == 1.0
    assert rows["b"]["p_value"] is not None
    assert any("too small" in w for w in report["warnings"])
    overview = (await env.client.get(f"/operator/activities/{aid}/reports/overview", headers=env.operator())).json()
    assert [c["channel"] for c in overview["by_channel"]] == ["app"]


async def test_a_bad_experiment_is_refused(env: Env) -> None:
    bad = {"salt": "s", "variants": [{"name": "a"}, {"name": "a"}]}
    response = await env.client.post("/operator/activities", json=wheel(experiment=bad), headers=env.operator())
    assert response.status_code == 422 and response.json()["code"] == "experiment_invalid"
    short = {"salt": "s", "variants": [{"name": "a"}, {"name": "b", "overrides": {"weights": [1]}}]}
    response = await env.client.post("/operator/activities", json=wheel(experiment=short), headers=env.operator())
    assert response.status_code == 422 and response.json()["code"] == "experiment_invalid"


REWARDS = {
    "salt": "spring-rewards",
    "variants": [
        {"name": "control"},
        {"name": "rich", "overrides": {"rewards": [{"points": 50, "value_cny": "5"}, None]}},
    ],
}


async def _balance(env: Env, user: str) -> int:
    response = await env.client.get("/me/points", headers=env.player(user))
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


async def test_a_variant_overrides_reward_amounts_in_the_draw_path(env: Env) -> None:
    prizes = [
        {"name": "10 points", "type": "points", "weight": 1, "stock": 1000, "points": 10, "value_cny": "1"},
        {"name": "Thanks", "type": "thanks", "weight": 0},
    ]
    aid = (await env.create(wheel(limits={}, prizes=prizes, experiment=REWARDS)))["id"]
    members = [f"r{i}" for i in range(12)]
    variants = {m: assign("spring-rewards", m, [("control", 1), ("rich", 1)]) for m in members}
    assert set(variants.values()) == {"control", "rich"}
    for m in members:
        assert (await env.client.get(f"/activities/{aid}", params={"visitor": m})).status_code == 200
        response = await env.draw(aid, user=m)
        assert response.status_code == 201, response.text
        expected = 50 if variants[m] == "rich" else 10
        assert response.json()["prize"]["points"] == expected  # what the member is told...
        assert await _balance(env, m) == expected  # ...and what the wallet gets
    rich = sum(1 for v in variants.values() if v == "rich")
    view = (await env.client.get(f"/activities/{aid}", headers=env.player(next(iter(variants))))).json()
    assert view["prizes"][0]["points"] == (50 if view["variant"] == "rich" else 10)
    await env.platform.audit_writer.drain()
    assert env.platform.views is not None
    await env.platform.views.persist(force=True)
    overview = (await env.client.get(f"/operator/activities/{aid}/reports/overview", headers=env.operator())).json()
    assert overview["totals"]["cost_cny"] == f"{rich * 5 + (12 - rich) * 1}.00"  # each variant's value
    assert overview["totals"]["budget_cny"] is None  # no budget declared
    report = (
        await env.client.get(
            f"/operator/activities/{aid}/reports/experiment",
            params={"metric": "participation"},
            headers=env.operator(),
        )
    ).json()
    rows = {r["variant"]: r for r in report["rows"]}
    assert rows["rich"]["members"] == rich and rows["rich"]["viewers_estimated"] == 6  # 12 visitors, half
    assert rows["rich"]["participation_rate"] == round(rich / 6, 6)


async def test_reward_overrides_must_match_the_prizes(env: Env) -> None:
    bad = {"salt": "s", "variants": [{"name": "a"}, {"name": "b", "overrides": {"rewards": [None]}}]}
    response = await env.client.post("/operator/activities", json=wheel(experiment=bad), headers=env.operator())
    assert response.status_code == 422 and response.json()["code"] == "experiment_invalid"
