"""Locust draw scenario: members open a wheel, then draw with Idempotency-Keys; some retry.

Against the embedded server, `make loadtest` (loadtests/run.py) does everything. Against any
deployed host:

    PROMO_JWT_SECRET=<the server's secret> locust -f loadtests/locustfile.py --host https://promo.example.com
    # distributed: add --master here, and run `locust -f loadtests/locustfile.py --worker` on each worker

Settings (environment variables):
    PROMO_JWT_SECRET or PROMO_JWT_SECRET_FILE   mints player and operator tokens up front (required)
    PROMO_ACTIVITY_ID     draw on this live activity instead of creating one
    PROMO_PLAYERS         distinct members (default 2000)
    PROMO_TOP_STOCK       stock of the scarce top prize of the created wheel (default 100)
    PROMO_PER_USER_DAILY  draws per member per day on the created wheel (default 50; 0 = no limit)

At the end the scenario checks the invariants through the operator API, after the audit
writer has caught up: no prize granted beyond its stock, stock left = stock - granted, SQL rows
equal the Redis counters for every prize, nobody above the daily limit, and no request failed
(every 5xx, every unexpected 4xx and every replay that did not return the first draw is a
failure). A broken invariant makes locust exit non-zero.
"""

from __future__ import annotations

import os
import random
import secrets
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from activities.auth import Tokens
from loadtests.harness import create_live_activity, request, wheel_spec

PLAYERS = int(os.environ.get("PROMO_PLAYERS", "2000"))
TOP_STOCK = int(os.environ.get("PROMO_TOP_STOCK", "100"))
PER_USER_DAILY = int(os.environ.get("PROMO_PER_USER_DAILY", "50"))
LIMIT_SAMPLE = 500  # members whose draws are counted at the end
RETRY_SHARE = 0.05  # share of draws that are a front end retrying its previous request
EXPECTED_REFUSALS = {"user_daily_limit", "user_total_limit", "global_daily_limit"}

scenario: dict[str, Any] = {"activity_id": None, "tokens": [], "operator": None}


def _tokens() -> Tokens:
    secret = os.environ.get("PROMO_JWT_SECRET")
    if not secret and os.environ.get("PROMO_JWT_SECRET_FILE"):
        secret = Path(os.environ["PROMO_JWT_SECRET_FILE"]).read_text().strip()
    if not secret:
        raise SystemExit("set PROMO_JWT_SECRET (or PROMO_JWT_SECRET_FILE) to the server's JWT secret")
    return Tokens(secret)


def _prepare(activity_id: int) -> None:
    tokens = _tokens()
    scenario["activity_id"] = activity_id
    scenario["operator"] = tokens.issue("locust-ops", "operator", ttl_s=12 * 3600)
    scenario["tokens"] = [tokens.issue(f"lt{i}", "player", level="gold", ttl_s=12 * 3600) for i in range(PLAYERS)]


