"""Property: for random sequences of events (draws, sign-ins, points) written in random batches,
some entries delivered twice, the rollups equal a GROUP BY recount of the distinct events."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities import db
from activities.db import make_engine
from activities.repository import ActivityRepository
from analytics import db as adb
from analytics.rollup import Rollups
from lottery import db as ldb

TZ = ZoneInfo("Asia/Shanghai")
T0 = int(datetime(2026, 6, 1, 9, tzinfo=TZ).timestamp() * 1000)
PRIZES = {1: ("goods", 499900), 2: ("coupon", 1000), 3: ("thanks", 0)}

event = st.tuples(
    st.sampled_from(["draw", "checkin", "points"]),
    st.integers(0, 5),  # member
    st.integers(0, 3),  # day
    st.sampled_from(["h5", "app", "bogus", ""]),
    st.sampled_from(["", "kol"]),
    st.sampled_from(sorted(PRIZES)),
    st.integers(-50, 50).filter(bool),  # points delta
)


def _fields(i: int, e: tuple[Any, ...]) -> dict[str, str]:
    kind, member, day, channel, source, prize, delta = e
    at = str(T0 + day * 86_400_000 + i)
    user = f"u{member}"
    common = {"channel": channel, "source": source} if channel else {}
    if kind == "draw":
        return {"type": "draw", "kind": "draw", "user_id": user, "prize_id": str(prize), "drawn_at_ms": at, **common}
    if kind == "checkin":
        return {"type": "checkin", "kind": "signin", "user_id": user, "streak": "1", "at_ms": at, **common}
    return {"type": "points", "user_id": user, "delta": str(delta), "reason": "x", "activity_id": "1", "at_ms": at}


async def _run(events: list[tuple[Any, ...]], cuts: list[int], again: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'p.db'}")
        async with engine.begin() as conn:
            await conn.run_sync(db.metadata.create_all)
            await conn.execute(
                sa.insert(db.activities).values(
                    id=1,
                    type="wheel",
                    name="w",
                    status="live",
                    starts_at_ms=0,
                    ends_at_ms=T0 * 2,
                    timezone="Asia/Shanghai",
                    audience={},
                    limits={},
                    points_cost=0,
                    created_at_ms=0,
                    updated_at_ms=0,
                )
            )
            for pid, (ptype, cents) in PRIZES.items():
                await conn.execute(
                    sa.insert(ldb.prizes).values(
                        id=pid, activity_id=1, position=pid, name=str(pid), type=ptype, weight=1, value_cny=cents / 100
                    )
                )
        repository = ActivityRepository(engine)
        rollups = Rollups(repository, engine)
        entries = [(f"{i}-0", _fields(i, e)) for i, e in enumerate(events)]
        bounds = sorted({0, len(entries), *(c % (len(entries) + 1) for c in cuts)})
        batches = [entries[a:b] for a, b in itertools.pairwise(bounds)]
        batches.append([entries[j % len(entries)] for j in again])  # redelivered after a crash
        for batch in batches:
            rows: dict[sa.Table, list[dict[str, Any]]] = defaultdict(list)
            for entry_id, fields in batch:
                stream_activity = None if fields["type"] == "points" else 1
                for table, row in await rollups(stream_activity, entry_id, fields, []):
                    rows[table].append(row)
            await repository.insert_rows(rows)
        async with engine.connect() as conn:
            stored = (await conn.execute(sa.select(adb.daily))).all()
        await engine.dispose()

    expected: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    members: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    firsts: dict[tuple[str, str], str] = {}
    winners: set[tuple[str, str]] = set()
    for _, f in entries:
        at = int(f.get("drawn_at_ms") or f["at_ms"])
        day = datetime.fromtimestamp(at / 1000, TZ).date().isoformat()
        channel = f["channel"] if f.get("channel") in ("h5", "app") else "other"
        for key in ((day, channel, f.get("source", "")), (day, "*", "*")):
            c = expected[key]
            if f["type"] == "points":
                delta = int(f["delta"])
                c["points_spent" if delta < 0 else "points_granted"] += abs(delta)
                continue
            c["actions"] += 1
            members[key].add(f["user_id"])
            first_key = (key[1] + key[2], f["user_id"])
            if first_key not in firsts:
                firsts[first_key] = day
                c["first_timers"] += 1
            if f["type"] == "draw":
                ptype, cents = PRIZES[int(f["prize_id"])]
                c["draws"] += 1
                c["cost_cents"] += cents
                c["wins"] += ptype != "thanks"
                if ptype != "thanks" and first_key not in winners:
                    winners.add(first_key)
                    c["winners"] += 1
            else:
                c["signins"] += 1
    for key, names in members.items():
        expected[key]["participants"] = len(names)
    got = {
        (r.day, r.channel, r.source): Counter({k: v for k, v in r._mapping.items() if k in adb.DAILY_COUNTS and v})
        for r in stored
    }
    want = {key: Counter({k: v for k, v in c.items() if v}) for key, c in expected.items()}
    assert got == {k: v for k, v in want.items() if v}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(event, min_size=1, max_size=40),
    st.lists(st.integers(0, 60), max_size=4),
    st.lists(st.integers(0, 100), max_size=10),
)
def test_rollups_are_a_recount_of_the_distinct_events(
    events: list[tuple[Any, ...]], cuts: list[int], again: list[int]
) -> None:
    asyncio.run(_run(events, cuts, again))
