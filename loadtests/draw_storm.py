"""The draw storm (the `DrawStorm` users of the kit): members open a wheel, then draw with an
Idempotency-Key; some front ends resend their last draw.

Settings (environment variables):
    PROMO_DRAW_ACTIVITY_ID  draw on this live lottery instead of creating one
    PROMO_PLAYERS           distinct members (default 2000)
    PROMO_TOP_STOCK         stock of the scarce top prize of the created wheel (default 100)
    PROMO_PER_USER_DAILY    draws per member per day on the created wheel (default 50; 0: none)

At the end, once the audit writer has caught up: no prize granted beyond its stock and stock
left = stock - granted, SQL = Redis for every prize and in total, no sampled member above the
daily limit, every draw the server acknowledged in SQL once.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from locust import FastHttpUser, task
from locust.env import Environment

from loadtests.harness import create_live_activity, request, wheel_spec
from loadtests.kit import (
    Check,
    Scenario,
    auth,
    caught_up,
    judge_refusal,
    misbehave,
    player_tokens,
    rng,
    think,
    wait_for_audit,
)

PLAYERS = int(os.environ.get("PROMO_PLAYERS", "2000"))
TOP_STOCK = int(os.environ.get("PROMO_TOP_STOCK", "100"))
PER_USER_DAILY = int(os.environ.get("PROMO_PER_USER_DAILY", "50"))
LIMIT_SAMPLE = 300  # members whose draws are counted at the end
RETRY_SHARE = 0.05  # draws that are a front end resending its previous request
EXPECTED = {429: {"user_daily_limit", "user_total_limit", "global_daily_limit"}, 409: {"idempotency_key_in_flight"}}

tokens: list[str] = []


def create_wheel(host: str, operator: str) -> int:
    spec = wheel_spec(top_stock=TOP_STOCK, per_user_daily=PER_USER_DAILY or None, name="Locust draw storm")
    return int(create_live_activity(host, operator, spec)["id"])


def prepare(_activity_id: int) -> None:
    tokens[:] = player_tokens("lt", PLAYERS)


def check(environment: Environment, activity_id: int, operator: str) -> list[Check]:
    host = environment.host or ""
    counters = wait_for_audit(host, activity_id, operator)
    checks: list[Check] = [
        caught_up("draws", counters),
        (
            "draws: SQL = Redis",
            counters["draws_in_sql"] == counters["draws_total"],
            f"{counters['draws_in_sql']} = {counters['draws_total']}",
        ),
    ]
    for prize in counters["prizes"]:
        label = f"draws: prize {prize['name']!r}"
        if prize["stock"] is not None:
            checks.append(
                (
                    f"{label} not oversold",
                    prize["granted"] <= prize["stock"] and prize["stock_left"] == prize["stock"] - prize["granted"],
                    f"granted {prize['granted']} of {prize['stock']}, {prize['stock_left']} left",
                )
            )
        in_sql, granted = prize["granted_in_sql"], prize["granted"]
        checks.append((f"{label}: SQL = Redis", in_sql == granted, f"{in_sql} = {granted}"))
    status, activity = request("GET", f"{host}/operator/activities/{activity_id}", operator)
    daily = activity["limits"]["per_user_daily"] if status == 200 else None
    if daily and daily <= 200:
        sample = rng.sample(range(PLAYERS), min(PLAYERS, LIMIT_SAMPLE))
        most = max(
            len(request("GET", f"{host}/players/lt{i}/draws?activity={activity_id}&limit=200", operator)[1]["items"])
            for i in sample
        )
        detail = f"most of {len(sample)} sampled: {most} <= {daily}"
        checks.append(("draws: nobody above the daily limit", most <= daily, detail))
    return checks


SCENARIO = Scenario("draws", "PROMO_DRAW_ACTIVITY_ID", create_wheel, prepare, check)


class DrawStorm(FastHttpUser):
    """Members' front ends: open the wheel, draw; now and then resend the last draw."""

    weight = 5  # the campaign day's main attraction
    wait_time = think(0.05, 0.5)
    scenario = SCENARIO

    def on_start(self) -> None:
        self.member = rng.randrange(PLAYERS)
        self.last: tuple[str, str] | None = None  # (Idempotency-Key, draw id) of the last draw

    @property
    def auth(self) -> dict[str, str]:
        return auth(tokens[self.member])

    @task
    def visit(self) -> None:
        activity_id = SCENARIO.activity_id
        assert activity_id is not None
        if misbehave(self, activity_id, "/activities/{id}/draws"):
            return
        if self.last and rng.random() < RETRY_SHARE:
            self._draw(activity_id, *self.last)
            return
        if rng.random() < 0.5:  # another member's visit
            self.member, self.last = rng.randrange(PLAYERS), None
        self.client.get(f"/activities/{activity_id}", name="/activities/[id]")
        self._draw(activity_id, secrets.token_hex(12), None)

    def _draw(self, activity_id: int, key: str, replay_of: str | None) -> None:
        headers = {**self.auth, "Idempotency-Key": key}
        name = "/activities/[id]/draws" + (" (retry)" if replay_of else "")
        url = f"/activities/{activity_id}/draws"
        with self.client.post(url, data="{}", headers=headers, name=name, catch_response=True) as response:
            body: dict[str, Any] = response.json() if response.text.startswith("{") else {}
            if response.status_code == 201:
                if replay_of and (not body["replayed"] or body["draw_id"] != replay_of):
                    response.failure("a retry with the same Idempotency-Key drew again")
                    return
                if not replay_of:
                    SCENARIO.ack("draw", body["draw_id"])
                self.last = (key, body["draw_id"])
                response.success()
            elif judge_refusal(response, EXPECTED):
                self.last = None  # a refused draw is not replayed: draw anew next time
