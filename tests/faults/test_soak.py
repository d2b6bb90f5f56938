"""`make soak` itself, in miniature: a 10-second soak against real processes passes and prints
what the README quotes (Redis memory per action, RSS, backlog). The long run is `make soak`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.slow
def test_a_short_soak_passes_and_reports_memory_per_action() -> None:
    env = {**os.environ, "PROMO_OPENS_IN": "3", "PROMO_MEMBERS": "2000", "PROMO_PLAYERS": "500"}
    run = subprocess.run(
        [sys.executable, "-m", "loadtests.soak", "--duration", "10s", "--users", "16"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "soak: PASS" in output, output[-4000:]
    for line in ("bytes per action", "API RSS:", "audit backlog: peak", "PASS  no 5xx answer"):
        assert line in output, output[-4000:]