@events.init.add_listener
def on_init(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message("activity", lambda msg, **_: _prepare(int(msg.data["id"])))


@events.test_start.add_listener
def on_test_start(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # the master sends the activity id
    host = environment.host or ""
    operator = _tokens().issue("locust-ops", "operator", ttl_s=12 * 3600)
    activity_id = os.environ.get("PROMO_ACTIVITY_ID")
    if not activity_id:
        spec = wheel_spec(top_stock=TOP_STOCK, per_user_daily=PER_USER_DAILY or None, name="Locust draw storm")
        activity_id = str(create_live_activity(host, operator, spec)["id"])
        print(f"created live activity {activity_id} on {host}", flush=True)
    _prepare(int(activity_id))
    if isinstance(environment.runner, MasterRunner):
        environment.runner.send_message("activity", {"id": int(activity_id)})


class Member(FastHttpUser):
    """Front ends of many members: each Locust user plays a random member per visit, reads the
    activity now and then, draws, and sometimes retries its previous draw with the same key."""

    wait_time = between(0.0, 0.05)

    def on_start(self) -> None:
        self.player = random.randrange(PLAYERS)
        self.last_key: str | None = None
        self.last_draw_id: str | None = None

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {scenario['tokens'][self.player]}"}

    def _next_member(self) -> None:
        self.player = random.randrange(PLAYERS)
        self.last_key = self.last_draw_id = None

    @task(1)
    def view(self) -> None:
        self.client.get(f"/activities/{scenario['activity_id']}", name="/activities/[id]")

    @task(10)
    def draw(self) -> None:
        retry = self.last_key is not None and random.random() < RETRY_SHARE
        if not retry and random.random() < 0.5:
            self._next_member()
        key = self.last_key if retry and self.last_key else secrets.token_hex(12)
        headers = {**self._auth(), "Idempotency-Key": key, "Content-Type": "application/json"}
        name = "/activities/[id]/draws (retry)" if retry else "/activities/[id]/draws"
        url = f"/activities/{scenario['activity_id']}/draws"
        with self.client.post(url, data="{}", headers=headers, name=name, catch_response=True) as response:
            if response.status_code == 201:
                body = response.json()
                if retry and (not body["replayed"] or body["draw_id"] != self.last_draw_id):
                    response.failure("a retry with the same Idempotency-Key drew again")
                    return
                self.last_key, self.last_draw_id = key, body["draw_id"]
                response.success()
            elif response.status_code == 409 and response.json().get("code") == "idempotency_key_in_flight":
                response.success()
            elif response.status_code == 429 and response.json().get("code") in EXPECTED_REFUSALS:
                self.last_key = None  # a refused draw is not replayed; draw anew next time
                response.success()
            else:
                response.failure(f"unexpected {response.status_code}: {response.text[:200]}")


def _wait_for_audit(host: str, activity_id: int, operator: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status, counters = request("GET", f"{host}/operator/activities/{activity_id}/counters", operator)
        if status != 200:
            raise RuntimeError(f"counters: {status} {counters}")
        if counters["audit_backlog"] == 0 or time.monotonic() > deadline:
            result: dict[str, Any] = counters
            return result
        time.sleep(0.5)


def check_invariants(environment: Environment) -> list[tuple[str, bool, str]]:
    host, activity_id, operator = environment.host or "", scenario["activity_id"], scenario["operator"]
    counters = _wait_for_audit(host, activity_id, operator)
    checks: list[tuple[str, bool, str]] = [
        ("audit writer caught up", counters["audit_backlog"] == 0, f"backlog {counters['audit_backlog']}"),
        (
            "SQL draws = Redis draws",
            counters["draws_in_sql"] == counters["draws_total"],
            f"{counters['draws_in_sql']} = {counters['draws_total']}",
        ),
    ]
    for prize in counters["prizes"]:
        label = f"prize {prize['name']!r}"
        if prize["stock"] is not None:
            checks.append(
                (
                    f"{label}: no oversell",
                    prize["granted"] <= prize["stock"] and prize["stock_left"] == prize["stock"] - prize["granted"],
                    f"granted {prize['granted']} of {prize['stock']}, {prize['stock_left']} left",
                )
            )
        checks.append(
            (
                f"{label}: SQL = Redis",
                prize["granted_in_sql"] == prize["granted"],
                f"{prize['granted_in_sql']} = {prize['granted']}",
            )
        )
    status, activity = request("GET", f"{host}/operator/activities/{activity_id}", operator)
    daily = activity["limits"]["per_user_daily"] if status == 200 else None
    if daily and daily <= 200:
        most = 0
        for i in random.sample(range(PLAYERS), min(PLAYERS, LIMIT_SAMPLE)):
            _, draws = request("GET", f"{host}/players/lt{i}/draws?activity={activity_id}&limit=200", operator)
            most = max(most, len(draws))
        checks.append(
            (
                "nobody above the daily limit",
                most <= daily,
                f"most draws by one of {min(PLAYERS, LIMIT_SAMPLE)} members sampled: {most} <= {daily}",
            )
        )
    failures = environment.stats.total.num_failures
    checks.append(("no failed request (5xx, unexpected 4xx, bad replay)", failures == 0, f"{failures} failures"))
    return checks


@events.quitting.add_listener
def on_quitting(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or scenario["activity_id"] is None:
        return
    try:
        checks = check_invariants(environment)
    except Exception as exc:  # the server is unreachable or answered nonsense
        checks = [("invariants could be checked", False, repr(exc))]
    print("\ninvariants:")
    for name, passed, detail in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}  ({detail})")
    if not all(passed for _, passed, _ in checks):
        environment.process_exit_code = 1
