"""`make bench`: draw and sign-in throughput and latency against a trivial endpoint of the same server.

It starts the platform as `promo serve` does (uvicorn + uvloop + httptools, one worker, no debug,
no access log, embedded redis-server, SQLite, the audit writer in its child process), creates a live wheel
with stock that cannot run out, mints player tokens up front, and drives the server with wrk on
the same machine. Rounds of GET /health, POST /activities/{id}/draws and POST
/activities/{id}/signins alternate (the machine is shared and noisy), and the median per
endpoint is reported with the ratios to /health.

A member signs in once a day, so every sign-in round gets a new sign-in activity and members
taken in turn from a pool of tokens (a file wrk reads): each request is a new sign-in (the mark
script, then the wallet credit of its daily points), not a replay. The report says how many
were new.

A second server with PROMO_COALESCE=off (one Redis round trip per draw instead of one pipeline
per event-loop tick) runs beside the first, and its draw rounds alternate with the first's, so
the coalescing gain is measured side by side too.

    python -m loadtests.bench [--connections 64] [--duration 10] [--rounds 3] [--no-coalesce-compare]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loadtests import writer_bench
from loadtests.harness import (
    Server,
    checkin_spec,
    create_live_activity,
    embedded_server,
    request,
    reservation_spec,
    tomorrow,
    wheel_spec,
)

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,"socket_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""

_DRAW = """
local tokens = {%(tokens)s}
local counter = 0
local thread_no = 0
function setup(thread)
  thread_no = thread_no + 1
  thread:set("prefix", "t" .. thread_no .. "-" .. %(run)d)
