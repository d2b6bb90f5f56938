"""A realistic lottery campaign and a monthly sign-in, written straight to SQLite, for
`make bench-rebuild` (issue 17).

    python -m loadtests.gen_campaign --members 1000000 --draws 5000000 [--db PATH] [--force]

A live wheel in Asia/Shanghai, open for 30 days ending today plus 30 more, limits of 3 draws a
member a day and 100 in total, four prizes (a phone of 1,000 units, a coupon with a daily stock
and a cap of 3 per member, 50,000 gift cards, the consolation prize). `--draws` draws spread over
the last 30 days (today's before the current time), at most one a member a day, members in a
stride so that each draws about draws/members times; every 20th member was credited 2 draw
chances on the first day and drew with one; every 100th was granted a coupon by another
activity; the first 1,000 members drew 3 times today (their daily limit). The activity is marked
as loaded before (activity_epochs), so that a rebuild is a loss, as after a Redis failure. The
draw fingerprints are those of a draw without a body: a replay of today's draws is recognised.

The indexes and triggers of `draws` are dropped during the load and created again after it;
`lottery_counts` is filled with one GROUP BY. The file is cached by size and day
(var/bench-rebuild/campaign-m<members>-d<draws>-<day>-<schema>.db) and reused unless --force."""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from activities.migrate import MIGRATIONS, upgrade
from checkin.model import CheckinRules, config_of
from lottery.service import DrawBody, fingerprint

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench-rebuild"
TZ = ZoneInfo("Asia/Shanghai")
DAYS = 30
PER_USER_DAILY = 3
HEAVY = 1_000  # members m0..m999 drew their 3 draws today
# (name, type, weight, stock, daily_stock, per_user_cap, value_cny)
PRIZES = (
    ("Phone", "goods", 1, 1_000, None, None, "5999"),
    ("10 CNY coupon", "coupon", 300, 3_000_000, 100_000, 3, "10"),
    ("Gift card", "coupon", 20, 50_000, None, None, "50"),
    ("Thanks", "thanks", 679, None, None, None, "0"),
)
_DRAW_COLUMNS = (
    "draw_id, kind, activity_id, user_id, prize_id, picked_prize_id, rand, day, drawn_at_ms, "
    "idempotency_key, fingerprint, left_today, left_total, stream_id, channel"
)


@dataclass(frozen=True)
class Campaign:
    path: Path
    activity_id: int
    members: int
    draws: int
    chance_rows: int
    seconds: float  # to generate (0: cached)
    signin_id: int = 0  # the monthly sign-in activity
    marks: int = 0  # its sign-ins of the current month

    @property
    def megabytes(self) -> float:
        return self.path.stat().st_size / 1e6


def cache_path(members: int, draws: int) -> Path:
    return cached_file(f"campaign-m{members}-d{draws}")


def cached_file(stem: str) -> Path:
    """A generated database's file in the cache, by `stem` (its size), day and schema (a digest
    of the migrations: a cached file of an older schema is not reused)."""
    today = datetime.now(TZ).date().isoformat()
    schema = hashlib.sha256()
    for migration in sorted(MIGRATIONS.glob("versions/*.py")):
        schema.update(migration.read_bytes())
    return CACHE / f"{stem}-{today}-{schema.hexdigest()[:8]}.db"


