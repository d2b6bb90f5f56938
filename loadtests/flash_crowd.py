"""Locust "opening flash crowd" reservation scenario (开抢): every user waits for the opening
second, then all reserve the hot item at once; the unlucky refresh and try again, some lucky
ones cancel (the unit goes back and someone else gets it), and everyone checks their list.

Each Locust user (`Fan` in the kit) is one member, who loads the activity's page, then waits.
The scenario creates a delivery reservation for tomorrow with PROMO_QUANTITY units (100) that
opens PROMO_OPENS_IN seconds (15) after the run starts, unless PROMO_RESERVATION_ACTIVITY_ID
names one (users then wait for its start). Requests carry Idempotency-Keys; 5 %
of successful reservations are sent again with the same key and must get the same reservation
back. Expected refusals (sold_out, not_open_yet) are not failures; anything else, and any 5xx,
is.

At the end it checks, once the audit writer has caught up: the units held never exceed the
quantity and held + left = quantity, SQL = Redis for reservations and cancellations, every
reservation and cancellation acknowledged in SQL once, and, in a single process that created
the activity, every code handed out unique and no member holding two reservations.
"""

from __future__ import annotations

import itertools
import os
import secrets
import time
from datetime import datetime
from typing import Any

import gevent
from locust import FastHttpUser, task
from locust.env import Environment
from locust.runners import LocalRunner

from loadtests.harness import create_live_activity, request, reservation_spec
from loadtests.kit import (
    Check,
    Scenario,
    auth,
    caught_up,
    judge_refusal,
    misbehave,
    operator_token,
    player_tokens,
    rng,
    think,
    wait_for_audit,
)

QUANTITY = int(os.environ.get("PROMO_QUANTITY", "100"))
OPENS_IN_S = float(os.environ.get("PROMO_OPENS_IN", "15"))
MEMBERS = int(os.environ.get("PROMO_MEMBERS", "20000"))
EXPECTED = {409: {"sold_out", "not_open_yet"}}

state: dict[str, Any] = {"tokens": [], "opens_at": 0.0, "date": ""}
acknowledged: dict[str, str] = {}  # code -> member, of the reservations this process was answered
cancelled: set[str] = set()
_next_member = itertools.count()


def create_drop(host: str, operator: str) -> int:
    spec = reservation_spec("Locust opening flash crowd", quantity=QUANTITY, opens_in_s=OPENS_IN_S)
    return int(create_live_activity(host, operator, spec)["id"])


def prepare(_activity_id: int) -> None:
    state["tokens"] = player_tokens(f"fc{secrets.token_hex(3)}-", MEMBERS)


def _opening(host: str) -> None:
    """Read when the activity opens and which date it sells (once per process)."""
    if state["opens_at"]:
        return
    status, activity = request("GET", f"{host}/operator/activities/{SCENARIO.activity_id}", operator_token())
    if status != 200:
        raise RuntimeError(f"reading the activity failed: {status} {activity}")
    state["opens_at"] = datetime.fromisoformat(activity["starts_at"]).timestamp()
    state["date"] = activity["reservation"]["dates"][0]["date"]


def check(environment: Environment, activity_id: int, operator: str) -> list[Check]:
    counters = wait_for_audit(environment.host or "", activity_id, operator)
    pool = counters["pools"][0]
    day = counters["by_date_and_store"][0]
    checks: list[Check] = [
        caught_up("reservations", counters),
        (
            "reservations: never more than the quantity",
            0 <= pool["held"] <= pool["quantity"] and pool["held"] + pool["left"] == pool["quantity"],
            f"held {pool['held']} + left {pool['left']} = {pool['quantity']}",
        ),
        (
            "reservations: SQL = Redis (made, cancelled)",
            (day["reserved"], day["cancelled"]) == (day["reserved_in_sql"], day["cancelled_in_sql"]),
            f"reserved {day['reserved_in_sql']} = {day['reserved']}, "
            f"cancelled {day['cancelled_in_sql']} = {day['cancelled']}",
        ),
    ]
    if isinstance(environment.runner, LocalRunner) and not os.environ.get(SCENARIO.activity_env):
        live = [member for code, member in acknowledged.items() if code not in cancelled]
        checks.append(
            (
                "reservations: codes unique, nobody holds two",
                len(acknowledged) == day["reserved"] and len(live) == len(set(live)) == pool["held"],
                f"{len(acknowledged)} codes handed out, {len(live)} held by {len(set(live))} members",
            )
        )
    return checks


SCENARIO = Scenario("reservations", "PROMO_RESERVATION_ACTIVITY_ID", create_drop, prepare, check)


class Fan(FastHttpUser):
    weight = 1
    wait_time = think(0.5, 2.0)  # a member refreshing the page
    scenario = SCENARIO

    def on_start(self) -> None:
        _opening(self.host or "")
        self.member = next(_next_member) % MEMBERS
        self.auth = auth(state["tokens"][self.member])
        self.client.get(f"/activities/{SCENARIO.activity_id}", name="/activities/[id]")  # the page, before
        self.code: str | None = None
        gevent.sleep(max(0.0, state["opens_at"] - time.time()))  # everyone fires at the opening second

    @task
    def visit(self) -> None:
        assert SCENARIO.activity_id is not None
        if misbehave(self, SCENARIO.activity_id, "/activities/{id}/reservations", f'{{"date": "{state["date"]}"}}'):
            return
        if self.code is None:
            self._reserve()
        elif self.code not in cancelled and rng.random() < 0.05:
            self._cancel()
        else:
            self.client.get(f"/activities/{SCENARIO.activity_id}/reservations", headers=self.auth,
                            name="/activities/[id]/reservations (mine)")  # fmt: skip

    def _reserve(self) -> None:
        key = secrets.token_hex(12)
        self.code = self._send(key, retry_of=None)
        if self.code and rng.random() < 0.05:
            self._send(key, retry_of=self.code)  # a front end resending: the same reservation back

    def _send(self, key: str, retry_of: str | None) -> str | None:
        """POST the reservation; the code made (or None)."""
        url, body = f"/activities/{SCENARIO.activity_id}/reservations", f'{{"date": "{state["date"]}"}}'
        name = "/activities/[id]/reservations" + (" (retry)" if retry_of else "")
        headers = {**self.auth, "Idempotency-Key": key}
        with self.client.post(url, data=body, headers=headers, name=name, catch_response=True) as response:
            answer = response.json() if response.text else {}
            if response.status_code == 201:
                if retry_of and (answer["code"] != retry_of or not answer["replayed"]):
                    response.failure("a resent Idempotency-Key made another reservation")
                    return None
                if acknowledged.setdefault(answer["code"], str(self.member)) == str(self.member) and not retry_of:
                    SCENARIO.ack("reservation", answer["code"])
                response.success()
                return str(answer["code"])
            judge_refusal(response, EXPECTED)
            return None

    def _cancel(self) -> None:
        url = f"/activities/{SCENARIO.activity_id}/reservations/{self.code}/cancel"
        with self.client.post(url, data="{}", headers=self.auth, name="/activities/[id]/reservations/[code]/cancel",
                              catch_response=True) as response:  # fmt: skip
            if response.status_code == 200:
                cancelled.add(str(self.code))
                SCENARIO.ack("reservation_change", str(self.code))
                self.code = None  # the member may try again later
                response.success()
            else:
                response.failure(f"unexpected {response.status_code}: {response.text[:200]}")
