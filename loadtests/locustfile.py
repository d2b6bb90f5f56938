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
from typing import Any

from locust import FastHttpUser, between, task
from locust.env import Environment

from loadtests.common import Check, no_failed_requests, operator_token, player_tokens, scenario, wait_for_audit
from loadtests.harness import create_live_activity, request, wheel_spec

PLAYERS = int(os.environ.get("PROMO_PLAYERS", "2000"))
TOP_STOCK = int(os.environ.get("PROMO_TOP_STOCK", "100"))
PER_USER_DAILY = int(os.environ.get("PROMO_PER_USER_DAILY", "50"))
LIMIT_SAMPLE = 500  # members whose draws are counted at the end
RETRY_SHARE = 0.05  # share of draws that are a front end retrying its previous request
EXPECTED_REFUSALS = {"user_daily_limit", "user_total_limit", "global_daily_limit"}

state: dict[str, Any] = {"activity_id": None, "tokens": [], "operator": None}


def create_wheel(host: str, operator: str) -> int:
    spec = wheel_spec(top_stock=TOP_STOCK, per_user_daily=PER_USER_DAILY or None, name="Locust draw storm")
    return int(create_live_activity(host, operator, spec)["id"])


def prepare(activity_id: int) -> None:
    state["activity_id"] = activity_id
    state["operator"] = operator_token()
    state["tokens"] = player_tokens("lt", PLAYERS)


class Member(FastHttpUser):
    """Front ends of many members: each Locust user plays a random member per visit, reads the
    activity now and then, draws, and sometimes retries its previous draw with the same key."""

    wait_time = between(0.0, 0.05)

    def on_start(self) -> None:
        self.player = random.randrange(PLAYERS)
        self.last_key: str | None = None
        self.last_draw_id: str | None = None

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {state['tokens'][self.player]}"}

    def _next_member(self) -> None:
        self.player = random.randrange(PLAYERS)
        self.last_key = self.last_draw_id = None

    @task(1)
    def view(self) -> None:
        self.client.get(f"/activities/{state['activity_id']}", name="/activities/[id]")

    @task(10)
    def draw(self) -> None:
        retry = self.last_key is not None and random.random() < RETRY_SHARE
        if not retry and random.random() < 0.5:
            self._next_member()
        key = self.last_key if retry and self.last_key else secrets.token_hex(12)
        headers = {**self._auth(), "Idempotency-Key": key, "Content-Type": "application/json"}
        name = "/activities/[id]/draws (retry)" if retry else "/activities/[id]/draws"
        url = f"/activities/{state['activity_id']}/draws"
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


def check_invariants(environment: Environment, activity_id: int) -> list[Check]:
    host, operator = environment.host or "", state["operator"]
    counters = wait_for_audit(host, activity_id, operator)
    checks: list[Check] = [
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
    checks.append(no_failed_requests(environment))
    return checks


scenario(activity_env="PROMO_ACTIVITY_ID", create=create_wheel, prepare=prepare, check=check_invariants)
