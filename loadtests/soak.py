"""`make soak`: the QA kit's campaign-day mix for a long while against a fresh platform.

    python -m loadtests.soak [--duration 10m] [--users 64] [--rss-growth-mb 150] [--warmup 60]

The platform runs as real processes (loadtests/stack.py: the embedded redis-server with AOF, a
`promo serve` with the audit writer inline). Locust runs the mix (loadtests/locustfile.py, all
four scenarios) for the whole duration while this process samples, every 5 s, the API's
resident memory (VmRSS), Redis's used_memory and the audit backlog. The soak fails when:

- Locust fails: any 5xx, any unexpected answer, or a broken invariant of the kit (every
  acknowledged action in SQL once, nothing beyond stock, SQL = Redis...);
- the API's RSS grew by more than --rss-growth-mb between the end of the warm-up and the end
  (a leak; the warm-up fills caches: the token cache, the activity cache, SQLAlchemy's);
- the audit backlog of every stream has not returned to zero within 60 s of the end.

It prints Redis memory per action: (used_memory after the run - before) / actions, where an
action is a row of the audit trail a member's request made (a draw, a sign-in or make-up, an
initiative, a help, a reservation or a change of one). Reports go to loadtests/reports/soak-*/.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from activities.keys import AUDIT_GROUP
from loadtests.stack import JWT_SECRET, Stack, rss_kb

HERE = Path(__file__).parent
ACTION_TABLES = ("draws", "checkins", "assist_initiatives", "assist_helps", "reservations", "reservation_changes")


@dataclass
class Sample:
    at_s: float
    rss_mb: float
    redis_mb: float
    backlog: int


@dataclass
class Samples:
    rows: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def used_memory(client: redis.Redis) -> int:
    info = client.info("memory")
    return int(info["used_memory"])


def audit_backlog(client: redis.Redis, limit: int = 100_000) -> int:
    """Entries of every stream the audit group has not acknowledged (pending + not delivered)."""
    total = 0
    for stream in client.scan_iter(_type="stream", count=1000):
        try:
            groups = client.xinfo_groups(stream)
        except redis.ResponseError:
            continue
        group = next((g for g in groups if g["name"] == AUDIT_GROUP), None)
        if group is None:
            total += int(client.xlen(stream))
            continue
        undelivered = client.xrange(stream, f"({group['last-delivered-id']}", "+", count=limit) or []
        total += int(group["pending"]) + len(undelivered)
    return total


def sample(stack: Stack, samples: Samples, started: float, every_s: float = 5.0) -> None:
    client = stack.redis_client()
    while not samples.stop.is_set():
        pid = stack.api.pid if stack.api else 0
        try:
            samples.rows.append(
                Sample(
                    time.monotonic() - started,
                    rss_kb(pid) / 1024,
                    used_memory(client) / 2**20,
                    audit_backlog(client),
                )
            )
        except redis.RedisError as exc:
            print(f"sampling failed: {exc}", flush=True)
        samples.stop.wait(every_s)
    client.close()


def actions(db_path: Path) -> dict[str, int]:
    conn = sqlite3.connect(db_path)
    try:
        return {table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]) for table in ACTION_TABLES}
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", default=os.environ.get("SOAK_DURATION") or "10m")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--rss-growth-mb", type=float, default=150.0, help="the bound on the API's RSS growth")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before RSS growth counts (at most 1/3)")
    args = parser.parse_args(argv)
    duration_s = parse_duration(args.duration)
    warmup_s = min(args.warmup, duration_s / 3)

    reports = HERE / "reports" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}"
    reports.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    with Stack(writer="inline") as stack:
        stack.start_redis()
        stack.start_api()
        client = stack.redis_client()
        memory_before = used_memory(client)
        samples = Samples()
        started = time.monotonic()
        sampler = threading.Thread(target=sample, args=(stack, samples, started), daemon=True)
        sampler.start()
        env = {**os.environ, "PROMO_JWT_SECRET": JWT_SECRET}
        command = [
            sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"),
            "--headless", "--users", str(args.users), "--spawn-rate", str(args.users),
            "--run-time", f"{int(duration_s)}s", "--host", stack.base_url,
            "--csv", str(reports / "soak"), "--html", str(reports / "soak.html"),
            "--only-summary", "--stop-timeout", "5",
        ]  # fmt: skip
        print(f"soak: {args.users} users, campaign-day mix, {duration_s:.0f} s against {stack.base_url}", flush=True)
        code = subprocess.run(command, env=env, check=False, timeout=duration_s + 900).returncode
        if code != 0:
            failures.append(f"locust exited {code} (a 5xx, an unexpected answer or a broken invariant: see above)")

        deadline = time.monotonic() + 60
        while (backlog := audit_backlog(client)) and time.monotonic() < deadline:
            time.sleep(0.5)
        samples.stop.set()
        sampler.join(timeout=30)
        if backlog:
            failures.append(f"audit backlog {backlog} still unwritten 60 s after the end")
        memory_after = used_memory(client)
        done = actions(stack.db_path)
        client.close()
        rows = samples.rows
        rss_end = rss_kb(stack.api.pid) / 1024 if stack.api else 0.0

    total = sum(done.values())
    after_warmup = [s for s in rows if s.at_s >= warmup_s] or rows
    rss_base = after_warmup[0].rss_mb if after_warmup else 0.0
    rss_peak = max((s.rss_mb for s in rows), default=0.0)
    growth = max([rss_end, *(s.rss_mb for s in after_warmup)]) - rss_base
    if growth > args.rss_growth_mb:
        failures.append(f"API RSS grew {growth:.0f} MB after the warm-up (bound {args.rss_growth_mb:.0f} MB)")
    print("\nsoak results")
    print(f"  actions in SQL: {total} ({', '.join(f'{k} {v}' for k, v in done.items())})")
    print(f"  actions/s: {total / duration_s:.0f}")
    print(
        f"  API RSS: {rows[0].rss_mb if rows else 0:.0f} MB at start, {rss_base:.0f} MB after the {warmup_s:.0f} s "
        f"warm-up, peak {rss_peak:.0f} MB, end {rss_end:.0f} MB; growth after warm-up {growth:.0f} MB "
        f"(bound {args.rss_growth_mb:.0f})"
    )
    per_action = (memory_after - memory_before) / total if total else 0.0
    print(
        f"  Redis used_memory: {memory_before / 2**20:.1f} MB before, {memory_after / 2**20:.1f} MB after: "
        f"{per_action:.0f} bytes per action"
    )
    print(f"  audit backlog: peak {max((s.backlog for s in rows), default=0)}, at the end {backlog}")
    with open(reports / "samples.csv", "w") as out:
        out.write("at_s,rss_mb,redis_mb,backlog\n")
        out.writelines(f"{s.at_s:.1f},{s.rss_mb:.1f},{s.redis_mb:.1f},{s.backlog}\n" for s in rows)
    print(f"  samples: {reports / 'samples.csv'}")
    for failure in failures:
        print(f"FAIL  {failure}")
    print("soak: PASS" if not failures else "soak: FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
