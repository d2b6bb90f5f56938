"""The audit pipeline under stress: entries the writer cannot write are quarantined (never block
a stream), a database outage quarantines nothing, the backlog is measured with bounded work,
trimming survives a flushed Redis, and shutdown drains within a bound."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from redis.asyncio.client import Pipeline

from activities import db
from activities.audit import AuditWriter
from activities.audit_store import UNDELIVERED_SCAN
from activities.config import idempotency_ttl_s
from activities.keys import AUDIT_GROUP, ActivityKeys
from activities.metrics import AUDIT_QUARANTINED
from api.app import create_app
from lottery import db as lottery_db
from tests.conftest import Env, checkin_spec, wheel


async def _count(env: Env, table: sa.Table) -> int:
    async with env.platform.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def _draws(env: Env, activity_id: int, n: int, users: int = 50) -> list[str]:
    ids = []
    for i in range(n):
        response = await env.draw(activity_id, user=f"u{i % users}")
        assert response.status_code == 201, response.text
        ids.append(response.json()["draw_id"])
    return ids


async def _forged_draw(env: Env, activity_id: int, **bad: str) -> str:
    """Append a draw event like the draw script's, with some fields replaced, to the stream."""
    fields = {
        "type": "draw",
        "kind": "draw",
        "draw_id": f"dforged{secrets.token_hex(4)}",
        "user_id": "u-forged",
        "prize_id": "3",
        "picked_prize_id": "3",
        "rand": "12345",
        "day": "2026-06-01",
        "drawn_at_ms": "1780000000000",
        "idempotency_key": "k-forged",
        "fingerprint": "f",
        "left_today": "-1",
        "left_total": "-1",
    } | bad
    return str(await env.platform.redis.xadd(ActivityKeys(activity_id).events, fields))  # type: ignore[arg-type]


