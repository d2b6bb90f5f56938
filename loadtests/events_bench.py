"""Members' events ingested per second (`make bench` prints it; alone:
`python -m loadtests.events_bench [--events 100000] [--batch 1000] [--concurrency 8]`).

In-process, like the writer benchmark: a Platform on an embedded Redis and SQLite with a live
event gift and a task centre listening, batches of `--batch` fresh events checked and recorded by
`EventService.ingest` (ingest.lua, one script per shard of a batch, the listeners' scripts), a
few batches at a time; then the audit writer drains them into SQL (events/s written)."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from activities.config import Settings
from activities.migrate import upgrade
from activities.redis_server import EmbeddedRedis
from api.platform import Platform
from event_gift.model import EventGiftSpec
from events.model import EventBatch, EventIn
from tasks.model import TasksSpec


def _window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"starts_at": (now - timedelta(days=1)).isoformat(), "ends_at": (now + timedelta(days=30)).isoformat()}


async def bench(args: argparse.Namespace, folder: Path) -> tuple[list[str], float]:
    redis = EmbeddedRedis(folder / "redis", appendonly=False)
    url = redis.start()
    database_url = f"sqlite+aiosqlite:///{folder / 'promo.db'}"
    upgrade(database_url)
    settings = Settings(
        var_dir=folder, redis_url=url, database_url=database_url, jwt_secret=secrets.token_urlsafe(32),
        audit_writer=False, coalesce=True, host="127.0.0.1", port=0, workers=1,
    )  # fmt: skip
    platform = Platform.build(settings)
    try:
        gift = msgspec.convert(
            {"type": "event_gift", "name": "Spend 200", **_window(), "event_gift": {
                "trigger": {"event": "order_paid", "min_amount_cny": "200"},
                "reward": {"type": "coupon", "coupon": "C200", "name": "Coupon"}}},
            EventGiftSpec,
        )  # fmt: skip
        tasks = msgspec.convert(
            {"type": "tasks", "name": "Tasks", **_window(), "tasks": {"tasks": [
                {"id": "share3", "name": "Share 3", "period": "daily", "event": "shared", "target": 3,
                 "reward": {"type": "coupon", "coupon": "S3", "name": "Coupon"}}]}},
            TasksSpec,
        )  # fmt: skip
        for name, spec in (("event_gift", gift), ("tasks", tasks)):
            activity = await platform.services[name].create(spec, "bench")
            await platform.activities.transition(activity.id, "publish", "bench")
        now = datetime.now(UTC).isoformat()
        batches = []
        for b in range(args.events // args.batch):
            events = []
            for i in range(args.batch):
                n = b * args.batch + i
                kind = ("shared", "order_paid", "page_viewed")[n % 3]
                attributes = {"amount": 250} if kind == "order_paid" else {}
                events.append(EventIn(f"bench-{n}", f"m{n % args.members}", kind, now, attributes))
            batches.append(EventBatch(events))
        gate = asyncio.Semaphore(args.concurrency)

        async def push(batch: EventBatch) -> int:
            async with gate:
                return (await platform.events.ingest(batch, "bench")).new

        started = time.perf_counter()
        new = sum(await asyncio.gather(*(push(b) for b in batches)))
        ingest_s = time.perf_counter() - started
        writer = platform.audit_writer
        backlog = await writer.backlog()
        started = time.perf_counter()
        await writer.drain(timeout_s=600)
        drain_s = time.perf_counter() - started
        rate = new / ingest_s
        return [
            f"events benchmark: {new:,} events in batches of {args.batch} ({args.concurrency} batches at a time), "
            f"{args.members:,} members, a live gift and task centre listening, embedded Redis, SQLite",
            f"  events: {rate:,.0f} events/s ingested (checked, recorded once per id, gifts and tasks counted)",
            f"  writer: {backlog:,} stream entries (events, firings, progress) into SQL at {backlog / drain_s:,.0f}/s",
        ], rate
    finally:
        await platform.close()
        redis.stop()


def measure(events: int = 30_000, batch: int = 1000, members: int = 5_000, concurrency: int = 4) -> float:
    args = argparse.Namespace(events=events, batch=batch, members=members, concurrency=concurrency)
    with tempfile.TemporaryDirectory(prefix="promo-events-bench-") as folder:
        lines, rate = asyncio.run(bench(args, Path(folder)))
    print("\n".join(lines), flush=True)
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--members", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    measure(args.events, args.batch, args.members, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
