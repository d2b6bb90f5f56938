"""`make loadtest`: the QA kit (loadtests/locustfile.py), headless.

    python -m loadtests.run [--scenario mixed|draws|morning_peak|viral_spread|flash_crowd]
                            [--users N] [--spawn-rate N] [--duration 30s]
                            [--host URL] [--workers N] [--port 8790]

Without --host it starts `promo serve` on the embedded default in a temporary folder and reads
its JWT secret; with --host it drives that platform (PROMO_JWT_SECRET or PROMO_JWT_SECRET_FILE
must hold the platform's secret). --workers N runs a Locust master and N local worker processes
(one per core is about right); QA on several machines starts the workers by hand (README).

The duration counts from the first user's first request: setting the activities up and
minting the members' tokens come before it. Locust's CSV and HTML report go to
loadtests/reports/<scenario>-<time>/, with the invariant results beside them (invariants.json,
invariants.txt), in the HTML report, and the embedded server's log (server.log). The last line
is the verdict (`PASS: 31/31 invariants, 0 failures` or `FAIL: ...`); the exit code is
non-zero when a request failed or an invariant broke. The embedded server takes --port, or a
free port if that one is taken, and its temporary folder is removed when the run ends (also on
Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loadtests.harness import embedded_server

HERE = Path(__file__).parent
SCENARIOS = {  # the user classes of each scenario; "mixed" runs them all with their weights
    "mixed": [],
    "draws": ["DrawStorm"],
    "morning_peak": ["EarlyRiser"],
    "viral_spread": ["Friend"],
    "flash_crowd": ["Fan"],
    "task_centre": ["BrandCrm", "TaskHunter"],
}
USERS = {"flash_crowd": 500}  # a crowd; 64 elsewhere


@contextlib.contextmanager
def target(host: str | None, port: int | None, reports: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(host, environment for Locust): the given platform, or a fresh embedded server."""
    if host:
        yield host, dict(os.environ)
        return
    with embedded_server(port=port, log_path=reports / "server.log") as server:
        yield server.base_url, {**os.environ, "PROMO_JWT_SECRET_FILE": str(server.var_dir / "jwt-secret")}


def seconds(duration: str) -> float:
    """Locust's time spans: 30, 30s, 2m, 1h30m, 1h2m3s."""
    text = duration.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not text or parts is None:
        raise argparse.ArgumentTypeError(f"not a duration: {duration!r} (e.g. 30s, 2m, 1h30m)")
    hours, minutes, secs = (int(p or 0) for p in parts.groups())
    return float(hours * 3600 + minutes * 60 + secs)


def verdict(reports: Path, code: int) -> str:
    """The run's one-line verdict, from the invariant results the kit wrote beside the report."""
    try:
        results = json.loads((reports / "invariants.json").read_text())
    except (OSError, ValueError):
        if code == 130:
            return "FAIL: interrupted before the invariants were checked"
        return f"FAIL: no invariant results (exit code {code}; see the output above)"
    line: str = results["verdict"]
    if code != 0 and line.startswith("PASS"):
        line = f"FAIL: locust exit code {code} ({line[6:]})"
    return line


def _terminate(signum: int, _: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds like Ctrl-C: the server stops, its folder goes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="mixed")
    parser.add_argument("--users", type=int, help="64 (flash_crowd: 500)")
    parser.add_argument("--spawn-rate", type=float, help="default: all users within a second")
    parser.add_argument("--duration", default="30s", type=seconds, help="of load, from the first request (30s, 2m...)")
    parser.add_argument("--host", help="a deployed platform (default: a fresh embedded server)")
    parser.add_argument("--workers", type=int, default=0, help="local Locust worker processes (0: one process)")
    parser.add_argument(
        "--port", type=int, default=8790, help="the embedded server's port (a free one if taken; 0: any free one)"
    )
    args = parser.parse_args(argv)
    users = args.users or USERS.get(args.scenario, 64)

    reports = HERE / "reports" / f"{args.scenario}-{time.strftime('%Y%m%d-%H%M%S')}"
    reports.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (`&`)
    code = 1
    try:
        code = _run(args, users, reports)
    except KeyboardInterrupt:
        print("\ninterrupted: the embedded server was stopped and its folder removed", flush=True)
        code = 130
    except RuntimeError as exc:  # the embedded server did not start: say why, no traceback
        print(f"\n{exc}", file=sys.stderr, flush=True)
        code = 2
    print(f"\nreports: {reports}/ (CSV, HTML, invariants.json, invariants.txt, server.log)")
    print(verdict(reports, code), flush=True)
    return code


def _run(args: argparse.Namespace, users: int, reports: Path) -> int:
    with target(args.host, args.port or None, reports) as (host, env):
        env = {**env, "PROMO_RUN_TIME": str(args.duration)}  # the kit starts the clock at the first request
        locust = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py")]
        command = [
            *locust,
            "--headless",
            "--users", str(users),
            "--spawn-rate", str(args.spawn_rate or users),
            "--host", host,
            "--csv", str(reports / args.scenario),
            "--html", str(reports / f"{args.scenario}.html"),
            "--only-summary",
            "--stop-timeout", "5",
        ]  # fmt: skip
        if args.workers:
            command += ["--master", "--expect-workers", str(args.workers)]
        command += SCENARIOS[args.scenario]
        print(
            f"locust {args.scenario}: {users} users for {args.duration:g} s from the first request against {host}",
            flush=True,
        )
        workers = [
            subprocess.Popen([*locust, "--worker", *SCENARIOS[args.scenario]], env=env) for _ in range(args.workers)
        ]
        code = subprocess.run(command, env=env, check=False).returncode
        for worker in workers:
            worker.wait(timeout=60)
    return code


if __name__ == "__main__":
    sys.exit(main())
