"""Faults against real processes under load: the embedded redis-server binary (AOF on,
appendfsync everysec), a real `promo serve` and, where the writer runs apart, a real `promo
worker`, on a free port in a temporary folder. Many clients draw and keep a ledger of every 2xx
answer; after the fault every acknowledged draw is looked up in SQL, no prize was granted beyond
its stock, and SQL equals Redis once the writer has drained. What is printed (run with -s) is
what the README's durability contract quotes.

Timing is never asserted (the machine is shared); only what was lost, duplicated or oversold.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.keys import AUDIT_GROUP, ActivityKeys
from loadtests.ledger import Api, DrawLoad
from loadtests.stack import Stack
from tests.faults.harness import check_counters, check_ledger, recovered, summary
from tests.faults.sqlite_lock import SqliteLock

pytestmark = pytest.mark.slow

# What the design accepts on a crash of redis-server with appendfsync everysec: acknowledged
# draws of the last second (two when a slow fsync makes Redis postpone its write) may be lost.
# A kill -9 of the process alone loses nothing Redis wrote to the kernel; an OS crash may.
LOSS_WINDOW_S = 2.0


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[list[Stack]]:
    """Stacks made by a test are killed at the end, whatever happened."""
    made: list[Stack] = []
    yield made
    for stack in made:
        stack.close()


def new_stack(made: list[Stack], tmp_path: Path, writer: str = "inline") -> Stack:
    stack = Stack(tmp_path / f"stack{len(made)}", writer=writer)
    made.append(stack)
    stack.start_redis()
    stack.start_api()
    if writer == "off":
        stack.start_worker()
    return stack


async def test_kill_9_of_redis_during_a_burst_loses_at_most_the_fsync_window(
    stack_factory: list[Stack], tmp_path: Path
) -> None:
    stack = new_stack(stack_factory, tmp_path)
    api = Api(stack)
    activity_id = await api.create_wheel()
    load = DrawLoad(stack, activity_id)
    load.start()
    await asyncio.sleep(3)
    killed_at = time.monotonic()
    before_kill = len(load.ledger.acks)
    stack.kill_redis()
    await asyncio.sleep(1.0)
    stack.start_redis()  # the same AOF, as a supervisor would
    restarted_at = time.monotonic()
    await asyncio.sleep(3)
    ledger = await load.stop()
    resent = await load.settle()
    after = await recovered(stack, activity_id)
    ledger.acks.update(after.acks)

    counters = await check_counters(api, activity_id, ledger)  # drains first
    missing, duplicated = await check_ledger(api, ledger)
    print(
        summary(
            "kill -9 redis",
            ledger,
            resent=resent,
            before_kill=before_kill,
            in_last_2_s=sum(1 for a in ledger.acks.values() if killed_at - LOSS_WINDOW_S <= a.at <= killed_at),
            after_restart=ledger.since(restarted_at),
            missing=len(missing),
            duplicated=len(duplicated),
            draws=counters["draws_total"],
        )
    )
    print("  missing, seconds after the kill:", sorted(round(ledger.acks[d].at - killed_at, 2) for d in missing)[:40])
    print(f"  restarted {restarted_at - killed_at:.2f} s after the kill")
    assert not duplicated
    outside = [d for d in missing if ledger.acks[d].at < killed_at - LOSS_WINDOW_S or ledger.acks[d].at > killed_at]
    assert not outside, f"{len(outside)} acknowledged draws lost outside the last {LOSS_WINDOW_S} s before the kill"
    assert ledger.since(restarted_at) > 0, "no draw succeeded after Redis came back"
    assert not ledger.server_errors, ledger.server_errors[:5]
    await api.close()


@pytest.mark.parametrize("victim", ["worker", "api"])
async def test_kill_9_of_the_writer_mid_batch_loses_and_duplicates_nothing(
    victim: str, stack_factory: list[Stack], tmp_path: Path
) -> None:
    """The writer's process dies holding a batch it read: `promo worker`, or the API whose
    writer runs inline."""
    stack = new_stack(stack_factory, tmp_path, writer="off" if victim == "worker" else "inline")
    api = Api(stack)
    activity_id = await api.create_wheel()
    load = DrawLoad(stack, activity_id)
    load.start()
    await asyncio.sleep(2)
    # Hold SQLite so that the writer's next batch is read (pending in the group) but cannot
    # commit: then it is certainly killed mid-batch.
    process = stack.worker if victim == "worker" else stack.api
    assert process is not None
    lock = SqliteLock(stack.db_path, seconds=25)
    redis = stack.redis_client()
    stream = ActivityKeys(activity_id).events
    held = await _pending_of_writer(redis, stream, process.pid)
    if victim == "worker":
        stack.kill_worker()
    else:
        stack.stop_api(signal.SIGKILL)
    lock.release()
    await asyncio.sleep(1)
    if victim == "worker":
        stack.start_worker()
    else:
        stack.start_api()  # a supervisor restarts it
        await api.close()
        api = Api(stack)
    await asyncio.sleep(2)
    ledger = await load.stop()
    resent = await load.settle()
    after = await recovered(stack, activity_id)
    ledger.acks.update(after.acks)

    # The dead consumer's entries are claimed once idle for claim_idle_ms (30 s).
    counters = await check_counters(api, activity_id, ledger)
    missing, duplicated = await check_ledger(api, ledger)
    print(
        summary(
            f"kill -9 {victim}", ledger, resent=resent, held_when_killed=held, missing=len(missing), dup=len(duplicated)
        )
    )
    print(f"  draws {counters['draws_total']} = in SQL {counters['draws_in_sql']}")
    assert held > 0, f"the {victim} was not mid-batch when killed"
    assert not missing and not duplicated
    assert not ledger.server_errors, ledger.server_errors[:5]
    redis.close()
    await api.close()


async def _pending_of_writer(redis: object, stream: str, pid: int, timeout_s: float = 15.0) -> int:
    """Entries read but not acknowledged by the writer of that pid: waits until there are, then
    half a second more (the lock keeps them from being committed meanwhile), and counts again."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _pending_of(redis, stream, pid):
            await asyncio.sleep(0.5)
            return _pending_of(redis, stream, pid)
        await asyncio.sleep(0.05)
    return 0


