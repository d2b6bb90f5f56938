"""make bench-reports: a generated campaign of N actions (1,000,000 by default) written straight to
SQLite (the draws of a wheel over 30 days, 4 channels, 5 sources, 2 variants, 200,000 members,
with the rollups the audit writer would have kept beside them), then every report timed.

    python -m loadtests.bench_reports [--actions N] [--members M] [--db PATH]

Timing is printed, never asserted (the machine is shared)."""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from activities import db
from activities.db import make_engine
from activities.migrate import upgrade
from activities.repository import ActivityRepository
from analytics import db as adb
from analytics.ab import assign
from analytics.export import events_csv
from analytics.reports import REPORTS, Reports
from lottery import db as ldb

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 6, 1, tzinfo=TZ)
CHANNELS = ("h5", "mini_program", "app", "other")
SOURCES = ("", "wx-moments", "sms-0601", "kol-a", "poster")
PRIZES = ((1, "Phone", 499900, False, 1), (2, "Coupon", 1000, False, 290), (3, "Thanks", 0, True, 709))


async def generate(url: str, actions: int, members: int, seed: int = 1) -> int:
    engine = make_engine(url)
    rng = random.Random(seed)
    async with engine.begin() as conn:
        activity_id = (
            await conn.execute(
                sa.insert(db.activities).values(
                    type="wheel",
                    name="Generated 618 wheel",
                    status="live",
                    starts_at_ms=int(START.timestamp() * 1000),
                    ends_at_ms=int((START + timedelta(days=30)).timestamp() * 1000),
                    timezone="Asia/Shanghai",
                    audience={},
                    limits={},
                    points_cost=0,
                    created_at_ms=0,
                    updated_at_ms=0,
                )
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        for pid, name, cents, thanks, weight in PRIZES:
            await conn.execute(
                sa.insert(ldb.prizes).values(
                    id=pid + 1000 * (activity_id - 1),
                    activity_id=activity_id,
                    position=pid,
                    name=name,
                    type="thanks" if thanks else "goods",
                    weight=weight,
                    stock=None if thanks else 10**8,
                    value_cny=cents / 100,
                )
            )
    weights = [p[4] for p in PRIZES]
    daily: Counter[tuple[Any, ...]] = Counter()
    prize_rows: Counter[tuple[Any, ...]] = Counter()
    day_members: set[tuple[Any, ...]] = set()
    seen: set[tuple[Any, ...]] = set()
    won: set[tuple[Any, ...]] = set()
    span_ms = 30 * 86_400_000
    start_ms = int(START.timestamp() * 1000)
    times = sorted(rng.randrange(span_ms) for _ in range(actions))
    batch: list[dict[str, Any]] = []
    for n, offset in enumerate(times):
        at_ms = start_ms + offset
        day = datetime.fromtimestamp(at_ms / 1000, TZ).date().isoformat()
        user = f"m{int(rng.paretovariate(1.2) * 1000) % members}"
        channel, source = rng.choice(CHANNELS), rng.choice(SOURCES)
        variant = assign("bench", user, (("control", 1), ("b", 1)))
        pid, _, cents, thanks, _ = rng.choices(PRIZES, weights)[0]
        prize_id = pid + 1000 * (activity_id - 1)
        batch.append(
            {
                "draw_id": f"d{n:010d}",
                "kind": "draw",
                "activity_id": activity_id,
                "user_id": user,
                "prize_id": prize_id,
                "picked_prize_id": prize_id,
                "rand": 0,
                "day": day,
                "drawn_at_ms": at_ms,
                "idempotency_key": f"k{n}",
                "fingerprint": "",
                "left_today": None,
                "left_total": None,
                "stream_id": f"{at_ms}-0",
            }
        )
        for ch, src in ((channel, source), ("*", "*")):
            key = (activity_id, day, ch, src, variant)
            counts = {"actions": 1, "draws": 1, "cost_cents": cents, "wins": 0 if thanks else 1}
            if (key, user) not in day_members:
                day_members.add((key, user))
                counts["participants"] = 1
            if (ch, src, variant, user) not in seen:
                seen.add((ch, src, variant, user))
                counts["first_timers"] = 1
            if not thanks and (ch, src, variant, user) not in won:
                won.add((ch, src, variant, user))
                counts["winners"] = 1
            for name, value in counts.items():
                daily[(*key, name)] += value
        prize_rows[(activity_id, day, variant, prize_id, "wins")] += 1
        prize_rows[(activity_id, day, variant, prize_id, "cost_cents")] += cents
        if len(batch) >= 50_000:
            await _insert(engine, ldb.draws, batch)
            batch = []
    await _insert(engine, ldb.draws, batch)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for (*day_key, name), value in daily.items():
        row = rows.setdefault(
            tuple(day_key), dict(zip(adb.DAILY_KEY, day_key, strict=True)) | dict.fromkeys(adb.DAILY_COUNTS, 0)
        )
        row[name] = value
    await _insert(engine, adb.daily, list(rows.values()))
    prows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for (*prize_key, name), value in prize_rows.items():
        key = tuple(prize_key)
        prow = prows.setdefault(key, dict(zip(adb.PRIZE_KEY, key, strict=True)) | {"wins": 0, "cost_cents": 0})
        prow[name] = value
    await _insert(engine, adb.prizes, list(prows.values()))
    await engine.dispose()
    return int(activity_id)


async def _insert(engine: Any, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(table), rows)


async def bench(url: str, activity_id: int, actions: int) -> None:
    engine = make_engine(url)
    activity = await ActivityRepository(engine).get(activity_id)
    assert activity is not None
    reports = Reports(engine)
    print(f"reports on a campaign of {actions:,} actions (SQLite, {url.rsplit('/', 1)[-1]}):")
    for name in REPORTS:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            report = await reports.build(name, activity, None, None)
            best = min(best, time.perf_counter() - started)
        print(f"  {name:<11} {best * 1000:8.1f} ms  ({len(report['rows'])} rows)")
    first = START.date().isoformat()
    started, lines = time.perf_counter(), 0
    async for chunk in events_csv(engine, activity, [ldb.draws], first, (START + timedelta(days=2)).date().isoformat()):
        lines += chunk.count("\n")
    took = time.perf_counter() - started
    print(f"  raw events CSV, 3 days: {lines - 1:,} rows streamed in {took:.2f} s")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--db", type=Path, help="keep the generated database at this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "reports.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        started = time.perf_counter()
        activity_id = asyncio.run(generate(url, args.actions, args.members))
        took = time.perf_counter() - started
        print(f"generated {args.actions:,} actions in {took:.0f} s ({datetime.now(UTC):%H:%M} UTC)")
        asyncio.run(bench(url, activity_id, args.actions))


if __name__ == "__main__":
    main()
