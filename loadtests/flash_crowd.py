"""Locust "opening flash crowd" reservation scenario (开抢): every user waits for the opening
second, then all reserve the hot item at once; the unlucky refresh and try again, some lucky
ones cancel (the unit goes back and someone else gets it), and everyone checks their list.

Against the embedded server: `make loadtest LOADTEST_ARGS="--scenario flash_crowd"` (500 users
by default). Against a deployed host:

    PROMO_JWT_SECRET=<the server's secret> locust -f loadtests/flash_crowd.py --host https://promo.example.com \\
        --headless -u 2000 -r 2000 -t 2m

Each Locust user is one member. The scenario creates a delivery reservation for tomorrow with
PROMO_QUANTITY units (100) that opens PROMO_OPENS_IN seconds (15) after the run starts, unless
PROMO_ACTIVITY_ID names one (users then wait for its start). Requests carry Idempotency-Keys; 5 %
of successful reservations are sent again with the same key and must get the same reservation
back. Expected refusals (sold_out, not_open_yet) are not failures; anything else, and any 5xx,
is.

At the end it checks, once the audit writer has caught up: the units held never exceed the
quantity and held + left = quantity, SQL = Redis for reservations and cancellations, and, in a
single-process run, every code handed out is unique and no member holds two reservations.
"""

from __future__ import annotations

import itertools
import os
import random
import secrets
import time
from datetime import datetime
from typing import Any

import gevent
from locust import FastHttpUser, between, task
from locust.env import Environment
from locust.runners import LocalRunner

from loadtests.common import Check, no_failed_requests, operator_token, player_tokens, scenario, wait_for_audit
from loadtests.harness import create_live_activity, request, reservation_spec

QUANTITY = int(os.environ.get("PROMO_QUANTITY", "100"))
OPENS_IN_S = float(os.environ.get("PROMO_OPENS_IN", "15"))
MEMBERS = int(os.environ.get("PROMO_MEMBERS", "20000"))
EXPECTED = {409: {"sold_out", "not_open_yet"}}

state: dict[str, Any] = {"activity_id": None, "tokens": [], "operator": None, "opens_at": 0.0, "date": ""}
acknowledged: dict[str, str] = {}  # code -> member, of the reservations this process was answered
cancelled: set[str] = set()
_next_member = itertools.count()


def create_drop(host: str, operator: str) -> int:
    spec = reservation_spec("Locust opening flash crowd", quantity=QUANTITY, opens_in_s=OPENS_IN_S)
    return int(create_live_activity(host, operator, spec)["id"])


def prepare(activity_id: int) -> None:
    state["activity_id"] = activity_id
    state["operator"] = operator_token()
    state["tokens"] = player_tokens(f"fc{secrets.token_hex(3)}-", MEMBERS)


def _opening(host: str) -> None:
    """Read when the activity opens and which date it sells (once per process)."""
    if state["opens_at"]:
        return
    status, activity = request("GET", f"{host}/operator/activities/{state['activity_id']}", state["operator"])
    if status != 200:
        raise RuntimeError(f"reading the activity failed: {status} {activity}")
    state["opens_at"] = datetime.fromisoformat(activity["starts_at"]).timestamp()
    state["date"] = activity["reservation"]["dates"][0]["date"]


class Fan(FastHttpUser):
    wait_time = between(0.5, 2.0)  # a member refreshing the page

    def on_start(self) -> None:
        _opening(self.host or "")
        self.member = next(_next_member) % MEMBERS
        self.auth = {"Authorization": f"Bearer {state['tokens'][self.member]}", "Content-Type": "application/json"}
        self.code: str | None = None
        gevent.sleep(max(0.0, state["opens_at"] - time.time()))  # everyone fires at the opening second

    @task
    def visit(self) -> None:
        if self.code is None:
            self._reserve()
        elif self.code not in cancelled and random.random() < 0.05:
            self._cancel()
        else:
            self.client.get(f"/activities/{state['activity_id']}/reservations", headers=self.auth,
                            name="/activities/[id]/reservations (mine)")  # fmt: skip

    def _reserve(self) -> None:
        key = secrets.token_hex(12)
        self.code = self._send(key, retry_of=None)
        if self.code and random.random() < 0.05:
            self._send(key, retry_of=self.code)  # a front end resending: the same reservation back

    def _send(self, key: str, retry_of: str | None) -> str | None:
        """POST the reservation; the code made (or None)."""
        url, body = f"/activities/{state['activity_id']}/reservations", f'{{"date": "{state["date"]}"}}'
        name = "/activities/[id]/reservations" + (" (retry)" if retry_of else "")
        headers = {**self.auth, "Idempotency-Key": key}
        with self.client.post(url, data=body, headers=headers, name=name, catch_response=True) as response:
            answer = response.json() if response.text else {}
            if response.status_code == 201:
                if retry_of and (answer["code"] != retry_of or not answer["replayed"]):
                    response.failure("a resent Idempotency-Key made another reservation")
                    return None
                acknowledged.setdefault(answer["code"], str(self.member))
                response.success()
                return str(answer["code"])
            if answer.get("code") in EXPECTED.get(response.status_code, set()):
                response.success()
            else:
                response.failure(f"unexpected {response.status_code}: {response.text[:200]}")
            return None

    def _cancel(self) -> None:
        url = f"/activities/{state['activity_id']}/reservations/{self.code}/cancel"
        with self.client.post(url, data="{}", headers=self.auth, name="/activities/[id]/reservations/[code]/cancel",
                              catch_response=True) as response:  # fmt: skip
            if response.status_code == 200:
                cancelled.add(str(self.code))
                self.code = None  # the member may try again later
                response.success()
            else:
                response.failure(f"unexpected {response.status_code}: {response.text[:200]}")


def check_invariants(environment: Environment, activity_id: int) -> list[Check]:
    counters = wait_for_audit(environment.host or "", activity_id, state["operator"])
    pool = counters["pools"][0]
    day = counters["by_date_and_store"][0]
    checks: list[Check] = [
        ("audit writer caught up", counters["audit_backlog"] == 0, f"backlog {counters['audit_backlog']}"),
        (
            "never more than the quantity",
            0 <= pool["held"] <= pool["quantity"] and pool["held"] + pool["left"] == pool["quantity"],
            f"held {pool['held']} + left {pool['left']} = {pool['quantity']}",
        ),
        (
            "SQL = Redis (reservations, cancellations)",
            (day["reserved"], day["cancelled"]) == (day["reserved_in_sql"], day["cancelled_in_sql"]),
            f"reserved {day['reserved_in_sql']} = {day['reserved']}, "
            f"cancelled {day['cancelled_in_sql']} = {day['cancelled']}",
        ),
    ]
    if isinstance(environment.runner, LocalRunner) and not os.environ.get("PROMO_ACTIVITY_ID"):
        live = [member for code, member in acknowledged.items() if code not in cancelled]
        checks.append(
            (
                "codes unique, nobody holds two",
                len(acknowledged) == day["reserved"] and len(live) == len(set(live)) == pool["held"],
                f"{len(acknowledged)} codes handed out, {len(live)} held by {len(set(live))} members",
            )
        )
    checks.append(no_failed_requests(environment))
    return checks


scenario(activity_env="PROMO_ACTIVITY_ID", create=create_drop, prepare=prepare, check=check_invariants)
