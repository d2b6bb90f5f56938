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
