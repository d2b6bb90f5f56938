"""The QA kit end to end: a short mixed campaign-day run against a fresh embedded server passes
every invariant and exits 0 (the kit's own checks are what this asserts, not any speed).

Locust runs in a subprocess: importing it here would monkey-patch this test process (gevent)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_short_mixed_run_passes_its_invariants() -> None:
    env = {**os.environ, "PROMO_OPENS_IN": "3", "PROMO_MEMBERS": "2000", "PROMO_PLAYERS": "500", "PROMO_SEED": "7"}
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


def test_the_kit_makes_the_same_random_choices_for_the_same_seed() -> None:
    """Every random choice of the kit comes from one generator seeded by PROMO_SEED (a flaky run
    can be run again exactly as it chose)."""
    script = "import random, loadtests.kit as k; print([k.rng.random() for _ in range(3)], random.random())"

    def choices(seed: str) -> str:
        run = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PROMO_SEED": seed},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        return run.stdout

    assert choices("7") == choices("7")
    assert choices("7") != choices("8")
