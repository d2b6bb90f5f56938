"""Redis CPU of reserve.lua alone (issue 17): 50,000 reservations of distinct members pipelined by
100 on a bare redis-server, `INFO cpu` deltas per call, beside a trivial 2-key EVALSHA.

    python -m loadtests.reserve_cpu [SCRIPT[:old] ...]

SCRIPT defaults to reservation/reserve.lua; ":old" passes the keys of the script before issue 17
(state, pools, user_dates, user_total, reservation, mine, deadlines, stats, idempotency, events,
members): `git show <commit>:reservation/reserve.lua > /tmp/before.lua`, then compare
`python -m loadtests.reserve_cpu /tmp/before.lua:old reservation/reserve.lua`. Timing is
printed, never asserted (the machine is shared)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import redis

from activities.redis_server import redis_server_binary
from activities.scripts import WINDOW
from loadtests.stack import free_port

ROOT = Path(__file__).resolve().parent.parent
A = "{act:1}:"


def _cpu(r: redis.Redis) -> float:
    info = r.info("cpu")
    return float(info["used_cpu_user_main_thread"]) + float(info["used_cpu_sys_main_thread"])


def trivial(r: redis.Redis, n: int = 100_000) -> float:
    sha = r.script_load("redis.call('DECR', KEYS[1]) return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)")
    before = _cpu(r)
    for _ in range(0, n, 100):
        pipe = r.pipeline(transaction=False)
        for j in range(100):
            pipe.evalsha(sha, 2, "{b}:n", "{b}:h", f"f{j % 16}")
        pipe.execute()
    return (_cpu(r) - before) * 1e6 / n


def reserve(r: redis.Redis, source: str, old: bool, n: int = 50_000) -> float:
    sha = r.script_load(WINDOW + "\n" + source)
    r.flushall()
    rules = '{"per_date":1,"total":2}'
    r.hset(A + "state", mapping={"status": "live", "starts_at_ms": 0, "ends_at_ms": 10**14, "rules": rules})
    r.hset(A + "state", mapping={"per_date": 1, "per_total": 2, "lazy": "0"})
    r.hset(A + "pool", mapping={f"2026-12-{d:02d}|all": 10**9 for d in range(1, 31)})
    before = _cpu(r)
    for start in range(0, n, 100):
        pipe = r.pipeline(transaction=False)
        for j in range(start, start + 100):
            user, code, day = f"u{j}", f"C{j:011d}", f"2026-12-{1 + j % 30:02d}"
            if old:
                keys = [
                    A + "state", A + "pool", A + "user_date", A + "user_total", A + f"rsv:{code}",
                    A + f"mine:{user}", A + "deadlines", A + "rstats", A + f"idem:{user}:k{j}", A + "events",
                    A + "members",
                ]  # fmt: skip
            else:
                keys = [
                    A + "state", A + "pool", A + f"member:{user}", A + f"rsv:{code}", A + "deadlines",
                    A + "rstats", A + "events",
                ]  # fmt: skip
            args: list[str | int] = [
                user, code, 1000, day, "all", f"{day}|all", 0, 10**13, 10**13, "prepay", "f" * 32, f"k{j}",
                86400, 86400 * 31, "h5", "",
            ]  # fmt: skip
            pipe.evalsha(sha, len(keys), *keys, *args)
        replies = pipe.execute()
        if replies[0][0] != "ok":
            raise RuntimeError(f"reserve.lua answered {replies[0]}")
        r.xtrim(A + "events", maxlen=0)
    return (_cpu(r) - before) * 1e6 / n


def main() -> None:
    scripts = sys.argv[1:] or ["reservation/reserve.lua"]
    port = free_port()
    server = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        r = redis.Redis(port=port, decode_responses=True)
        reference = trivial(r)
        print(f"trivial 2-key EVALSHA: {reference:.2f} µs of Redis CPU")
        for spec in scripts:
            path, _, layout = spec.partition(":")
            micros = reserve(r, (ROOT / path).read_text() if not Path(path).is_absolute() else Path(path).read_text(),
                             layout == "old")  # fmt: skip
            print(f"{spec}: {micros:.2f} µs per reservation ({micros / reference:.1f}x)", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