def _pending_of(redis: object, stream: str, pid: int) -> int:
    summary_ = redis.xpending(stream, AUDIT_GROUP)  # type: ignore[attr-defined]
    for consumer in summary_.get("consumers") or []:
        if str(consumer["name"]).endswith(f"-{pid}"):
            return int(consumer["pending"])
    return 0


async def test_sqlite_locked_for_10_s_under_load(stack_factory: list[Stack], tmp_path: Path) -> None:
    stack = new_stack(stack_factory, tmp_path)
    api = Api(stack)
    activity_id = await api.create_wheel()
    load = DrawLoad(stack, activity_id)
    load.start()
    await asyncio.sleep(2)
    lock = SqliteLock(stack.db_path, seconds=10)
    during, peak = await _while_locked(stack, activity_id, lock)
    released_at = time.monotonic()
    for _ in range(150):  # the writer catches up while the load goes on (30 s at most)
        if (backlog := await _backlog(stack, activity_id)) <= 100:
            break
        await asyncio.sleep(0.2)
    caught_up_s = time.monotonic() - released_at
    await asyncio.sleep(1)
    ledger = await load.stop()
    resent = await load.settle()
    after = await recovered(stack, activity_id)
    ledger.acks.update(after.acks)

    counters = await check_counters(api, activity_id, ledger)
    missing, duplicated = await check_ledger(api, ledger)
    print(
        summary(
            "SQLite locked 10 s", ledger, resent=resent, reads=dict(during), missing=len(missing), dup=len(duplicated)
        )
    )
    print(f"  backlog {peak} at the release, {backlog} after {caught_up_s:.1f} s; draws {counters['draws_total']}")
    assert not missing and not duplicated
    assert not ledger.server_errors, ledger.server_errors[:5]
    assert all(k.startswith(("200", "503 service_unavailable", "503 database_busy")) for k in during), during


async def _while_locked(stack: Stack, activity_id: int, lock: SqliteLock) -> tuple[dict[str, int], int]:
    """Until the lock is released: a member reads their draws (SQL) every half second, and the
    audit backlog is sampled. Returns the answers and the highest backlog."""
    import httpx

    token = stack.tokens.issue("m1", "player", level="gold", ttl_s=3600)
    answers: dict[str, int] = {}
    peak = 0
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        for _ in range(60):  # 30 s at most
            if lock.process.poll() is not None:
                break
            peak = max(peak, await _backlog(stack, activity_id))
            answer = await client.get(f"/me/draws?activity={activity_id}", headers={"Authorization": f"Bearer {token}"})
            key = f"{answer.status_code} {answer.json().get('code', '') if answer.status_code >= 400 else ''}".strip()
            answers[key] = answers.get(key, 0) + 1
            await asyncio.sleep(0.5)
    lock.wait(timeout_s=30)
    return answers, peak


async def test_sigterm_of_the_api_under_load(stack_factory: list[Stack], tmp_path: Path) -> None:
    stack = new_stack(stack_factory, tmp_path)
    api = Api(stack)
    activity_id = await api.create_wheel()
    load = DrawLoad(stack, activity_id)
    load.start()
    await asyncio.sleep(3)
    signalled_at = time.monotonic()
    code = await asyncio.to_thread(stack.stop_api, signal.SIGTERM, 60.0)
    stopped_s = time.monotonic() - signalled_at
    backlog = await _backlog(stack, activity_id)
    await asyncio.sleep(0.5)
    ledger = await load.stop()
    stack.start_api()  # a supervisor restarts it; the writer drains what it left
    await api.close()
    api = Api(stack)
    resent = await load.settle()  # what failed in flight, resent with its key
    after = await recovered(stack, activity_id)
    ledger.acks.update(after.acks)

    counters = await check_counters(api, activity_id, ledger)
    missing, duplicated = await check_ledger(api, ledger)
    print(
        summary(
            "SIGTERM api",
            ledger,
            resent=resent,
            exit_code=code,
            stopped_in_s=round(stopped_s, 1),
            left_unwritten=backlog,
            missing=len(missing),
            dup=len(duplicated),
        )
    )
    print(f"  draws {counters['draws_total']} = in SQL {counters['draws_in_sql']}")
    assert code in (0, -signal.SIGTERM), stack.log_tail("api")  # uvicorn re-raises the signal it handled
    assert not missing and not duplicated
    assert not ledger.server_errors, ledger.server_errors[:5]
    await api.close()


async def _backlog(stack: Stack, activity_id: int) -> int:
    """Entries of the activity's stream not acknowledged by the writer (pending + undelivered)."""
    redis = stack.redis_client()
    try:
        stream = ActivityKeys(activity_id).events
        group = next(g for g in redis.xinfo_groups(stream) if g["name"] == AUDIT_GROUP)
        undelivered = len(redis.xrange(stream, f"({group['last-delivered-id']}", "+") or [])
        return int(group["pending"]) + undelivered
    finally:
        redis.close()
