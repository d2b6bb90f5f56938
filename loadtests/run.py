"""`make loadtest`: a Locust scenario, headless, against a fresh embedded server.

    python -m loadtests.run [--scenario draws|morning_peak|viral_spread|flash_crowd] [--users N]
                            [--spawn-rate N] [--duration 30s]

It starts `promo serve` on the embedded default in a temporary folder, points Locust at it
with the server's JWT secret, writes Locust's CSV and HTML report to
loadtests/reports/<scenario>-<time>/, prints the summary and the invariant checks, and exits
with Locust's exit code (non-zero when a request failed or an invariant broke).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from loadtests.harness import embedded_server

HERE = Path(__file__).parent
SCENARIOS = {
    "draws": "locustfile.py",
    "morning_peak": "morning_peak.py",
    "viral_spread": "viral_spread.py",
    "flash_crowd": "flash_crowd.py",
}
USERS = {"flash_crowd": 500}  # a crowd; 64 users elsewhere


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="draws")
    parser.add_argument("--users", type=int, help="64 (flash_crowd: 500)")
    parser.add_argument("--spawn-rate", type=int, help="all users within a second")
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args(argv)
    args.users = args.users or USERS.get(args.scenario, 64)
    args.spawn_rate = args.spawn_rate or args.users

    reports = HERE / "reports" / f"{args.scenario}-{time.strftime('%Y%m%d-%H%M%S')}"
    reports.mkdir(parents=True, exist_ok=True)
    with embedded_server(port=args.port) as server:
        env = {**os.environ, "PROMO_JWT_SECRET_FILE": str(server.var_dir / "jwt-secret")}
        command = [
            sys.executable, "-m", "locust",
            "-f", str(HERE / SCENARIOS[args.scenario]),
            "--headless",
            "--users", str(args.users),
            "--spawn-rate", str(args.spawn_rate),
            "--run-time", args.duration,
            "--host", server.base_url,
            "--csv", str(reports / args.scenario),
            "--html", str(reports / f"{args.scenario}.html"),
            "--only-summary",
            "--stop-timeout", "5",
        ]  # fmt: skip
        print(f"locust {args.scenario}: {args.users} users for {args.duration} against {server.base_url}", flush=True)
        code = subprocess.run(command, env=env, check=False).returncode
    print(f"\nreports: {reports}/ (CSV and HTML); locust exit code {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
