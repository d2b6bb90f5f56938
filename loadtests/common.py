"""What every Locust scenario here shares: tokens minted from the server's secret, one activity
set up by the master (or the local runner) and announced to the workers, waiting for the audit
writer, and the invariant report that makes Locust exit non-zero when one is broken."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from activities.auth import Tokens
from loadtests.harness import request

Check = tuple[str, bool, str]  # (invariant, passed, detail)


def tokens_from_env() -> Tokens:
    secret = os.environ.get("PROMO_JWT_SECRET")
    if not secret and os.environ.get("PROMO_JWT_SECRET_FILE"):
        secret = Path(os.environ["PROMO_JWT_SECRET_FILE"]).read_text().strip()
    if not secret:
        raise SystemExit("set PROMO_JWT_SECRET (or PROMO_JWT_SECRET_FILE) to the server's JWT secret")
    return Tokens(secret)


def operator_token() -> str:
    return tokens_from_env().issue("locust-ops", "operator", ttl_s=12 * 3600)


def player_tokens(prefix: str, count: int) -> list[str]:
    tokens = tokens_from_env()
    return [tokens.issue(f"{prefix}{i}", "player", level="gold", ttl_s=12 * 3600) for i in range(count)]


def wait_for_audit(host: str, activity_id: int, operator: str, timeout_s: float = 60) -> dict[str, Any]:
    """The activity's counters once the audit writer has caught up (or the timeout passed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, counters = request("GET", f"{host}/operator/activities/{activity_id}/counters", operator)
        if status != 200:
            raise RuntimeError(f"counters: {status} {counters}")
        if counters["audit_backlog"] == 0 or time.monotonic() > deadline:
            result: dict[str, Any] = counters
            return result
        time.sleep(0.5)


def no_failed_requests(environment: Environment) -> Check:
    failures = environment.stats.total.num_failures
    return ("no failed request (5xx, unexpected 4xx, bad replay)", failures == 0, f"{failures} failures")


def scenario(
    *,
    activity_env: str,
    create: Callable[[str, str], int],
    prepare: Callable[[int], None],
    check: Callable[[Environment, int], list[Check]],
) -> None:
    """Wire a scenario into Locust's events.

    At the start the master (or the local runner) takes the activity named by the environment
    variable `activity_env`, or creates one with `create(host, operator_token)`, calls
    `prepare(activity_id)` and sends the id to the workers, which prepare too. When Locust quits,
    `check` runs the invariants; a broken one sets the exit code to 1."""
    prepared: list[int] = []

    def prepare_once(activity_id: int) -> None:
        prepare(activity_id)
        prepared.append(activity_id)

    @events.init.add_listener
    def on_init(environment: Environment, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            environment.runner.register_message("activity", lambda msg, **_: prepare_once(int(msg.data["id"])))

    @events.test_start.add_listener
    def on_test_start(environment: Environment, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            return  # the master sends the activity id
        host = environment.host or ""
        activity_id = int(os.environ.get(activity_env) or create(host, operator_token()))
        print(f"activity {activity_id} on {host}", flush=True)
        prepare_once(activity_id)
        if isinstance(environment.runner, MasterRunner):
            environment.runner.send_message("activity", {"id": activity_id})

    @events.quitting.add_listener
    def on_quitting(environment: Environment, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner) or not prepared:
            return
        try:
            checks = check(environment, prepared[-1])
        except Exception as exc:  # the server is unreachable or answered nonsense
            checks = [("invariants could be checked", False, repr(exc))]
        print("\ninvariants:")
        for name, passed, detail in checks:
            print(f"  {'PASS' if passed else 'FAIL'}  {name}  ({detail})")
        if not all(passed for _, passed, _ in checks):
            environment.process_exit_code = 1
