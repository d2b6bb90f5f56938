"""wrk for `make bench`: the binary, the Lua request scripts, one round's result, medians."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,"socket_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""

DRAW = """
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

# Every request a new action of a member: thread t of n takes members t, t + n, t + 2n... of the
# tokens file (and keeps only those lines); its j-th request is member j % mine's (j // mine)-th
# action of the round, sent to paths[(member + cycle) % #paths]: (member, path) pairs do not repeat
# while cycle < #paths (one sign-in activity after another, one initiative after another). The
# Idempotency-Key is the pair's. Past that, pairs come round again and are refused: the bench
# sizes paths and tokens to the run (bench_rounds).
MEMBERS = """
local paths = {%(paths)s}
local counter = 0
local thread_no = 0
local tokens = {}
local mine = 0
function setup(thread)
  thread:set("first", thread_no)
  thread_no = thread_no + 1
end
function init(args)
  local index = 0
  for line in io.lines("%(tokens)s") do
    if index %% %(threads)d == first then
      tokens[index] = line
      mine = mine + 1
    end
    index = index + 1
  end
end
request = function()
  local member = first + (counter %% mine) * %(threads)d
  local cycle = math.floor(counter / mine)
  counter = counter + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. tokens[member]
  headers["Idempotency-Key"] = "m" .. member .. "-" .. cycle
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", paths[((member + cycle) %% #paths) + 1], headers, '%(body)s')
end
"""


@dataclass
class Round:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    redis_cpu_s: float = 0.0  # the Redis main thread's CPU over the round (INFO cpu delta)
    audit: object | None = None  # bench_rounds.AuditSample for sampled draw rounds
    drain_s: float = 0.0  # time for the writer to catch up after the round

    @property
    def answered(self) -> int:
        """2xx answers (wrk counts every answer as a request)."""
        return max(0, self.requests - self.non2xx)

    @property
    def redis_us(self) -> float:
        return self.redis_cpu_s * 1e6 / self.answered if self.answered else 0.0


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


def members_script(folder: Path, name: str, tokens: Path, paths: list[str], body: str, threads: int) -> Path:
    path = folder / f"{name}.lua"
    quoted = ",".join(f'"{p}"' for p in paths)
    path.write_text(MEMBERS % {"paths": quoted, "tokens": tokens, "body": body, "threads": threads} + DONE)
    return path


def median(rounds: list[Round]) -> Round:
    """The median of each figure over the rounds; counts summed."""
    return Round(
        requests=sum(r.requests for r in rounds),
        requests_per_s=statistics.median(r.requests_per_s for r in rounds),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
        non2xx=sum(r.non2xx for r in rounds),
        socket_errors=sum(r.socket_errors for r in rounds),
        redis_cpu_s=sum(r.redis_cpu_s for r in rounds),
    )


def median_redis_us(rounds: list[Round]) -> float:
    values = [r.redis_us for r in rounds if r.answered]
    return statistics.median(values) if values else 0.0


def show(name: str, result: Round) -> str:
    return (
        f"  {name:<28} {result.requests_per_s:>9.0f} req/s   p50 {result.p50_ms:6.2f} ms   "
        f"p99 {result.p99_ms:6.2f} ms   non-2xx {result.non2xx}   socket errors {result.socket_errors}"
    )
