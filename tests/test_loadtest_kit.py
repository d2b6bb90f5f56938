"""The QA kit end to end: a short mixed campaign-day run against a fresh embedded server passes
every invariant and exits 0 (the kit's own checks are what this asserts, not any speed).

Locust runs in a subprocess: importing it here would monkey-patch this test process (gevent)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
def test_a_short_mixed_run_passes_its_invariants() -> None:
    env = {**os.environ, "PROMO_OPENS_IN": "3", "PROMO_MEMBERS": "2000", "PROMO_PLAYERS": "500"}
    run = subprocess.run(
        [sys.executable, "-m", "loadtests.run", "--users", "24", "--duration", "10s", "--port", "8791"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "  FAIL  " not in output
    for name in (
        "draws: SQL = Redis",
        "draws: every acknowledged draw in SQL once",
        "sign-ins: every acknowledged mark in SQL once",
        "assist: every acknowledged help in SQL once",
        "reservations: never more than the quantity",
        "no 5xx answer",
    ):
        assert f"PASS  {name}" in output, output[-4000:]
