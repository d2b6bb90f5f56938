"""A friend assist campaign and a hot-item reservation campaign, written straight to SQLite, for
`make bench-rebuild` (issue 17), beside loadtests/gen_campaign.py's lottery and sign-in.

    python -m loadtests.gen_assist_reservation --members 1000000 [--db PATH] [--force]

Both live in Asia/Shanghai, open for 30 days ending today plus 30 more, each marked as loaded
before (activity_epochs: a rebuild is a loss, as after a Redis failure).

- Assist ("collect": 5 helps within 24 hours win a gift; caps of 3 helps a helper, 5 a device
  and 10,000 an address a day (the bench helps from one); stock = members): every second member
  started one initiative, spread over the 30 days; each got its 5 helps (completed) but every
  10th, which got 2 and expired after its 24 hours; today's are still open with 0 to 4 helps.
  Helpers are members in a stride (at most one help a helper a day), each with its own device
  and address.
- Reservation (delivery, 61 dates: the 30 days up to today and 30 after, plus a 31st one nobody
  reserved (100,000 units); 2 x members / 60 units a date; one a member a date, 2 in all): every member reserved
  one date (m x 7919 mod 60); past dates redeemed, every 10th cancelled, every 10th (+1) expired;
  today's and later ones reserved, every 20th cancelled; the first HEAVY members reserved a
  second (a later date, today, with the idempotency key "rk-<member>"): they are at their limit.

Indexes and triggers are dropped during the load and created again after it; the aggregates
(assist_counts, assist_open, reservation_counts) are filled with one GROUP BY each. The file is
cached by size, day and schema (var/bench-rebuild/ar-m<members>-<day>-<schema>.db)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from assist.model import AssistRules
from assist.model import config_of as assist_config
from loadtests.gen_campaign import DAYS, HEAVY, TZ, cached_file, fresh_database
from reservation.model import ReservationRules
from reservation.model import config_of as reservation_config
from reservation.service import CODE_ALPHABET, CODE_LENGTH

HELPS_NEEDED = 5
FUTURE = 30  # reservable dates after today
SPARE = DAYS + FUTURE  # the index of the date nobody reserved (the bench's cold members take it)
SPARE_QUANTITY = 100_000  # more than a fail-closed rebuild holds back (PROMO_RECOVERY_*: 20,000)
_TABLES = ("assist_initiatives", "assist_helps", "assist_outcomes", "reservations", "reservation_changes")


@dataclass(frozen=True)
class ArCampaign:
    path: Path
    members: int
    assist_id: int
    reservation_id: int
    initiatives: int
    helps: int
    reservations: int
    seconds: float  # to generate (0: cached)

    @property
    def megabytes(self) -> float:
        return self.path.stat().st_size / 1e6


def cache_path(members: int) -> Path:
    return cached_file(f"ar-m{members}")


def code_of(n: int) -> str:
    """The n-th reservation code: n in base 32 over the codes' alphabet, 12 digits."""
    digits = []
    for _ in range(CODE_LENGTH):
        n, digit = divmod(n, len(CODE_ALPHABET))
        digits.append(CODE_ALPHABET[digit])
    return "".join(reversed(digits))


def generate(members: int, path: Path | None = None, *, force: bool = False) -> ArCampaign:
    path = path or cache_path(members)
    if path.exists() and not force:
        return _describe(path, members, 0.0)
    started = time.monotonic()
    conn = fresh_database(path)
    now = datetime.now(TZ)
    now_ms = int(now.timestamp() * 1000)
    marks = ",".join("?" * len(_TABLES))
    saved = conn.execute(
        f"SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ({marks}) AND sql IS NOT NULL "
        "AND type IN ('index', 'trigger')",
        _TABLES,
    ).fetchall()
    for kind, name, _ in saved:
        conn.execute(f"DROP {kind.upper()} {name}")
    conn.execute("BEGIN")
    _assist(conn, members, now, now_ms)
    _reservation(conn, members, now, now_ms)
    conn.execute("COMMIT")
    for _, _, sql in saved:
        conn.execute(sql)
    _aggregates(conn)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return _describe(path, members, time.monotonic() - started)


def _describe(path: Path, members: int, seconds: float) -> ArCampaign:
    conn = sqlite3.connect(path)
    try:
        ids = dict(conn.execute("SELECT type, MAX(id) FROM activities GROUP BY type").fetchall())
        counts = dict(conn.execute("SELECT kind, SUM(n) FROM assist_counts GROUP BY kind").fetchall())
        made = conn.execute("SELECT SUM(n) FROM reservation_counts WHERE status = 'reserved'").fetchone()[0]
    finally:
        conn.close()
    return ArCampaign(
        path, members, int(ids["assist"]), int(ids["reservation"]), int(counts.get("initiatives", 0)),
        int(counts.get("helps", 0)), int(made or 0), seconds,
    )  # fmt: skip


