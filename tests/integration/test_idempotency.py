"""The Idempotency-Key: a replay returns the first result, never a second draw."""

from __future__ import annotations

import asyncio
from collections import Counter

from api.platform import Platform
from tests.conftest import Env, asgi_client, wheel


async def test_every_request_sent_three_times_concurrently_draws_once(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    requests = [(f"user{i % 20}", f"key-{i}") for i in range(150)]
    responses = await asyncio.gather(
        *(env.draw(activity["id"], user=user, key=key) for user, key in requests for _ in range(3))
    )
    by_key: dict[str, set[str]] = {}
    for (user, key), response in zip([r for r in requests for _ in range(3)], responses, strict=True):
        # One of the three draws; the others replay it or are told it is still in flight (409).
        assert response.status_code in (201, 409), response.text
        if response.status_code == 201:
            by_key.setdefault(f"{user}/{key}", set()).add(response.json()["draw_id"])
        else:
            assert response.json()["code"] == "idempotency_key_in_flight"
    assert len(by_key) == len(requests)
    assert all(len(ids) == 1 for ids in by_key.values())
    counters = await env.counters(activity["id"])
    assert counters["draws_total"] == len(requests)


async def test_two_servers_sharing_redis_draw_once_per_key(env: Env) -> None:
    """Across processes there is no in-flight set: the script itself makes the second a replay."""
    activity = await env.create(wheel(limits={}))
    other = Platform.build(env.platform.settings, clock=env.clock)
    async with asgi_client(other, "http://other") as second:
        headers = {**env.player("u1"), "Idempotency-Key": "shared-key"}
        first, replay = await asyncio.gather(
            env.client.post(f"/activities/{activity['id']}/draws", headers=headers),
            second.post(f"/activities/{activity['id']}/draws", headers=headers),
        )
    await other.close()
    assert first.status_code == replay.status_code == 201
    assert first.json()["draw_id"] == replay.json()["draw_id"]
    assert sorted([first.json()["replayed"], replay.json()["replayed"]]) == [False, True]
    assert (await env.counters(activity["id"]))["draws_total"] == 1


async def test_replay_returns_the_same_result(env: Env) -> None:
    activity = await env.create(wheel())
    first = await env.draw(activity["id"], key="same")
    again = await env.draw(activity["id"], key="same")
    assert first.status_code == again.status_code == 201
    assert again.json() == {**first.json(), "replayed": True}
    assert (await env.counters(activity["id"]))["draws_total"] == 1


async def test_same_key_with_another_body_is_422(env: Env) -> None:
    activity = await env.create(wheel())
    assert (await env.draw(activity["id"], key="k", json={"channel": "app"})).status_code == 201
    response = await env.draw(activity["id"], key="k", json={"channel": "h5"})
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert (await env.counters(activity["id"]))["draws_total"] == 1


async def test_keys_are_per_player(env: Env) -> None:
    """Two players using the same key string each get their own draw."""
    activity = await env.create(wheel())
    a = await env.draw(activity["id"], user="alice", key="k1")
    b = await env.draw(activity["id"], user="bob", key="k1")
    assert a.json()["draw_id"] != b.json()["draw_id"]
    assert Counter([a.json()["replayed"], b.json()["replayed"]]) == {False: 2}