end
request = function()
  counter = counter + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. tokens[(counter %% #tokens) + 1]
  headers["Idempotency-Key"] = prefix .. "-" .. counter
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/activities/%(activity)d/draws", headers, "{}")
end
"""


_MEMBERS = """
local tokens = {}
for line in io.lines("%(tokens)s") do tokens[#tokens + 1] = line end
local counter = 0
local thread_no = 0
function setup(thread)
  thread:set("first", thread_no)
  thread_no = thread_no + 1
end
request = function()
  -- Thread t of n takes members t, t + n, t + 2n...: every request a member not seen before.
  local member = first + counter * %(threads)d
  counter = counter + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. tokens[(member %% #tokens) + 1]
  headers["Idempotency-Key"] = "m" .. member
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "%(path)s", headers, '%(body)s')
end
"""


@dataclass
class AuditSample:
    """The audit writer during a draw round, from the operator counters sampled every `every_s`."""

    max_lag_s: float = 0.0
    max_backlog: int = 0
    acknowledged_per_s: float = 0.0  # draws the API made (Redis counter)
    written_per_s: float = 0.0  # draws the writer put in SQL over the same samples
    samples: int = 0


class AuditSampler(threading.Thread):
    """Samples an activity's counters while wrk runs: audit lag (age of the oldest event not in
    SQL), backlog, and the draws made and written."""

    def __init__(self, server: Server, activity_id: int, every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.url = f"{server.base_url}/operator/activities/{activity_id}/counters"
        self.token = server.operator_token()
        self.every_s = every_s
        self.halt = threading.Event()
        self.points: list[tuple[float, dict[str, Any]]] = []

    def run(self) -> None:
        while not self.halt.wait(self.every_s):
            with contextlib.suppress(Exception):
                self.points.append((time.monotonic(), request("GET", self.url, self.token)[1]))

    def result(self) -> AuditSample:
        self.halt.set()
        self.join()
        if len(self.points) < 2:
            return AuditSample()
        (t0, first), (t1, last) = self.points[0], self.points[-1]
        span = t1 - t0
        return AuditSample(
            max_lag_s=max(c.get("audit_lag_ms", 0) for _, c in self.points) / 1000,
            max_backlog=max(c["audit_backlog"] for _, c in self.points),
            acknowledged_per_s=(last["draws_total"] - first["draws_total"]) / span,
            written_per_s=(last["draws_in_sql"] - first["draws_in_sql"]) / span,
            samples=len(self.points),
        )


@dataclass
class Round:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    audit: AuditSample | None = None
    drain_s: float = 0.0  # time for the writer to catch up after the round


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is not installed; installing it with apt-get (Debian package 'wrk')", flush=True)
    for command in (["apt-get", "install", "-y", "wrk"], ["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit("wrk is needed for the benchmark and could not be installed: apt-get install wrk")


def run_wrk(url: str, script: Path, connections: int, threads: int, duration_s: int) -> Round:
    command = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--timeout", "5s"]
    output = subprocess.run([*command, "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    line = next((row for row in output.splitlines() if row.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    raw = json.loads(line.removeprefix("BENCH "))
    return Round(
        requests=raw["requests"],
        requests_per_s=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        non2xx=raw["non2xx"],
        socket_errors=raw["socket_errors"],
    )


def draw_script(folder: Path, server: Server, activity_id: int, players: int, run: int) -> Path:
    tokens = ",".join(f'"{server.player_token(f"bench{i}")}"' for i in range(players))
    path = folder / f"draw-{server.base_url.rsplit(':', 1)[1]}-{run}.lua"
    path.write_text(_DRAW % {"tokens": tokens, "activity": activity_id, "run": run} + _DONE)
    return path


@dataclass
class MemberRounds:
    """Rounds in which every request is a member new to the round, each round on a fresh activity
    (a member signs in once a day, reserves once a date): `spec` makes the activity, `path` and
    `body` the request, `made` reads (in Redis, in SQL) from the activity's counters."""

    label: str
    spec: Callable[[], dict[str, Any]]
    path: str  # with {id} for the activity
    body: str
    made: Callable[[dict[str, Any]], tuple[int, int]]
    rounds: list[Round] = field(default_factory=list)
    activities: list[int] = field(default_factory=list)

    def script(self, folder: Path, server: Server, tokens: Path, threads: int) -> tuple[Path, int]:
        activity = int(create_live_activity(server.base_url, server.operator_token(), self.spec())["id"])
        path = folder / f"members-{activity}.lua"
        request_path = self.path.format(id=activity)
        path.write_text(
            _MEMBERS % {"tokens": tokens, "path": request_path, "body": self.body, "threads": threads} + _DONE
        )
        return path, activity

    def run(self, folder: Path, server: Server, tokens: Path, wrk: tuple[int, int], duration: int) -> None:
        script, activity = self.script(folder, server, tokens, wrk[1])
        self.rounds.append(run_wrk(server.base_url, script, *wrk, duration))
        self.activities.append(activity)
        drained(server, activity)

    def report(self, server: Server, health: Round, draws: Round) -> tuple[list[str], dict[str, object], int]:
        operator = server.operator_token()
        made = [
            self.made(request("GET", f"{server.base_url}/operator/activities/{i}/counters", operator)[1])
            for i in self.activities
        ]
        result = median(self.rounds)
        key = self.label.split()[-1]
        lines = [
            show(self.label, result),
            f"  {key} / health throughput ratio: {result.requests_per_s / health.requests_per_s:.2f}   "
            f"{key} / draws: {result.requests_per_s / draws.requests_per_s:.2f}",
            f"  {key} rounds: {sum(m[0] for m in made)} made (each by a member new to its round) for "
            f"{sum(r.requests for r in self.rounds)} answers counted by wrk; SQL {sum(m[1] for m in made)}",
        ]
        summary = {key: asdict(result), f"{key}_ratio": result.requests_per_s / health.requests_per_s}
        return lines, summary, result.non2xx + result.socket_errors


def reservation_made(counters: dict[str, Any]) -> tuple[int, int]:
    return counters["reservations_total"], sum(d["reserved_in_sql"] for d in counters["by_date_and_store"])


def gameplay_rounds() -> list[MemberRounds]:
    return [
        MemberRounds(
            "POST signins",
            lambda: checkin_spec("Bench sign-in"),
            "/activities/{id}/signins",
            "{}",
            lambda c: (c["signins_total"], c["signins_in_sql"]),
        ),
        MemberRounds(
            "POST reservations",
            lambda: reservation_spec("Bench reservations", quantity=10_000_000),
            "/activities/{id}/reservations",
            json.dumps({"date": tomorrow()}),
            reservation_made,
        ),
    ]


def member_tokens(folder: Path, server: Server, count: int) -> Path:
    path = folder / "members.txt"
    path.write_text("\n".join(server.player_token(f"early{i}") for i in range(count)) + "\n")
    return path


def drained(server: Server, activity_id: int, timeout_s: float = 60) -> float:
    """Wait until the audit writer has written the activity's events (and the wallet credits
    written with them), so that one round's backlog does not slow the next round down. Returns
    the seconds it took."""
    operator, started = server.operator_token(), time.monotonic()
    while time.monotonic() < started + timeout_s:
        counters = request("GET", f"{server.base_url}/operator/activities/{activity_id}/counters", operator)[1]
        if counters["audit_backlog"] == 0:
            break
        time.sleep(0.1)
    return time.monotonic() - started


def sampled_draw_round(server: Server, script: Path, activity_id: int, wrk: tuple[int, int], duration: int) -> Round:
    """A draw round with the audit writer watched (AuditSampler), then waited for."""
    sampler = AuditSampler(server, activity_id)
    sampler.start()
    result = run_wrk(server.base_url, script, *wrk, duration)
    result.audit = sampler.result()
    result.drain_s = drained(server, activity_id)
    return result


def audit_lines(draws: list[Round], writer_alone: float | None) -> tuple[list[str], dict[str, object]]:
    """The audit writer in the heaviest draw round (the most draws per second)."""
    heaviest = max(draws, key=lambda r: r.requests_per_s)
    audit = heaviest.audit or AuditSample()
    lines = [
        f"  audit writer, heaviest draw round ({heaviest.requests_per_s:.0f} draws/s by wrk): max lag "
        f"{audit.max_lag_s:.2f} s (target <= 1 s), max backlog {audit.max_backlog} entries "
        f"({audit.samples} samples, every 0.5 s)",
        f"    written to SQL {audit.written_per_s:.0f}/s beside {audit.acknowledged_per_s:.0f}/s acknowledged by "
        f"the API; caught up {heaviest.drain_s:.1f} s after the round",
    ]
    summary: dict[str, object] = {"audit": asdict(audit), "audit_drain_s": heaviest.drain_s}
    if writer_alone:
        lines.append(
            f"    writer alone (loadtests.writer_bench): {writer_alone:.0f} entries/s = "
            f"{writer_alone / heaviest.requests_per_s:.1f}x the draw rate   (target >= 3x)"
        )
        summary["writer_alone_per_s"] = writer_alone
    return lines, summary


def setup_activity(server: Server) -> int:
    # Stock far above what any run can draw: the benchmark measures draws, not the fallback.
    activity = create_live_activity(server.base_url, server.operator_token(), wheel_spec(top_stock=50_000_000))
    return int(activity["id"])


def median(rounds: list[Round]) -> Round:
    return Round(
        requests=sum(r.requests for r in rounds),
        requests_per_s=statistics.median(r.requests_per_s for r in rounds),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
        non2xx=sum(r.non2xx for r in rounds),
        socket_errors=sum(r.socket_errors for r in rounds),
    )


def show(name: str, result: Round) -> str:
    return (
        f"  {name:<28} {result.requests_per_s:>9.0f} req/s   p50 {result.p50_ms:6.2f} ms   "
        f"p99 {result.p99_ms:6.2f} ms   non-2xx {result.non2xx}   socket errors {result.socket_errors}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--duration", type=int, default=10, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--players", type=int, default=1000, help="distinct player tokens for draws")
    parser.add_argument(
        "--members", type=int, default=100_000, help="member tokens for sign-ins and reservations (one each per round)"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--no-coalesce-compare", action="store_true")
    parser.add_argument("--draws-only", action="store_true", help="draws and /health only (no sign-ins, reservations)")
    parser.add_argument("--no-writer-bench", action="store_true", help="skip timing the audit writer alone")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="promo-bench-"))
    health_lua = folder / "health.lua"
    health_lua.write_text(_DONE)
    compare = not args.no_coalesce_compare
    health: list[Round] = []
    draws: list[Round] = []
    draws_single: list[Round] = []
    members_rounds = [] if args.draws_only else gameplay_rounds()

    with contextlib.ExitStack() as stack:
        server = stack.enter_context(embedded_server(port=8765, workers=args.workers))
        activity_id = setup_activity(server)
        single = (
            stack.enter_context(embedded_server(port=8766, workers=args.workers, env={"PROMO_COALESCE": "off"}))
            if compare
            else None
        )
        single_activity = setup_activity(single) if single else 0
        if members_rounds:
            print(f"minting {args.members} member tokens for the sign-in and reservation rounds...", flush=True)
            members = member_tokens(folder, server, args.members)
        wrk = (args.connections, args.threads)
        print(f"warming up (wrk, {args.connections} connections, {args.threads} threads)...", flush=True)
        run_wrk(f"{server.base_url}/health", health_lua, *wrk, 2)
        run_wrk(server.base_url, draw_script(folder, server, activity_id, args.players, 0), *wrk, 2)
        for rounds in members_rounds:
            run_wrk(server.base_url, rounds.script(folder, server, members, args.threads)[0], *wrk, 2)
        for run in range(1, args.rounds + 1):
            health.append(run_wrk(f"{server.base_url}/health", health_lua, *wrk, args.duration))
            script = draw_script(folder, server, activity_id, args.players, run)
            draws.append(sampled_draw_round(server, script, activity_id, wrk, args.duration))
            if single:
                script = draw_script(folder, single, single_activity, args.players, run)
                draws_single.append(run_wrk(single.base_url, script, *wrk, args.duration))
                drained(single, single_activity)
            for rounds in members_rounds:
                rounds.run(folder, server, members, wrk, args.duration)
            print(f"round {run}/{args.rounds} done", flush=True)
        operator = server.operator_token()
        counters = request("GET", f"{server.base_url}/operator/activities/{activity_id}/counters", operator)[1]
        h, d = median(health), median(draws)
        reports = [rounds.report(server, h, d) for rounds in members_rounds]
    writer_alone = None if args.no_writer_bench else writer_bench.measure(draws=30_000, members=3_000)

    ratio = d.requests_per_s / h.requests_per_s
    lines = [
        "",
        f"promo benchmark: {args.rounds} rounds x {args.duration} s, wrk -t{args.threads} -c{args.connections}, "
        f"{args.workers} uvicorn worker(s) (uvloop, httptools), embedded Redis, SQLite, writer apart, medians:",
        show("GET /health", h),
        show("POST draws (coalesced)", d),
        f"  draw / health throughput ratio: {ratio:.2f}   (target >= 0.60)",
        f"  draw p99 at {args.connections} connections: {d.p99_ms:.1f} ms   (target <= 25 ms)",
    ]
    result: dict[str, object] = {"health": asdict(h), "draw": asdict(d), "ratio": ratio, "args": vars(args)}
    more, summary = audit_lines(draws, writer_alone)
    lines += more
    result |= summary
    failed = d.non2xx + d.socket_errors + h.non2xx
    for report_lines, summary, failures in reports:
        lines += report_lines
        result |= summary
        failed += failures
    if draws_single:
        s = median(draws_single)
        gain = d.requests_per_s / s.requests_per_s
        lines += [show("POST draws (one trip each)", s), f"  coalescing gain: {gain:.2f}x draws/s"]
        result |= {"draw_single_round_trip": asdict(s), "coalescing_gain": gain}
    lines += [
        f"  after the run: {counters['draws_total']} draws in Redis, {counters['draws_in_sql']} in SQL, "
        f"audit backlog {counters['audit_backlog']}",
        "reproduce: make bench   (or: .venv/bin/python -m loadtests.bench " + " ".join(sys.argv[1:]) + ")",
    ]
    print("\n".join(lines))
    out = Path("var/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2))
    if failed:
        print(f"FAILED: {failed} requests did not succeed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
