"""The run's clock and its results: the load runs PROMO_RUN_TIME seconds from the first user's
first request (setting the activities up and minting tokens are not counted), and the invariant
results are written beside Locust's report (invariants.json, invariants.txt) and into its HTML,
with a one-line verdict: `PASS: 31/31 invariants, 0 failures` or `FAIL: ...`."""

from __future__ import annotations

import html
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing Locust patches the process (gevent): not for run.py or the tests
    from locust.env import Environment

Check = tuple[str, bool, str]  # (invariant, passed, detail), as in loadtests/kit.py

FIRST_REQUEST_WITHIN_S = 120.0  # after the set-up; else the run stops (it would never end)
clock: dict[str, float] = {}  # "setup_started", "first_request", "stopped": time.time() of each


def start_clock_at_first_request(environment: Environment) -> None:
    """With PROMO_RUN_TIME set, quit that many seconds after the first request is counted (in
    the master: the first worker report with one)."""
    import gevent

    run_time = os.environ.get("PROMO_RUN_TIME")
    if not run_time:
        return

    def watch() -> None:
        deadline = time.monotonic() + FIRST_REQUEST_WITHIN_S
        while environment.stats.total.num_requests == 0:
            if time.monotonic() > deadline:
                print(f"no request within {FIRST_REQUEST_WITHIN_S:g} s of the set-up: stopping", flush=True)
                environment.process_exit_code = 1
                if environment.runner is not None:
                    environment.runner.quit()
                return
            gevent.sleep(0.05)
        clock["first_request"] = time.time()
        setup = clock["first_request"] - clock.get("setup_started", clock["first_request"])
        print(f"first request {setup:.1f} s after the start (set-up); load for {float(run_time):g} s", flush=True)
        gevent.sleep(float(run_time))
        clock["stopped"] = time.time()
        if environment.runner is not None:
            environment.runner.quit()  # what Locust's own --run-time does in a headless run

    gevent.spawn(watch)


def verdict_line(checks: list[Check], failures: int) -> str:
    broken = [name for name, passed, _ in checks if not passed]
    if not broken and failures == 0:
        return f"PASS: {len(checks)}/{len(checks)} invariants, {failures} failures"
    names = "; ".join(broken[:5]) + (" ..." if len(broken) > 5 else "")
    held = len(checks) - len(broken)
    line = f"FAIL: {held}/{len(checks)} invariants held, {failures} failures"
    return f"{line} (broken: {names})" if broken else line


def write_results(environment: Environment, checks: list[Check]) -> str:
    """Print the verdict, and write the results beside the HTML/CSV report, if there is one."""
    failures = environment.stats.total.num_failures
    verdict = verdict_line(checks, failures)
    print(f"\n{verdict}", flush=True)
    options: Any = environment.parsed_options
    html_file = getattr(options, "html_file", None) if options else None
    csv_prefix = getattr(options, "csv_prefix", None) if options else None
    target = Path(html_file).parent if html_file else Path(csv_prefix).parent if csv_prefix else None
    if target is None:
        return verdict
    load_s = clock["stopped"] - clock["first_request"] if {"stopped", "first_request"} <= set(clock) else None
    results = {
        "verdict": verdict,
        "passed": verdict.startswith("PASS"),
        "failures": failures,
        "requests": environment.stats.total.num_requests,
        "load_seconds": load_s,
        "invariants": [{"name": name, "passed": passed, "detail": detail} for name, passed, detail in checks],
    }
    target.mkdir(parents=True, exist_ok=True)
    (target / "invariants.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    text = [f"{'PASS' if passed else 'FAIL'}  {name}  ({detail})" for name, passed, detail in checks]
    (target / "invariants.txt").write_text("\n".join([*text, "", verdict]) + "\n")
    if html_file and Path(html_file).exists():
        _into_html(Path(html_file), checks, verdict)
    return verdict


def _into_html(path: Path, checks: list[Check], verdict: str) -> None:
    """Locust wrote its HTML report before the checks ran: add them at the top of it."""
    rows = "".join(
        f"<tr><td style='color:{'#15803d' if passed else '#b91c1c'};font-weight:600'>{'PASS' if passed else 'FAIL'}"
        f"</td><td>{html.escape(name)}</td><td>{html.escape(detail)}</td></tr>"
        for name, passed, detail in checks
    )
    colour = "#15803d" if verdict.startswith("PASS") else "#b91c1c"
    section = (
        "<section id='promo-invariants' "
        "style='font-family:sans-serif;max-width:1200px;margin:24px auto;padding:0 24px'>"
        f"<h2 style='color:{colour}'>{html.escape(verdict)}</h2>"
        "<table style='border-collapse:collapse' cellpadding='4'>"
        f"<tr><th align='left'></th><th align='left'>invariant</th><th align='left'>detail</th></tr>{rows}</table>"
        "</section>"
    )
    page = path.read_text(encoding="utf-8")
    at = page.rfind('<div id="root">')
    if at < 0:
        at = page.rfind("</body>")
    page = page + section if at < 0 else page[:at] + section + page[at:]
    path.write_text(page, encoding="utf-8")
