"""Locust "morning peak" sign-in scenario (签到早高峰): members open the app in a rush, look at
their sign-in calendar, sign in once, and some front ends retry the sign-in.

Against the embedded server: `make loadtest LOADTEST_ARGS="--scenario morning_peak"`. Against any
deployed host:

    PROMO_JWT_SECRET=<the server's secret> locust -f loadtests/morning_peak.py --host https://promo.example.com
    # distributed: add --master here, and run `locust -f loadtests/morning_peak.py --worker` on each worker

Each Locust user plays one member after another: read the calendar, sign in (a new sign-in:
`replayed` false), and in 10 % of visits send the sign-in again, which must return the same
sign-in (`replayed` true, same mark id). Members are taken in turn from a pool minted up front;
once the pool is used up, sign-ins are replays. Workers of a distributed run take disjoint
members.

Settings (environment variables):
    PROMO_JWT_SECRET or PROMO_JWT_SECRET_FILE   mints tokens up front (required)
    PROMO_ACTIVITY_ID     use this live sign-in activity instead of creating one
    PROMO_MEMBERS         members in the pool, per Locust process (default 50000)

At the end it checks, through the operator API once the audit writer has caught up: SQL sign-ins
and rewards equal the Redis counters, no member signed in twice (sign-ins counted by Redis, by SQL
and by the acknowledged new sign-ins of this process all agree in a single-process run, and never
exceed the members), and no request failed.
"""

from __future__ import annotations

import itertools
import os
import random
import secrets
from typing import Any

from locust import FastHttpUser, between, task
from locust.env import Environment
from locust.runners import LocalRunner

from loadtests.common import Check, no_failed_requests, operator_token, player_tokens, scenario, wait_for_audit
from loadtests.harness import checkin_spec, create_live_activity

MEMBERS = int(os.environ.get("PROMO_MEMBERS", "50000"))
RETRY_SHARE = 0.10

state: dict[str, Any] = {"activity_id": None, "tokens": [], "operator": None, "new_signins": 0, "members": set()}
_next_member = itertools.count()


def create_checkin(host: str, operator: str) -> int:
    return int(create_live_activity(host, operator, checkin_spec("Locust morning peak"))["id"])


def prepare(activity_id: int) -> None:
    # Members of this process only: the workers of a distributed run never share one.
    prefix = f"mp{secrets.token_hex(3)}-"
    state["activity_id"] = activity_id
    state["operator"] = operator_token()
    state["tokens"] = player_tokens(prefix, MEMBERS)


class EarlyRiser(FastHttpUser):
    wait_time = between(0.0, 0.02)

    @task
    def visit(self) -> None:
        member = next(_next_member) % MEMBERS
        auth = {"Authorization": f"Bearer {state['tokens'][member]}", "Content-Type": "application/json"}
        activity = state["activity_id"]
        self.client.get(f"/activities/{activity}/calendar", headers=auth, name="/activities/[id]/calendar")
        first = self._sign_in(member, auth, retry=False)
        if first and random.random() < RETRY_SHARE:
            self._sign_in(member, auth, retry=True, expected=first)

    def _sign_in(self, member: int, auth: dict[str, str], *, retry: bool, expected: str | None = None) -> str | None:
        url = f"/activities/{state['activity_id']}/signins"
        name = "/activities/[id]/signins (retry)" if retry else "/activities/[id]/signins"
        with self.client.post(url, data="{}", headers=auth, name=name, catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"unexpected {response.status_code}: {response.text[:200]}")
                return None
            body = response.json()
            if retry and (not body["replayed"] or body["mark_id"] != expected):
                response.failure("signing in again the same day did not return the first sign-in")
                return None
            if not body["replayed"]:
                state["new_signins"] += 1
                state["members"].add(member)
            response.success()
            return str(body["mark_id"])


def check_invariants(environment: Environment, activity_id: int) -> list[Check]:
    counters = wait_for_audit(environment.host or "", activity_id, state["operator"])
    total = counters["signins_total"]
    checks: list[Check] = [
        ("audit writer caught up", counters["audit_backlog"] == 0, f"backlog {counters['audit_backlog']}"),
        (
            "SQL sign-ins = Redis sign-ins",
            counters["signins_in_sql"] == total,
            f"{counters['signins_in_sql']} = {total}",
        ),
        (
            "SQL rewards = Redis rewards",
            counters["rewards_in_sql"] == counters["rewards_total"],
            f"{counters['rewards_in_sql']} = {counters['rewards_total']}",
        ),
    ]
    if isinstance(environment.runner, LocalRunner) and not os.environ.get("PROMO_ACTIVITY_ID"):
        # This process made every sign-in of the activity it created: each new sign-in it was
        # told of is another member, and Redis counted exactly those.
        new, members = state["new_signins"], len(state["members"])
        checks.append(
            (
                "one sign-in per member and day",
                new == members == total,
                f"new sign-ins {new}, distinct members {members}, Redis {total}",
            )
        )
    checks.append(no_failed_requests(environment))
    return checks


scenario(activity_env="PROMO_ACTIVITY_ID", create=create_checkin, prepare=prepare, check=check_invariants)