async def test_an_entry_that_cannot_be_converted_is_quarantined_not_retried_forever(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    await _draws(env, activity["id"], 5)
    bad = await _forged_draw(env, activity["id"], left_today="1e+15")  # int('1e+15') fails
    await _draws(env, activity["id"], 5)
    before = AUDIT_QUARANTINED._value.get()
    await env.platform.audit_writer.drain()
    assert await _count(env, lottery_db.draws) == 10  # the entries behind it were written
    assert AUDIT_QUARANTINED._value.get() == before + 1
    counters = await env.counters(activity["id"])
    assert counters["quarantined"] == 1
    assert counters["audit_backlog"] == 0
    response = await env.client.get(f"/operator/audit/quarantine?activity={activity['id']}", headers=env.operator())
    assert response.status_code == 200, response.text
    [entry] = response.json()["entries"]
    assert entry["entry_id"] == bad
    assert entry["fields"]["left_today"] == "1e+15"
    assert "ValueError" in entry["error"]
    assert (await env.client.get("/operator/audit/quarantine", headers=env.player())).status_code == 403


async def test_a_transaction_failing_on_one_entry_is_bisected_to_that_entry(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    good = await _draws(env, activity["id"], 12)
    bad = await _forged_draw(env, activity["id"], rand=str(2**70))  # converts, but no SQL integer holds it
    good += await _draws(env, activity["id"], 12)
    await env.platform.audit_writer.drain()
    found = await env.platform.audit_lookup("draw", good)
    assert set(found.values()) == {1}  # every good draw, once
    letters = await env.platform.activities.repository.dead_letters(10)
    assert [letter["entry_id"] for letter in letters] == [bad]
    assert await env.platform.audit_writer.backlog() == 0


async def test_a_database_outage_quarantines_nothing_and_loses_nothing(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity = await env.create(wheel(limits={}))
    ids = await _draws(env, activity["id"], 10)
    repository = env.platform.activities.repository

    async def down(*_args: Any) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(repository, "insert_rows", down)
    writer = env.platform.audit_writer
    for _ in range(3):
        with pytest.raises(sa.exc.OperationalError):
            await writer.step(claim=True)
    monkeypatch.undo()
    assert await _count(env, db.audit_dead_letters) == 0
    pending = await env.platform.redis.xpending(ActivityKeys(activity["id"]).events, AUDIT_GROUP)
    assert pending["pending"] == 10  # read, never acknowledged
    await writer.step(claim=False)  # the same writer, without waiting for claim_idle_ms
    assert set((await env.platform.audit_lookup("draw", ids)).values()) == {1}
    assert await _count(env, db.audit_dead_letters) == 0


async def test_trim_and_the_writer_survive_a_flushed_redis(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    await _draws(env, activity["id"], 3)
    writer = env.platform.audit_writer
    stream = ActivityKeys(activity["id"]).events
    await writer.drain()
    await env.platform.redis.flushall()
    assert await writer.store.trim(stream) == 0  # no stream, no group: nothing to trim, no NOGROUP
    await env.platform.redis.xadd(stream, {"type": "draw"})  # a stream without the group
    assert await writer.store.trim(stream) == 0
    writer.trim_interval_s = 0
    await writer.step()  # trims every stream in the same pass: no error either


async def test_trim_keeps_everything_not_acknowledged(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    await _draws(env, activity["id"], 10)
    store, redis = env.platform.audit_writer.store, env.platform.redis
    stream = ActivityKeys(activity["id"]).events
    slow = await store.read_new(stream, "slow", 3)  # pending
    fast = await store.read_new(stream, "fast", 4)
    await store.acknowledge(stream, [entry_id for entry_id, _ in fast])
    await store.trim(stream)
    kept = {entry_id for entry_id, _ in await redis.xrange(stream) or []}
    assert {entry_id for entry_id, _ in slow} <= kept
    assert len(kept) == 10  # the acknowledged ones are after a pending one: kept too
    await store.acknowledge(stream, [entry_id for entry_id, _ in slow])
    assert await store.trim(stream) == 6  # up to the last delivered entry (kept); 3 never read are kept
    assert await redis.xlen(stream) == 4


async def test_the_backlog_is_counted_with_bounded_reads(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    activity = await env.create(wheel(limits={}))
    total = UNDELIVERED_SCAN * 2 + 10
    await _draws(env, activity["id"], total, users=total)
    store = env.platform.audit_writer.store
    stream = ActivityKeys(activity["id"]).events
    await store.read_new(stream, "reader", 30)  # 30 pending, the rest never delivered
    counts: list[int | None] = []
    original = Pipeline.xrange

    def spy(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        counts.append(kwargs.get("count"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "xrange", spy)
    backlog = (await store.backlog_many([stream]))[stream]
    assert counts and all(c is not None and c <= UNDELIVERED_SCAN for c in counts)
    assert backlog.pending == 30
    assert backlog.entries == total  # nothing acknowledged yet: the upper bound is exact
    assert backlog.lag_ms > 0  # the oldest pending entry was appended a moment ago
    handlers = env.platform.audit_writer.handlers
    await AuditWriter(
        store, env.platform.activities.repository, handlers=handlers, claim_idle_ms=0
    ).drain()  # "reader" died
    after = (await store.backlog_many([stream]))[stream]
    assert (after.entries, after.lag_ms) == (0, 0)


async def test_stopping_the_inline_writer_drains_what_is_there(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    ids = await _draws(env, activity["id"], 300, users=300)
    platform = env.platform
    platform.settings = dataclasses.replace(platform.settings, audit_writer=True)
    app = create_app(platform)
    async with app.lifespan():
        pass  # the writer is told to stop at once: it drains on its way out
    assert set((await platform.audit_lookup("draw", ids)).values()) == {1}


async def test_the_shutdown_drain_is_bounded(env: Env) -> None:
    activity = await env.create(wheel(limits={}))
    await _draws(env, activity["id"], 20)
    writer = env.platform.audit_writer
    writer.shutdown_drain_s = 0.0
    assert await writer.drain_on_shutdown() == 0  # no time at all: leaves everything in Redis
    assert await writer.backlog() == 20


def test_the_idempotency_window_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert idempotency_ttl_s() == 24 * 3600
    monkeypatch.setenv("PROMO_IDEMPOTENCY_TTL_S", "3600")
    assert idempotency_ttl_s() == 3600
    monkeypatch.setenv("PROMO_IDEMPOTENCY_TTL_S", "1")
    assert idempotency_ttl_s() == 60  # at least a minute


async def test_sigterm_of_the_worker_drains_before_exiting(env: Env, tmp_path: Path) -> None:
    """`promo worker` on SIGTERM: writes what the streams hold (within PROMO_SHUTDOWN_DRAIN_S),
    then exits 0."""
    activity = await env.create(wheel(limits={}))
    ids = await _draws(env, activity["id"], 400, users=400)
    settings = env.platform.settings
    environment = {
        **os.environ,
        "REDIS_URL": settings.redis_url or "",
        "DATABASE_URL": settings.database_url,
        "PROMO_VAR_DIR": str(tmp_path),
        "PROMO_JWT_SECRET": settings.jwt_secret,
        "PROMO_SHUTDOWN_DRAIN_S": "20",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "worker", env=environment, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    output = []
    async with asyncio.timeout(60):
        while line := (await process.stderr.readline()).decode():
            output.append(line)
            if "audit writer" in line and "started" in line:
                process.send_signal(signal.SIGTERM)
                break
        output.append((await process.stderr.read()).decode())
        await process.wait()
    log = "".join(output)
    assert process.returncode == 0, log
    assert "on shutdown" in log
    assert set((await env.platform.audit_lookup("draw", ids)).values()) == {1}


async def test_after_a_failed_write_the_writer_reads_all_its_own_unacknowledged_entries(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small batches: a failed transaction leaves its batch unacknowledged; the next steps read
    this consumer's pending entries batch after batch (not only the first), then new ones, and
    write each entry once."""
    activity = await env.create(wheel(limits={}))
    ids = await _draws(env, activity["id"], 23, users=23)
    repository = env.platform.activities.repository
    writer = AuditWriter(
        env.platform.audit_writer.store,
        repository,
        handlers=env.platform.audit_writer.handlers,
        consumer="small",
        batch_size=5,
    )
    original, calls = repository.insert_rows, 0

    async def flaky(rows: Any) -> None:
        nonlocal calls
        calls += 1
        if calls in (2, 3):
            raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))
        await original(rows)

    monkeypatch.setattr(repository, "insert_rows", flaky)
    assert await writer.step() == 5
    for _ in range(2):  # 10 entries read and left unacknowledged: two batches of its own
        with pytest.raises(sa.exc.OperationalError):
            await writer.step()
    for _ in range(10):
        await writer.step()
    assert set((await env.platform.audit_lookup("draw", ids)).values()) == {1}
    assert await writer.backlog() == 0


async def test_every_gameplay_shows_its_quarantined_entries_in_its_counters(env: Env) -> None:
    checkin = await env.create(checkin_spec())
    assert (await env.sign_in(checkin["id"])).status_code == 201
    stream = ActivityKeys(checkin["id"]).events
    await env.platform.redis.xadd(stream, {"type": "checkin", "mark_id": "m-forged"})  # fields missing
    await env.platform.audit_writer.drain()
    counters = await env.counters(checkin["id"])
    assert (counters["quarantined"], counters["signins_in_sql"], counters["audit_backlog"]) == (1, 1, 0)
