"""`make bench-writer`: how fast the audit writer drains on its own, and what Redis keeps per draw.

It starts an embedded redis-server and a fresh SQLite database, creates a live wheel with the
platform's own services, fills the wheel's stream with N draws through the real draw script (the
writer not running), then times `AuditWriter.drain` (entries per second). INFO memory taken
before the draws, after them, and after the drain and a trim gives the bytes Redis holds per draw
while its stream entry waits for SQL, and after (the idempotency record, a field of the day's
records hash kept PROMO_IDEMPOTENCY_TTL_S after the day, and the per-member counters).

    python -m loadtests.writer_bench [--draws 50000] [--members 5000] [--concurrency 256]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import msgspec

from activities.audit import tune_gc
from activities.auth import Identity
from activities.config import Settings
from activities.keys import ActivityKeys
from activities.migrate import upgrade
from activities.redis_server import EmbeddedRedis
from api.platform import Platform
from loadtests.harness import wheel_spec
from lottery.keys import LotteryKeys
from lottery.model import LotterySpec
from lottery.service import DrawBody, DrawService


async def _used_memory(platform: Platform) -> int:
    info = await platform.redis.info("memory")
    return int(info["used_memory"])


async def _record_bytes(platform: Platform, activity_id: int) -> float:
    """Bytes per idempotency record of a draw: the records live as fields of one hash per local
    day (lottery/keys.py draws_done, "{act:N}:done:<day>"), so the hashes' MEMORY USAGE (every
    field counted: SAMPLES 0) over their fields."""
    keys = LotteryKeys(activity_id)
    pattern = keys.draws_done(date.today()).rsplit(":", 1)[0] + ":*"  # every day the run touched
    used = fields = 0
    async for key in platform.redis.scan_iter(match=pattern, count=1000):
        used += int(await platform.redis.memory_usage(key, samples=0) or 0)
        fields += int(await platform.redis.hlen(key))
    return used / fields if fields else 0.0


async def fill(platform: Platform, activity_id: int, draws: int, members: int, concurrency: int) -> float:
    """`draws` draws by `members` members; returns draws per second."""
    body = DrawBody()
    players = [Identity(f"m{i}", "player", level="gold") for i in range(members)]
    started = time.perf_counter()
    for start in range(0, draws, concurrency):
        await asyncio.gather(
            *(
                platform.service(DrawService).draw(players[i % members], activity_id, secrets.token_hex(8), body)
                for i in range(start, min(start + concurrency, draws))
            )
        )
    return draws / (time.perf_counter() - started)


async def bench(args: argparse.Namespace, folder: Path) -> tuple[list[str], float]:
    redis = EmbeddedRedis(folder / "redis", appendonly=False)
    url = redis.start()
    database_url = f"sqlite+aiosqlite:///{folder / 'promo.db'}"
    upgrade(database_url)
    settings = Settings(
        var_dir=folder,
        redis_url=url,
        database_url=database_url,
        jwt_secret=secrets.token_urlsafe(32),
        audit_writer=False,
        coalesce=True,
        host="127.0.0.1",
        port=0,
        workers=1,
    )
    platform = Platform.build(settings)
    try:
        spec = msgspec.convert(wheel_spec(top_stock=50_000_000), LotterySpec)
        activity = await platform.service(DrawService).create(spec, "bench")
        await platform.activities.transition(activity.id, "publish", "bench")
        writer = platform.audit_writer
        await writer.drain()
        before = await _used_memory(platform)
        made = await fill(platform, activity.id, args.draws, args.members, args.concurrency)
        stream = ActivityKeys(activity.id).events
        filled = await _used_memory(platform)
        backlog = await writer.backlog()
        tune_gc()  # as `AuditWriter.run` does
        started, cpu_started = time.perf_counter(), time.process_time()
        await writer.drain(timeout_s=600)
        drain_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        await writer.store.trim_many([stream])
        after = await _used_memory(platform)
        length = await platform.redis.xlen(stream)
        idem_bytes = await _record_bytes(platform, activity.id)
        rate = backlog / drain_s
        return [
            f"writer benchmark: {args.draws} draws by {args.members} members, SQLite, embedded Redis",
            f"  draws made (in-process, {args.concurrency} at a time): {made:,.0f}/s",
            f"  writer drained {backlog} entries in {drain_s:.2f} s: {rate:,.0f} entries/s "
            f"(batch {writer.batch_size} per stream per step)",
            f"  writer CPU per entry: {cpu_s * 1e6 / max(backlog, 1):,.0f} µs of this process (Python and SQLite: "
            f"{backlog / max(cpu_s, 1e-9):,.0f} entries per CPU second; steadier than the rate on a busy machine)",
            f"  Redis memory per draw while its entry waits for SQL: {(filled - before) / args.draws:,.0f} bytes",
            f"  Redis memory per draw once written and trimmed: {(after - before) / args.draws:,.0f} bytes "
            f"(idempotency record and per-member counters; stream left with {length} entries)",
            f"  of which the idempotency record (a field of the day's records hash {{act:N}}:done:<day>: its "
            f"MEMORY USAGE over its fields; kept PROMO_IDEMPOTENCY_TTL_S after the day): {idem_bytes:,.0f} bytes",
        ], rate
    finally:
        await platform.close()
        redis.stop()


def measure(draws: int, members: int, concurrency: int = 256) -> float:
    """Entries per second the writer drains alone (for `make bench`)."""
    args = argparse.Namespace(draws=draws, members=members, concurrency=concurrency)
    with tempfile.TemporaryDirectory(prefix="promo-writer-bench-") as folder:
        lines, rate = asyncio.run(bench(args, Path(folder)))
    print("\n".join(lines), flush=True)
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=50_000)
    parser.add_argument("--members", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args(argv)
    measure(args.draws, args.members, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
