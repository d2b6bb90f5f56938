"""`make loadtest` as a newcomer meets it: the load lasts --duration from the first request, the
run ends with a one-line verdict, the invariant results sit beside the report and in its HTML, a
taken port is replaced by a free one (said so), and no temporary folder is left behind.

Locust runs in a subprocess: importing it here would monkey-patch this test process (gevent)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.results import verdict_line
from loadtests.run import seconds

ROOT = Path(__file__).resolve().parents[2]


def test_durations_and_verdicts() -> None:
    assert [seconds(d) for d in ("30", "30s", "2m", "1h30m", "1m5s")] == [30, 30, 120, 5400, 65]
    ok = [("a", True, ""), ("b", True, "")]
    assert verdict_line(ok, 0) == "PASS: 2/2 invariants, 0 failures"
    assert verdict_line(ok, 3) == "FAIL: 2/2 invariants held, 3 failures"
    assert verdict_line([*ok, ("no 5xx answer", False, "1")], 0) == (
        "FAIL: 2/3 invariants held, 0 failures (broken: no 5xx answer)"
    )


@pytest.mark.slow
def test_a_run_on_a_taken_port_ends_with_a_verdict_and_leaves_no_folder(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(temporary),  # where the embedded server's folder goes (and must not stay)
        "PROMO_OPENS_IN": "3",
        "PROMO_MEMBERS": "500",
        "PROMO_PLAYERS": "200",
    }
    try:
        run = subprocess.run(
            [sys.executable, "-m", "loadtests.run", "--users", "8", "--duration", "4s", "--port", str(port)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        taken.close()
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert f"port {port} is taken" in output
    assert "Traceback" not in output
    last = run.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"PASS: (\d+)/\1 invariants, 0 failures", last), last
    assert not list(temporary.glob("promo-load-*"))

    reports = Path(re.findall(r"reports: (\S+)/ ", run.stdout)[-1])
    results = json.loads((reports / "invariants.json").read_text())
    assert results["verdict"] == last and results["passed"] is True
    assert all(item["passed"] for item in results["invariants"])
    assert 3.5 <= results["load_seconds"] <= 10  # from the first request, set-up not counted
    assert (reports / "invariants.txt").read_text().strip().endswith(last)
    assert "promo-invariants" in (reports / "mixed.html").read_text()
    assert (reports / "server.log").stat().st_size > 0
