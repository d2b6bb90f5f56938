"""Fairness you can prove (issue 18): config versions frozen at publication and changed live
only from a future time, commit-reveal draws, the public verification and `promo verify`."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from activities.clock import from_ms
from api.cli import main
from lottery import db
from lottery.fairness import derive_rand
from lottery.service import DrawService
from tests.conftest import NOW, Env, wheel


def _spec(**overrides: Any) -> dict[str, Any]:
    return wheel(**{"limits": {}, "prizes": [
            {"name": "Phone", "type": "goods", "weight": 10, "stock": 3, "value_cny": 999},
            {"name": "Coupon", "type": "coupon", "weight": 290, "stock": 100000, "daily_stock": 50000,
             "per_user_cap": 5, "value_cny": 10},
            {"name": "Thanks", "type": "thanks", "weight": 700},
        ]} | overrides)  # fmt: skip


async def _rows(env: Env, activity_id: int) -> list[Any]:
    await env.platform.audit_writer.drain()
    async with env.platform.engine.connect() as conn:
        query = sa.select(db.draws).where(db.draws.c.activity_id == activity_id).order_by(db.draws.c.id)
        return list((await conn.execute(query)).all())


async def _seed(env: Env, activity_id: int) -> bytes:
    seeds = env.platform.service(DrawService).seeds
    assert seeds is not None
    seed = await seeds.seed(activity_id)
    assert seed is not None
    return seed


def _at(ms: int) -> str:
    return from_ms(ms, NOW.tzinfo).isoformat()  # type: ignore[arg-type]


async def test_publish_freezes_a_version_and_commits_to_a_seed(env: Env) -> None:
    created = await env.create(_spec(), publish=False)
    activity_id = created["id"]
    edited = await env.client.patch(
        f"/operator/activities/{activity_id}", json=_spec(name="Edited wheel"), headers=env.operator()
    )
    assert edited.status_code == 200, edited.text
    published = await env.client.post(f"/operator/activities/{activity_id}/publish", headers=env.operator())
    assert published.status_code == 200, published.text
    view = (await env.client.get(f"/activities/{activity_id}")).json()
    assert view["config_version"] == 2  # created (1), edited (2), frozen on publication
    assert len(view["commitment"]) == 64 and view["seed"] is None and view["upcoming_versions"] == []
    seed = await _seed(env, activity_id)
    assert hashlib.sha256(seed).hexdigest() == view["commitment"]
    async with env.platform.engine.connect() as conn:  # encrypted at rest with the seed key
        sealed = (await conn.execute(sa.select(db.lottery_seeds.c.sealed))).scalar_one()
    key = (env.platform.settings.var_dir / "seed-key").read_text().strip()
    assert seed.hex() not in sealed and Fernet(key.encode()).decrypt(sealed.encode()) == seed
    assert (env.platform.settings.var_dir / "seed-key").stat().st_mode & 0o777 == 0o600

    results = [(await env.draw(activity_id, f"m{i}")).json() for i in range(20)]
    rows = await _rows(env, activity_id)
    assert {r.draw_id for r in rows} == {r["draw_id"] for r in results}
    for row in rows:  # the number is derived from the seed and the draw id; the version recorded
        assert row.config_version == 2 and row.rand == derive_rand(seed, row.draw_id, 1000)

    early = await env.client.get(f"/activities/{activity_id}/draws/{rows[0].draw_id}/verification")
    assert early.status_code == 409 and early.json()["code"] == "seed_not_revealed"

    ended = await env.client.post(f"/operator/activities/{activity_id}/end", headers=env.operator())
    assert ended.status_code == 200, ended.text
    view = (await env.client.get(f"/activities/{activity_id}")).json()
    assert view["seed"] == seed.hex()
    for row in rows:
        check = await env.client.get(f"/activities/{activity_id}/draws/{row.draw_id}/verification")
        assert check.status_code == 200, check.text
        body = check.json()
        assert body["result"] == "verified" and body["seed_matches_commitment"], body
        assert body["config_version"] == 2 and sum(w["weight"] for w in body["weights"]) == 1000
    unknown = await env.client.get(f"/activities/{activity_id}/draws/d-nope/verification")
    assert unknown.status_code == 404 and unknown.json()["code"] == "draw_not_found"


async def test_a_live_change_takes_effect_at_its_time_and_is_disclosed(env: Env) -> None:
    activity = await env.create(_spec())
    activity_id, prizes = activity["id"], activity["prizes"]
    path = f"/operator/activities/{activity_id}/versions"
    now_ms = env.clock.now_ms()
    body = {"effective_at": _at(now_ms), "prizes": [{"id": prizes[0]["id"], "weight": 0}]}
    past = await env.client.post(path, json=body, headers=env.operator())
    assert past.status_code == 422 and past.json()["code"] == "effective_at_not_future"
    bad = {"effective_at": _at(now_ms + 60_000), "prizes": [{"id": 999999, "weight": 1}]}
    unknown = await env.client.post(path, json=bad, headers=env.operator())
    assert unknown.status_code == 422 and unknown.json()["code"] == "prize_not_in_activity"

    switch_ms = now_ms + 3_600_000
    change = {
        "effective_at": _at(switch_ms),
        "prizes": [{"id": prizes[0]["id"], "weight": 0}, {"id": prizes[1]["id"], "weight": 1290, "value_cny": "20"}],
        "limits": {"per_user_daily": 2},
        "note": "more coupons, two draws a day",
    }
    created = await env.client.post(path, json=change, headers=env.operator())
    assert created.status_code == 201, created.text
    history = created.json()
    assert history["current_version"] == 1 and [v["version"] for v in history["versions"]] == [1, 2]

    view = (await env.client.get(f"/activities/{activity_id}")).json()
    assert view["config_version"] == 1 and view["prizes"][0]["odds"] == "0.010000"
    (announced,) = view["upcoming_versions"]
    assert announced["version"] == 2 and announced["effective_at"] == _at(switch_ms)
    assert announced["limits"] == {"per_user_daily": 2, "per_user_total": None, "global_daily": None}
    assert view["limits"]["per_user_daily"] is None
    assert [p["odds"] for p in announced["prizes"]] == ["0.000000", "0.648241", "0.351759"]
    public = await env.client.get(f"/activities/{activity_id}/versions")
    assert public.json()["versions"][1] == announced  # the history shows what members were shown

    before = (await env.draw(activity_id, "early")).json()
    for _ in range(3):  # no daily limit in version 1
        assert (await env.draw(activity_id, "late")).status_code == 201
    env.clock.advance(hours=1)
    after = (await env.draw(activity_id, "fresh")).json()
    limited = await env.draw(activity_id, "late")  # version 2: two a day, and "late" drew 3 today
    assert limited.status_code == 429 and limited.json()["code"] == "user_daily_limit"
    view = (await env.client.get(f"/activities/{activity_id}")).json()
    assert view["config_version"] == 2 and view["upcoming_versions"] == [] and view["limits"]["per_user_daily"] == 2
    assert view["prizes"][1]["value_cny"] == "20.00" and view["prizes"][0]["odds"] == "0.000000"
    rows = {r.draw_id: r for r in await _rows(env, activity_id)}
    seed = await _seed(env, activity_id)
    assert rows[before["draw_id"]].config_version == 1 and rows[after["draw_id"]].config_version == 2
    assert rows[after["draw_id"]].rand == derive_rand(seed, after["draw_id"], 1990)

    third = change | {"effective_at": _at(env.clock.now_ms() + 7_200_000)}
    assert (await env.client.post(path, json=third, headers=env.operator())).status_code == 201
    between = change | {"effective_at": _at(env.clock.now_ms() + 3_600_000)}  # before the latest announced
    again = await env.client.post(path, json=between, headers=env.operator())
    assert again.status_code == 422 and again.json()["code"] == "effective_at_not_after_latest"
    async with env.platform.engine.connect() as conn:  # the change is in the action log
        actions = (await conn.execute(sa.text("SELECT action FROM operator_actions"))).scalars().all()
    assert "new_version" in actions and "freeze_version" in actions
    statuses: list[int] = []
    for _ in range(100):  # the action log is written after the answer
        log = await env.client.get("/operator/log?action=versions", headers=env.operator())
        statuses = [e["status"] for e in log.json()["items"]]
        if len(statuses) == 5:
            break
        await asyncio.sleep(0.02)
    assert statuses == [422, 201, 201, 422, 422]  # newest first: every attempt, refused ones too


async def test_draws_racing_a_version_switch_each_use_exactly_one_version(env: Env) -> None:
    """Two workers (two platforms on one Redis and one database): the second read the lottery
    before the change, so its cache knows only version 1. Draws from both, concurrently, while
    the clock crosses the switch: version 1 only picks the coupon, version 2 only the consolation
    prize; every draw used exactly the version in effect at its time, in the record and in the
    prize alike, and the whole run verifies."""
    from api.platform import Platform
    from tests.conftest import asgi_client

    spec = _spec(
        prizes=[
            {"name": "Coupon", "type": "coupon", "weight": 1000, "stock": 100000, "value_cny": 10},
            {"name": "Thanks", "type": "thanks", "weight": 0},
        ]
    )
    activity = await env.create(spec)
    activity_id, prizes = activity["id"], activity["prizes"]
    other = Platform.build(env.platform.settings, clock=env.clock)
    async with asgi_client(other) as second:
        warm = await second.post(
            f"/activities/{activity_id}/draws", headers={**env.player("w"), "Idempotency-Key": "warm"}
        )
        assert warm.status_code == 201, warm.text
        switch_ms = env.clock.now_ms() + 100
        change = {
            "effective_at": _at(switch_ms),
            "prizes": [{"id": prizes[0]["id"], "weight": 0}, {"id": prizes[1]["id"], "weight": 3000}],
        }
        created = await env.client.post(
            f"/operator/activities/{activity_id}/versions", json=change, headers=env.operator()
        )
        assert created.status_code == 201, created.text

        stale = other.service(DrawService)
        refreshed = stale._refresh
        refreshes: list[int] = []

        async def counted(activity_id: int) -> Any:
            refreshes.append(activity_id)
            return await refreshed(activity_id)

        stale._refresh = counted  # type: ignore[method-assign]
        ticks = iter(range(10**6))
        start = env.clock.now_ms()
        env.clock.now_ms = lambda: start + next(ticks) // 2  # type: ignore[method-assign]  # 1 ms per 2 reads

        async def draw(n: int) -> Any:
            client = env.client if n % 2 else second
            headers = {**env.player(f"r{n}"), "Idempotency-Key": f"k{n}"}
            return await client.post(f"/activities/{activity_id}/draws", headers=headers)

        answers = await asyncio.gather(*(draw(n) for n in range(300)))
        assert all(a.status_code == 201 for a in answers), [a.text for a in answers if a.status_code != 201]
        await other.close()
    rows = [r for r in await _rows(env, activity_id) if r.draw_id != warm.json()["draw_id"]]
    assert len(rows) == 300
    versions = {1: 0, 2: 0}
    for row in rows:
        expected = 2 if row.drawn_at_ms >= switch_ms else 1
        assert row.config_version == expected
        assert row.prize_id == (prizes[0]["id"] if expected == 1 else prizes[1]["id"])
        versions[expected] += 1
    assert versions[1] > 0 and versions[2] > 0
    assert refreshes == [activity_id]  # the second worker learnt of version 2 from the draw script
    report = await _report(env, activity_id)
    assert report.ok, report.differing[:3]


async def _report(env: Env, activity_id: int) -> Any:
    from lottery.fairness_service import Fairness

    draws = env.platform.service(DrawService)
    return await Fairness(draws).report(await draws.activities.get(activity_id))


@pytest.mark.usefixtures("restore_process_state")
async def test_every_draw_of_a_10000_draw_run_verifies_and_tampering_is_found(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """10,000 draws by 2,000 members (the phone runs out, the coupon's per-member cap binds),
    over two days, with a stock addition and a live odds change in between: `promo verify`
    recomputes them all. Then a prize, a number and a version are altered in SQL: each is found."""
    from activities.auth import Identity
    from lottery.service import DrawBody

    activity = await env.create(_spec())
    activity_id, prizes = activity["id"], activity["prizes"]
    draws = env.platform.service(DrawService)

    async def run(start: int, count: int) -> None:
        for chunk in range(start, start + count, 250):
            await asyncio.gather(
                *(
                    draws.draw(Identity(f"m{n % 2000}", "player", level="gold"), activity_id, f"k{n}", DrawBody())
                    for n in range(chunk, min(chunk + 250, start + count))
                )
            )
            await env.platform.audit_writer.drain()

    await run(0, 4000)
    env.clock.advance(seconds=1)
    stock = await env.client.post(
        f"/operator/activities/{activity_id}/prizes/{prizes[0]['id']}/stock", json={"units": 2}, headers=env.operator()
    )
    assert stock.status_code == 200, stock.text
    change = {"effective_at": _at(env.clock.now_ms() + 1000), "prizes": [{"id": prizes[0]["id"], "weight": 100}]}
    created = await env.client.post(f"/operator/activities/{activity_id}/versions", json=change, headers=env.operator())
    assert created.status_code == 201, created.text
    env.clock.advance(days=1)
    await run(4000, 6000)
    rows = await _rows(env, activity_id)
    assert len(rows) == 10_000 and {r.config_version for r in rows} == {1, 2}

    monkeypatch.setenv("DATABASE_URL", env.platform.settings.database_url)
    monkeypatch.setenv("PROMO_VAR_DIR", str(env.platform.settings.var_dir))
    assert await asyncio.to_thread(main, ["verify", "--activity", str(activity_id)]) == 0
    assert "10000 of 10000 draws verified: verified" in capsys.readouterr().out

    prize_ids = [p["id"] for p in prizes]
    tampered = {
        rows[10].draw_id: ("prize", {"prize_id": next(p for p in prize_ids if p != rows[10].prize_id)}),
        rows[20].draw_id: ("rand", {"rand": (rows[20].rand + 1) % 2**32}),
        rows[9000].draw_id: ("config_version", {"config_version": 1}),
    }
    async with env.platform.engine.begin() as conn:
        for draw_id, (_, values) in tampered.items():
            await conn.execute(sa.update(db.draws).where(db.draws.c.draw_id == draw_id).values(**values))
    report = await _report(env, activity_id)
    assert not report.ok and report.draws == 10_000
    found = {d.draw_id: {c.name for c in d.checks if not c.ok} for d in report.differing}
    for draw_id, (check, _) in tampered.items():
        assert check in found.get(draw_id, set()), (draw_id, found.get(draw_id))
    assert set(found) <= set(tampered) | {r.draw_id for r in rows[11:]}  # a changed prize shifts what follows
    assert await asyncio.to_thread(main, ["verify", "--activity", str(activity_id)]) == 1
    assert f"draw {rows[20].draw_id} differs: rand" in capsys.readouterr().out


async def test_the_seed_stays_secret_until_the_activity_has_ended_for_good(env: Env) -> None:
    """A window that has run out may still be extended (issue 13), so it reveals nothing; the
    operator's `end`, which nothing reopens, does."""
    activity = await env.create(_spec(ends_at=(NOW + timedelta(hours=1)).isoformat()))
    drawn = (await env.draw(activity["id"])).json()
    await env.platform.audit_writer.drain()
    env.clock.advance(hours=2)
    path = f"/activities/{activity['id']}"
    assert (await env.client.get(path)).json()["seed"] is None
    hidden = await env.client.get(f"{path}/draws/{drawn['draw_id']}/verification")
    assert hidden.status_code == 409 and hidden.json()["code"] == "seed_not_revealed"
    ended = await env.client.post(f"/operator/activities/{activity['id']}/end", headers=env.operator())
    assert ended.status_code == 200, ended.text
    assert (await env.client.get(path)).json()["seed"] == (await _seed(env, activity["id"])).hex()
    shown = await env.client.get(f"{path}/draws/{drawn['draw_id']}/verification")
    assert shown.status_code == 200 and shown.json()["result"] == "verified"


async def test_ab_variants_and_grants_record_their_version_and_verify(env: Env) -> None:
    """A member of a variant with its own weights draws with them (whatever the version); the
    control group follows the versions; a prize granted from the pool records its version too."""
    experiment = {
        "salt": "fair",
        "variants": [
            {"name": "control"},
            {"name": "b", "overrides": {"weights": [0, 1000, 0], "rewards": [None, {"value_cny": "15"}, None]}},
        ],
    }
    activity = await env.create(_spec(experiment=experiment))
    activity_id, prizes = activity["id"], activity["prizes"]
    change = {
        "effective_at": _at(env.clock.now_ms() + 1000),
        "prizes": [{"id": prizes[0]["id"], "weight": 500}, {"id": prizes[1]["id"], "value_cny": "12"}],
    }
    created = await env.client.post(f"/operator/activities/{activity_id}/versions", json=change, headers=env.operator())
    assert created.status_code == 201, created.text
    answers = [(await env.draw(activity_id, f"a{n}")).json() for n in range(40)]
    env.clock.advance(seconds=2)
    answers += [(await env.draw(activity_id, f"b{n}")).json() for n in range(40)]
    coupons = {(a["draw_id"] in {x["draw_id"] for x in answers[:40]}, a["prize"]["value_cny"]) for a in answers
               if a["prize"]["id"] == prizes[1]["id"]}  # fmt: skip
    # version 1: 10 (control) or the variant's 15; version 2: 12 (control) or still the variant's 15
    assert coupons <= {(True, "10.00"), (True, "15"), (False, "12.00"), (False, "15")}, coupons
    draws = env.platform.service(DrawService)
    granted = await draws.grant_prize(activity_id, "g1", prizes[1]["id"], "ref-1")
    rows = {r.draw_id: r for r in await _rows(env, activity_id)}
    assert rows[granted.grant_id].config_version == 2 and rows[granted.grant_id].kind == "grant"
    variants = {r.variant for r in rows.values() if r.kind == "draw"}
    assert variants == {"control", "b"}
    for row in rows.values():
        if row.variant == "b":
            assert row.prize_id == prizes[1]["id"]  # the variant's weights: always the coupon
    report = await _report(env, activity_id)
    assert report.ok and report.draws == 80, report.differing[:3]


async def test_a_lottery_published_before_versions_keeps_drawing_and_can_be_versioned(env: Env) -> None:
    """No version, no seed (as migration 0012 leaves a live lottery): version 0, fresh random
    numbers, not verifiable; a live change first freezes its prize table as a version."""
    activity = await env.create(_spec())
    activity_id, prizes = activity["id"], activity["prizes"]
    async with env.platform.engine.begin() as conn:
        await conn.execute(sa.delete(db.config_versions))
        await conn.execute(sa.delete(db.lottery_seeds))
    await env.platform.redis.flushall()
    draws = env.platform.service(DrawService)
    draws._lotteries.clear()
    env.platform.activities._cache.clear()
    assert draws.seeds is not None
    draws.seeds._cache.clear()
    first = await env.draw(activity_id, "old")
    assert first.status_code == 201, first.text
    view = (await env.client.get(f"/activities/{activity_id}")).json()
    assert view["config_version"] == 0 and view["commitment"] is None
    change = {"effective_at": _at(env.clock.now_ms() + 1000), "prizes": [{"id": prizes[0]["id"], "weight": 0}]}
    created = await env.client.post(f"/operator/activities/{activity_id}/versions", json=change, headers=env.operator())
    assert created.status_code == 201, created.text
    assert [v["version"] for v in created.json()["versions"]] == [1, 2]
    assert (await env.draw(activity_id, "before")).status_code == 201
    env.clock.advance(seconds=2)
    assert (await env.draw(activity_id, "after")).status_code == 201
    rows = await _rows(env, activity_id)
    assert [r.config_version for r in rows] == [0, 1, 2]
    await env.client.post(f"/operator/activities/{activity_id}/end", headers=env.operator())
    check = await env.client.get(f"/activities/{activity_id}/draws/{rows[0].draw_id}/verification")
    assert check.status_code == 409 and check.json()["code"] == "not_verifiable"


async def test_a_rebuild_from_sql_keeps_the_announced_versions(env: Env) -> None:
    """Redis loses everything after a change was announced: the rebuilt state holds it, and the
    draws after its time use it."""
    activity = await env.create(_spec())
    activity_id, prizes = activity["id"], activity["prizes"]
    change = {"effective_at": _at(env.clock.now_ms() + 1000), "prizes": [{"id": prizes[2]["id"], "weight": 0}]}
    created = await env.client.post(f"/operator/activities/{activity_id}/versions", json=change, headers=env.operator())
    assert created.status_code == 201, created.text
    await env.platform.redis.flushall()
    env.clock.advance(seconds=2)
    drawn = [(await env.draw(activity_id, f"m{n}")).json() for n in range(30)]
    await env.release_held(activity_id)
    rows = {r.draw_id: r for r in await _rows(env, activity_id)}
    assert {rows[d["draw_id"]].config_version for d in drawn} == {2}
    # Thanks has weight 0 in version 2: never picked (the held-back stock may still fall back to it)
    assert all(rows[d["draw_id"]].picked_prize_id != prizes[2]["id"] for d in drawn)


async def test_draws_under_pity_and_unlock_tiers_verify(env: Env) -> None:
    """The replay runs the rules that landed beside versions (pity, unlock tiers) through
    lottery/odds.py's `decide`: 600 draws by 40 members, some paid with chances, a live change
    halfway, all verified."""
    spec = _spec(
        limits={"per_user_total": 40},
        prizes=[
            {"name": "Top", "type": "goods", "weight": 5, "stock": 10},
            {"name": "Daily", "type": "coupon", "weight": 30, "stock": 40, "daily_stock": 5},
            {"name": "Capped", "type": "coupon", "weight": 65, "stock": 30, "per_user_cap": 2, "unlock_after_draws": 4},
            {"name": "Late", "type": "coupon", "weight": 100, "stock": 60, "unlock_after_draws": 3},
            {"name": "Thanks", "type": "thanks", "weight": 800},
        ],
        pity={"after": 3, "prizes": [0, 1, 2]},
    )
    activity = await env.create(spec)
    activity_id, prizes = activity["id"], activity["prizes"]
    draws = env.platform.service(DrawService)
    for m in range(0, 40, 4):
        await draws.credit_chances(activity_id, f"m{m}", 3, f"ref-{m}", "gift")
    change = {"effective_at": _at(env.clock.now_ms() + 1000), "prizes": [{"id": prizes[3]["id"], "weight": 300}]}
    created = await env.client.post(f"/operator/activities/{activity_id}/versions", json=change, headers=env.operator())
    assert created.status_code == 201, created.text
    for n in range(600):
        if n == 300:
            env.clock.advance(seconds=2)
        response = await env.draw(activity_id, f"m{n % 40}")
        assert response.status_code == 201, response.text
    rows = await _rows(env, activity_id)
    assert any(r.pity for r in rows) and {r.kind for r in rows} == {"draw", "chance"}
    report = await _report(env, activity_id)
    assert report.ok and report.draws == 600, report.differing[:3]