def fresh_database(path: Path) -> sqlite3.Connection:
    """An empty database of the current schema at `path` (whatever was there removed), opened
    for bulk writes: no journal, no syncs, a large page cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    upgrade(f"sqlite+aiosqlite:///{path}")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-500000;")
    return conn


def generate(members: int, draws: int, path: Path | None = None, *, force: bool = False, seed: int = 17) -> Campaign:
    """The campaign's database at `path` (or the cache's), generated unless already there."""
    path = path or cache_path(members, draws)
    if path.exists() and not force:
        return _describe(path, members, 0.0)
    started = time.monotonic()
    conn = fresh_database(path)
    activity_id, prize_ids, now_ms = _activity(conn)
    saved = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'draws' AND sql IS NOT NULL "
        "AND type IN ('index', 'trigger')"
    ).fetchall()
    checkin_saved = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'checkins' AND sql IS NOT NULL "
        "AND type IN ('index', 'trigger')"
    ).fetchall()
    for kind, name, _ in saved + checkin_saved:
        conn.execute(f"DROP {kind.upper()} {name}")
    conn.execute("BEGIN")
    batch: list[tuple[Any, ...]] = []
    insert = f"INSERT INTO draws ({_DRAW_COLUMNS}) VALUES ({', '.join('?' * 15)})"
    for row in _draws(activity_id, prize_ids, members, draws, now_ms, random.Random(seed)):
        batch.append(row)
        if len(batch) >= 100_000:
            conn.executemany(insert, batch)
            batch = []
    conn.executemany(insert, batch)
    conn.executemany(
        "INSERT INTO chance_ledger (ref, activity_id, user_id, delta, reason, at_ms, stream_id) VALUES (?,?,?,?,?,?,?)",
        _chance_rows(activity_id, members, now_ms),
    )
    signin_id = _signin_activity(conn, now_ms)
    conn.executemany(
        "INSERT INTO checkins (mark_id, activity_id, user_id, day, kind, cycle_start, streak, cumulative, rewards, "
        "at_ms, stream_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        _marks(signin_id, members, now_ms),
    )
    conn.execute("COMMIT")
    for _, _, sql in saved:
        conn.execute(sql)
    for _, _, sql in checkin_saved:
        conn.execute(sql)
    conn.execute(
        "INSERT INTO checkin_counts (activity_id, day, kind, marks, last_ms) "
        "SELECT activity_id, day, kind, COUNT(*), MAX(at_ms) FROM checkins GROUP BY activity_id, day, kind"
    )
    conn.execute(
        "INSERT INTO lottery_counts (activity_id, day, prize_id, draws, units, last_ms) "
        "SELECT activity_id, day, prize_id, SUM(kind <> 'grant'), COUNT(*), MAX(drawn_at_ms) FROM draws "
        "GROUP BY activity_id, day, prize_id"
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return _describe(path, members, time.monotonic() - started)


def _describe(path: Path, members: int, seconds: float) -> Campaign:
    conn = sqlite3.connect(path)
    try:
        activity_id, draws = conn.execute(
            "SELECT activity_id, SUM(units) FROM lottery_counts GROUP BY activity_id ORDER BY activity_id DESC"
        ).fetchone()
        chance_rows = conn.execute("SELECT COUNT(*) FROM chance_ledger").fetchone()[0]
        signin_id, marks = conn.execute(
            "SELECT activity_id, SUM(marks) FROM checkin_counts GROUP BY activity_id ORDER BY activity_id DESC"
        ).fetchone() or (0, 0)
    finally:
        conn.close()
    return Campaign(
        path, int(activity_id), members, int(draws), int(chance_rows), seconds, int(signin_id), int(marks or 0)
    )


def _activity(conn: sqlite3.Connection) -> tuple[int, list[int], int]:
    now = datetime.now(TZ)
    now_ms = int(now.timestamp() * 1000)
    start = datetime.combine(now.date() - timedelta(days=DAYS - 1), datetime.min.time(), TZ)
    limits = json.dumps({"per_user_daily": PER_USER_DAILY, "per_user_total": 100})
    cursor = conn.execute(
        "INSERT INTO activities (type, name, status, starts_at_ms, ends_at_ms, timezone, audience, limits, "
        "points_cost, created_at_ms, updated_at_ms) VALUES ('wheel', 'Generated campaign', 'live', ?, ?, "
        "'Asia/Shanghai', '{}', ?, 0, ?, ?)",
        (int(start.timestamp() * 1000), int((start + timedelta(days=2 * DAYS)).timestamp() * 1000), limits, 0, now_ms),
    )
    activity_id = int(cursor.lastrowid or 0)
    prize_ids = []
    for position, (name, type_, weight, stock, daily, cap, value) in enumerate(PRIZES):
        cursor = conn.execute(
            "INSERT INTO prizes (activity_id, position, name, type, weight, stock, daily_stock, per_user_cap, "
            "value_cny) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (activity_id, position, name, type_, weight, stock, daily, cap, value),
        )
        prize_ids.append(int(cursor.lastrowid or 0))
    conn.execute(
        "INSERT INTO activity_epochs (activity_id, epoch, loaded_at_ms, loads) VALUES (?, 'generated', ?, 1)",
        (activity_id, now_ms),
    )
    return activity_id, prize_ids, now_ms


def _draws(
    activity_id: int, prize_ids: list[int], members: int, draws: int, now_ms: int, rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    """Rows of `draws`, day by day: at most one draw a member a day (the HEAVY members' three of
    today aside), the prize picked with the table's odds and its availability rules."""
    weights = [p[2] for p in PRIZES]
    total_weight = sum(weights)
    left = [p[3] for p in PRIZES]
    caps = bytearray(members)  # coupon wins per member (its per-member cap)
    consolation = len(PRIZES) - 1
    stride = 104_729  # a prime: j -> (offset + j * stride) % members is one-to-one when members is not its multiple
    if members % stride == 0:
        stride = 1
    fp = fingerprint(activity_id, DrawBody())
    today = datetime.fromtimestamp(now_ms / 1000, TZ).date()
    midnight_ms = int(datetime.combine(today, datetime.min.time(), TZ).timestamp() * 1000)
    per_day = min(draws // DAYS, members)
    n = 0
    for d in range(DAYS):
        day = (today - timedelta(days=DAYS - 1 - d)).isoformat()
        day_start = midnight_ms - (DAYS - 1 - d) * 86_400_000
        span = now_ms - day_start if d == DAYS - 1 else 86_400_000
        count = draws - n if d == DAYS - 1 else per_day
        todays = [(m, 1) for m in range(HEAVY)] * 3 if d == DAYS - 1 else []
        others = ((d * 7_919 + j * stride) % members for j in range(max(count - len(todays), 0)))
        picks = todays + [(m, 0) for m in others if not todays or m >= HEAVY]
        daily_left = PRIZES[1][4] or 0
        offsets = sorted(rng.randrange(max(span - 1, 1)) for _ in picks)
        for (member, _), offset in zip(picks, offsets, strict=True):
            rand = rng.getrandbits(32)
            point = rand * total_weight >> 32
            picked = 0
            while point >= weights[picked]:
                point -= weights[picked]
                picked += 1
            won = picked
            stock = left[picked]
            if (stock is not None and stock <= 0) or (picked == 1 and (daily_left <= 0 or caps[member] >= 3)):
                won = consolation
            stock = left[won]
            if stock is not None:
                left[won] = stock - 1
            if won == 1:
                daily_left -= 1
                caps[member] += 1
            kind = "chance" if d == 0 and member % 20 == 0 else "draw"
            at_ms = day_start + offset
            yield (
                f"d{n:012d}", kind, activity_id, f"m{member}", prize_ids[won], prize_ids[picked], rand, day, at_ms,
                f"k{n}", fp, None, None, f"{at_ms}-0", "h5",
            )  # fmt: skip
            n += 1
    for member in range(1, members, 100):  # a coupon granted by another activity (a sign-in streak)
        at_ms = midnight_ms - 86_400_000 * (DAYS // 2)
        day = datetime.fromtimestamp(at_ms / 1000, TZ).date().isoformat()
        yield (
            f"g{member:012d}", "grant", activity_id, f"m{member}", prize_ids[2], prize_ids[2], 0, day, at_ms,
            f"gen:grant:{member}", "-", None, None, f"{at_ms}-1", None,
        )  # fmt: skip


def _signin_activity(conn: sqlite3.Connection, now_ms: int) -> int:
    """A monthly sign-in over the same window: a coupon at 28 days of the month (none reached
    here: no reward rows), two make-ups a month up to 3 days back."""
    rules = msgspec.convert(
        {
            "cycle": {"kind": "monthly"},
            "cumulative_rewards": [{"count": 28, "reward": {"type": "coupon", "coupon": "M28", "name": "28 days"}}],
            "makeup": {"per_cycle": 2, "max_days_back": 3},
        },
        CheckinRules,
    )
    start = datetime.fromtimestamp(now_ms / 1000, TZ) - timedelta(days=60)
    cursor = conn.execute(
        "INSERT INTO activities (type, name, status, starts_at_ms, ends_at_ms, timezone, audience, limits, "
        "points_cost, config, created_at_ms, updated_at_ms) VALUES ('checkin', 'Generated sign-in', 'live', ?, ?, "
        "'Asia/Shanghai', '{}', '{}', 0, ?, 0, ?)",
        (int(start.timestamp() * 1000), now_ms + 60 * 86_400_000, json.dumps(config_of(rules)), now_ms),
    )
    activity_id = int(cursor.lastrowid or 0)
    conn.execute(
        "INSERT INTO activity_epochs (activity_id, epoch, loaded_at_ms, loads) VALUES (?, 'generated', ?, 1)",
        (activity_id, now_ms),
    )
    return activity_id


def _marks(activity_id: int, members: int, now_ms: int) -> Iterator[tuple[Any, ...]]:
    """Sign-ins of the current month: member m on the days d (1-based) with (m + d) % 5 == 0,
    today's before now; the first HEAVY members signed in today too."""
    today = datetime.fromtimestamp(now_ms / 1000, TZ).date()
    first = today.replace(day=1)
    midnight_ms = int(datetime.combine(today, datetime.min.time(), TZ).timestamp() * 1000)
    cumulative = [0] * members
    n = 0
    for d in range(today.day):
        day = (first + timedelta(days=d)).isoformat()
        day_ms = midnight_ms - (today.day - 1 - d) * 86_400_000
        span = now_ms - day_ms if d == today.day - 1 else 86_400_000
        pattern = range((5 - (d + 1) % 5) % 5, members, 5)
        signed = [*range(HEAVY), *(m for m in pattern if m >= HEAVY)] if d == today.day - 1 else pattern
        for member in signed:
            cumulative[member] += 1
            at_ms = day_ms + (member * 7_919 + n) % max(span - 1, 1)
            yield (
                f"m{n:012d}", activity_id, f"m{member}", day, "signin", first.isoformat(), 1, cumulative[member], "",
                at_ms, f"{at_ms}-2",
            )  # fmt: skip
            n += 1


def _chance_rows(activity_id: int, members: int, now_ms: int) -> Iterator[tuple[Any, ...]]:
    first_day_ms = now_ms - DAYS * 86_400_000
    for member in range(0, members, 20):
        yield (f"gen:credit:{member}", activity_id, f"m{member}", 2, "signin_reward", first_day_ms, "0-1")
        yield (f"gen:use:{member}", activity_id, f"m{member}", -1, "draw", first_day_ms + 1, "0-2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--draws", type=int, default=5_000_000)
    parser.add_argument("--db", type=Path, default=None, help="where to write it (default: the cache in var/)")
    parser.add_argument("--force", action="store_true", help="generate again even if cached")
    args = parser.parse_args()
    campaign = generate(args.members, args.draws, args.db, force=args.force)
    how = f"generated in {campaign.seconds:.1f} s" if campaign.seconds else "cached"
    print(
        f"campaign: activity {campaign.activity_id}, {campaign.members:,} members, "
        f"{campaign.draws:,} draws and grants, "
        f"{campaign.chance_rows:,} chance rows; sign-in {campaign.signin_id}: {campaign.marks:,} sign-ins this month; "
        f"{campaign.megabytes:,.0f} MB at {campaign.path} ({how})"
    )


if __name__ == "__main__":
    main()
