"""Redis CPU of one sign-in's scripts alone: `checkin/mark.lua` (a member's first sign-in of the
day) and `activities/points.lua` (its daily points), each sent in pipelines of 100 to a bare
redis-server (no AOF, no audit writer), `INFO cpu` of the main thread before and after, beside
the reference of `make bench`: one trivial 2-key EVALSHA (a DECR and an HINCRBY). The stream is
trimmed after each pipeline, as the writer would.

    python -m loadtests.script_cpu [--calls 30000] [--runs 2] [--root PATH]

`--root` reads the scripts from another checkout (e.g. `git archive <commit> | tar -x -C DIR`)
to compare before and after on the same machine; the state carries the rules both as `terms`
and as JSON `rules`, so scripts from before `terms` run too.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from activities.redis_server import redis_server_binary
from activities.scripts import WINDOW
from loadtests.bench_redis import TRIVIAL

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100
# The bench's sign-in (loadtests/harness.py checkin_spec): daily reward 0, streaks 3 and 7, 5 signed.
RULES = {"d": 0, "s": [[3, 1], [7, 2]], "c": [[5, 3]], "m": 1}
TERMS = "0 1 3:1,7:2 5:3"
NOW_MS = 1_764_150_000_000
DAY_MS = 86_400_000


def _cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user_main_thread"]) + float(info["used_cpu_sys_main_thread"])


def _per_call(client: redis.Redis, calls: int, send: Any, stream: str | None) -> float:
    before = _cpu(client)
    for start in range(0, calls, BATCH):
        pipe = client.pipeline(transaction=False)
        for n in range(start, start + BATCH):
            send(pipe, n)
        replies = pipe.execute()
        if stream is not None:
            client.xtrim(stream, maxlen=0)
    if stream is not None and replies[0][0] not in (b"ok", "ok"):
        raise RuntimeError(f"unexpected reply {replies[0]!r}")
    return (_cpu(client) - before) * 1e6 / calls


def measure(client: redis.Redis, root: Path, calls: int) -> dict[str, float]:
    trivial = client.script_load(TRIVIAL)
    mark = client.script_load(WINDOW + " " + (root / "checkin" / "mark.lua").read_text())
    points = client.script_load((root / "activities" / "points.lua").read_text())
    client.flushall()
    state: dict[str | bytes, str | int] = {"status": "live", "starts_at_ms": 0, "ends_at_ms": 2**50, "lazy": "0"}
    state |= {"terms": TERMS, "rules": json.dumps(RULES)}
    for field, value in state.items():
        client.hset("{act:1}:state", field, value)
    client.set("{w:1}:loaded", 1)
    mark_keys = ["{act:1}:state", "{act:1}:cycle:2026-11-23", "{act:1}:day:2026-11-26", "{act:1}:events"]
    mark_keys.append("{act:1}:members")

    def send_trivial(pipe: Any, n: int) -> None:
        pipe.evalsha(trivial, 2, "{ref}:n", "{ref}:h", f"f{n % 16}")

    def send_mark(pipe: Any, n: int) -> None:
        args = [f"u{n}", f"m{n}", NOW_MS, "signin", 3, 3, 7, "2026-11-23", "2026-11-26", 5 * DAY_MS, DAY_MS, "", ""]
        pipe.evalsha(mark, len(mark_keys), *mark_keys, *args)

    def send_points(pipe: Any, n: int) -> None:
        entry = f"{{w:1}}:e:ck:m{n}:0"
        keys = ["{w:1}:balances", "{w:1}:loaded", entry, "{w:1}:events", entry]
        args = [f"u{n}", 5, f"ck:m{n}:0", "checkin_reward", NOW_MS, 1, 7 * 86400, "", "0123456789abcdef"]
        pipe.evalsha(points, len(keys), *keys, *args)

    return {
        "trivial": _per_call(client, calls, send_trivial, None),
        "mark": _per_call(client, calls, send_mark, "{act:1}:events"),
        "points": _per_call(client, calls, send_points, "{w:1}:events"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose scripts to measure")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="promo-script-cpu-") as folder:
        socket = Path(folder) / "redis.sock"
        command = [redis_server_binary(), "--port", "0", "--unixsocket", str(socket), "--save", ""]
        server = subprocess.Popen([*command, "--appendonly", "no", "--dir", folder], stdout=subprocess.DEVNULL)
        try:
            client = redis.Redis(unix_socket_path=str(socket))
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            print(f"scripts of {args.root}, {args.calls} calls each, pipelines of {BATCH}, bare redis-server")
            for _ in range(args.runs):
                found = measure(client, args.root, args.calls)
                trivial, mark, points = found["trivial"], found["mark"], found["points"]
                print(
                    f"  trivial EVALSHA {trivial:.2f} µs   mark.lua {mark:.2f} µs ({mark / trivial:.1f}x)"
                    f"   points.lua {points:.2f} µs ({points / trivial:.1f}x)",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
