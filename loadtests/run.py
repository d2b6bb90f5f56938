"""`make loadtest`: the QA kit (loadtests/locustfile.py), headless.

    python -m loadtests.run [--scenario mixed|draws|morning_peak|viral_spread|flash_crowd]
                            [--users N] [--spawn-rate N] [--duration 30s]
                            [--host URL] [--workers N]

Without --host it starts `promo serve` on the embedded default in a temporary folder and reads
its JWT secret; with --host it drives that platform (PROMO_JWT_SECRET or PROMO_JWT_SECRET_FILE
must hold the platform's secret). --workers N runs a Locust master and N local worker processes
(one per core is about right); QA on several machines starts the workers by hand (README).

Locust's CSV and HTML report go to loadtests/reports/<scenario>-<time>/; the summary and the
invariant results are printed; the exit code is Locust's: non-zero when a request failed or an
invariant broke.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from loadtests.harness import embedded_server

HERE = Path(__file__).parent
SCENARIOS = {  # the user classes of each scenario; "mixed" runs them all with their weights
    "mixed": [],
    "draws": ["DrawStorm"],
    "morning_peak": ["EarlyRiser"],
    "viral_spread": ["Friend"],
    "flash_crowd": ["Fan"],
}
USERS = {"flash_crowd": 500}  # a crowd; 64 elsewhere


@contextlib.contextmanager
def target(host: str | None, port: int) -> Iterator[tuple[str, dict[str, str]]]:
    """(host, environment for Locust): the given platform, or a fresh embedded server."""
    if host:
        yield host, dict(os.environ)
        return
    with embedded_server(port=port) as server:
        yield server.base_url, {**os.environ, "PROMO_JWT_SECRET_FILE": str(server.var_dir / "jwt-secret")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="mixed")
    parser.add_argument("--users", type=int, help="64 (flash_crowd: 500)")
    parser.add_argument("--spawn-rate", type=float, help="default: all users within a second")
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--host", help="a deployed platform (default: a fresh embedded server)")
    parser.add_argument("--workers", type=int, default=0, help="local Locust worker processes (0: one process)")
    parser.add_argument("--port", type=int, default=8790, help="the embedded server's port")
    args = parser.parse_args(argv)
    users = args.users or USERS.get(args.scenario, 64)

    reports = HERE / "reports" / f"{args.scenario}-{time.strftime('%Y%m%d-%H%M%S')}"
    reports.mkdir(parents=True, exist_ok=True)
    with target(args.host, args.port) as (host, env):
        locust = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py")]
        command = [
            *locust,
            "--headless",
            "--users", str(users),
            "--spawn-rate", str(args.spawn_rate or users),
            "--run-time", args.duration,
            "--host", host,
            "--csv", str(reports / args.scenario),
            "--html", str(reports / f"{args.scenario}.html"),
            "--only-summary",
            "--stop-timeout", "5",
        ]  # fmt: skip
        if args.workers:
            command += ["--master", "--expect-workers", str(args.workers)]
        command += SCENARIOS[args.scenario]
        print(f"locust {args.scenario}: {users} users for {args.duration} against {host}", flush=True)
        workers = [
            subprocess.Popen([*locust, "--worker", *SCENARIOS[args.scenario]], env=env) for _ in range(args.workers)
        ]
        code = subprocess.run(command, env=env, check=False).returncode
        for worker in workers:
            worker.wait(timeout=60)
    print(f"\nreports: {reports}/ (CSV and HTML); locust exit code {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