def _activity(conn: sqlite3.Connection, type_: str, name: str, now: datetime, config: dict[str, Any]) -> int:
    now_ms = int(now.timestamp() * 1000)
    start = datetime.combine(now.date() - timedelta(days=DAYS - 1), datetime.min.time(), TZ)
    end = start + timedelta(days=DAYS + FUTURE + 2)
    cursor = conn.execute(
        "INSERT INTO activities (type, name, status, starts_at_ms, ends_at_ms, timezone, audience, limits, "
        "points_cost, config, created_at_ms, updated_at_ms) VALUES (?, ?, 'live', ?, ?, 'Asia/Shanghai', '{}', "
        "'{}', 0, ?, 0, ?)",
        (type_, name, int(start.timestamp() * 1000), int(end.timestamp() * 1000), json.dumps(config), now_ms),
    )
    activity_id = int(cursor.lastrowid or 0)
    conn.execute(
        "INSERT INTO activity_epochs (activity_id, epoch, loaded_at_ms, loads) VALUES (?, 'generated', ?, 1)",
        (activity_id, now_ms),
    )
    return activity_id


def _midnight_ms(day: date) -> int:
    return int(datetime.combine(day, datetime.min.time(), TZ).timestamp() * 1000)


def _assist(conn: sqlite3.Connection, members: int, now: datetime, now_ms: int) -> int:
    rules = msgspec.convert(
        {
            "kind": "collect",
            "helps_needed": HELPS_NEEDED,
            "hours": 24,
            "prize": {"name": "Gift box", "stock": min(max(members, 1), 10_000_000), "value_cny": "49"},
            "anti_abuse": {"helps_per_helper_daily": 3, "helps_per_device_daily": 5, "helps_per_ip_daily": 10_000},
        },
        AssistRules,
    )
    activity_id = _activity(conn, "assist", "Generated assist", now, assist_config(rules))
    initiatives, helps, outcomes = [], [], []
    starters = range(0, members, 2)
    per_day = max(len(starters) // DAYS, 1)
    stride = 104_729 if members % 104_729 else 1
    h = 0
    today = now.date()
    for n, member in enumerate(starters):
        d = min(n // per_day, DAYS - 1)
        day = today - timedelta(days=DAYS - 1 - d)
        span = now_ms - _midnight_ms(day) if d == DAYS - 1 else 86_400_000
        started = _midnight_ms(day) + (n * 7_919) % max(span - HELPS_NEEDED * 1000 - 1, 1)
        deadline = started + 24 * 3_600_000
        iid = f"i{n:010d}"
        initiatives.append(
            (iid, activity_id, f"m{member}", HELPS_NEEDED, started, deadline, f"{started}-0", "h5")
        )  # fmt: skip
        open_today = deadline > now_ms
        count = n % HELPS_NEEDED if open_today else (2 if n % 10 == 0 else HELPS_NEEDED)
        for k in range(count):
            helper = (h * stride + 1) % members
            if helper == member:
                helper = (helper + 1) % members
            at = started + (k + 1) * 1000
            helps.append(
                (f"h{h:012d}", activity_id, iid, f"m{helper}", "help", k + 1, f"dev{helper}",
                 f"10.{helper >> 16 & 255}.{helper >> 8 & 255}.{helper & 255}",
                 datetime.fromtimestamp(at / 1000, TZ).date().isoformat(), 0, at, f"{at}-1", "h5")
            )  # fmt: skip
            h += 1
        if not open_today:
            outcome, at = ("completed", started + count * 1000) if count == HELPS_NEEDED else ("expired", deadline)
            outcomes.append((iid, activity_id, outcome, at, f"{at}-2"))
    conn.executemany(
        "INSERT INTO assist_initiatives (initiative_id, activity_id, initiator, needed, started_at_ms, deadline_ms, "
        "stream_id, channel) VALUES (?,?,?,?,?,?,?,?)",
        initiatives,
    )
    conn.executemany(
        "INSERT INTO assist_helps (help_id, activity_id, initiative_id, helper, kind, number, device_id, ip, day, "
        "helper_reward, at_ms, stream_id, channel) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        helps,
    )
    conn.executemany(
        "INSERT INTO assist_outcomes (initiative_id, activity_id, outcome, at_ms, stream_id) VALUES (?,?,?,?,?)",
        outcomes,
    )
    return activity_id


def _reservation(conn: sqlite3.Connection, members: int, now: datetime, now_ms: int) -> int:
    today = now.date()
    dates = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS + FUTURE + 1)]
    quantity = max(2 * members // (DAYS + FUTURE), 10)
    rules = msgspec.convert(
        {
            "item": {"sku": "SNK-GEN", "name": "Generated sneakers", "price_cny": "1299.00"},
            "dates": [{"date": d.isoformat(), "quantity": quantity} for d in dates[:SPARE]]
            + [{"date": dates[SPARE].isoformat(), "quantity": SPARE_QUANTITY}],
            "method": "delivery",
            "purchase": "prepay",
            "per_user_per_date": 1,
            "per_user_total": 2,
        },
        ReservationRules,
    )
    activity_id = _activity(conn, "reservation", "Generated reservation", now, reservation_config(rules))
    conn.executemany(
        "INSERT INTO reservations (code, activity_id, user_id, date, store, pool, purchase, cancel_until_ms, "
        "idempotency_key, fingerprint, created_at_ms, stream_id, channel) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        _reservation_rows(activity_id, dates, members, now_ms),
    )
    conn.executemany(
        "INSERT INTO reservation_changes (code, activity_id, status, actor, at_ms, stream_id) VALUES (?,?,?,?,?,?)",
        _change_rows(activity_id, dates, members, now_ms),
    )
    return activity_id


def first_index(member: int) -> int:
    """The index of the date of a member's (first) reservation in the rules' dates."""
    return (member * 7_919) % (DAYS + FUTURE)


def second_index(member: int) -> int:
    """The date of a HEAVY member's second reservation (made today): a later date than today, not its first's."""
    index = first_index(member)
    return DAYS + (index + 1) % FUTURE if index >= DAYS else DAYS + member % FUTURE


def _reserved(members: int, dates: list[date]) -> Iterator[tuple[int, int, int]]:
    """(n, member, date index) of every reservation made."""
    for member in range(members):
        yield member, member, first_index(member)
    for member in range(min(HEAVY, members)):  # a second one, made today, for a later date
        yield members + member, member, second_index(member)


def _reservation_rows(activity_id: int, dates: list[date], members: int, now_ms: int) -> Iterator[tuple[Any, ...]]:
    midnight_today = _midnight_ms(dates[DAYS - 1])
    for n, member, index in _reserved(members, dates):
        day = dates[index]
        if n >= members:
            created, key = midnight_today + (member * 13) % max(now_ms - midnight_today - 1, 1), f"rk-m{member}"
        else:
            created, key = min(_midnight_ms(day), now_ms) - 3_600_000 * (1 + member % 48), f"gen-{n}"
        end = _midnight_ms(day + timedelta(days=1))
        fp = hashlib.sha256(f"{activity_id}:{day.isoformat()}:all".encode()).hexdigest()[:32]
        yield (
            code_of(n), activity_id, f"m{member}", day.isoformat(), "all", f"{day.isoformat()}|all", "prepay", end,
            key, fp, created, f"{created}-3", "h5",
        )  # fmt: skip


def _change_rows(activity_id: int, dates: list[date], members: int, now_ms: int) -> Iterator[tuple[Any, ...]]:
    for n, member, index in _reserved(members, dates):
        if n >= members:
            continue
        day = dates[index]
        if index < DAYS - 1:  # a past date
            status = "cancelled" if member % 10 == 0 else "expired" if member % 10 == 1 else "redeemed"
        elif member % 20 == 0:
            status = "cancelled"
        else:
            continue
        at = min(_midnight_ms(day) + 3_600_000, now_ms - 1)
        yield code_of(n), activity_id, status, "sweep" if status == "expired" else f"m{member}", at, f"{at}-4"


def _aggregates(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO reservation_counts (activity_id, date, store, status, pool, n, last_ms) "
        "SELECT activity_id, date, store, 'reserved', MAX(pool), COUNT(*), MAX(created_at_ms) FROM reservations "
        "GROUP BY activity_id, date, store"
    )
    conn.execute(
        "INSERT INTO reservation_counts (activity_id, date, store, status, pool, n, last_ms) "
        "SELECT r.activity_id, r.date, r.store, c.status, MAX(r.pool), COUNT(*), MAX(c.at_ms) "
        "FROM reservations r JOIN reservation_changes c ON c.code = r.code "
        "GROUP BY r.activity_id, r.date, r.store, c.status"
    )
    for kind, table, last, where in (
        ("initiatives", "assist_initiatives", "started_at_ms", ""),
        ("helps", "assist_helps", "at_ms", ""),
        ("helper_rewards", "assist_helps", "at_ms", " WHERE helper_reward"),
    ):
        conn.execute(
            f"INSERT INTO assist_counts (activity_id, kind, n, last_ms) SELECT activity_id, '{kind}', COUNT(*), "
            f"MAX({last}) FROM {table}{where} GROUP BY activity_id"
        )
    conn.execute(
        "INSERT INTO assist_counts (activity_id, kind, n, last_ms) "
        "SELECT activity_id, outcome, COUNT(*), MAX(at_ms) FROM assist_outcomes GROUP BY activity_id, outcome"
    )
    conn.execute(
        "INSERT INTO assist_open (initiative_id, activity_id, initiator, deadline_ms) "
        "SELECT i.initiative_id, i.activity_id, i.initiator, i.deadline_ms FROM assist_initiatives i "
        "WHERE NOT EXISTS (SELECT 1 FROM assist_outcomes o WHERE o.initiative_id = i.initiative_id)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="where to write it (default: the cache in var/)")
    parser.add_argument("--force", action="store_true", help="generate again even if cached")
    args = parser.parse_args()
    campaign = generate(args.members, args.db, force=args.force)
    how = f"generated in {campaign.seconds:.1f} s" if campaign.seconds else "cached"
    print(
        f"assist {campaign.assist_id}: {campaign.initiatives:,} initiatives, {campaign.helps:,} helps; "
        f"reservation {campaign.reservation_id}: {campaign.reservations:,} reservations; "
        f"{campaign.megabytes:,.0f} MB at {campaign.path} ({how})"
    )


if __name__ == "__main__":
    main()
