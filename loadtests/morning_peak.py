"""The morning peak (签到早高峰; the `EarlyRiser` users of the kit): members open the app in a
rush, look at their sign-in calendar, sign in once, and some front ends send the sign-in again.

Each visit is another member, taken in turn from a pool minted up front (each Locust process
its own members, so the workers of a distributed run never share one): read the calendar, sign
in (a new sign-in: `replayed` false), and in 10 % of visits sign in again, which must return
the same sign-in (`replayed` true, same mark id). Once the pool is used up, sign-ins are
replays.

Settings: PROMO_CHECKIN_ACTIVITY_ID (use this live sign-in activity), PROMO_MEMBERS (per Locust
process, default 50000).

At the end, once the audit writer has caught up: SQL sign-ins and rewards = the Redis counters;
every sign-in acknowledged in SQL once; in a single process that created the activity, every new
sign-in it was told of is a distinct member and Redis counted exactly those.
"""

from __future__ import annotations

import itertools
import os
import secrets

from locust import FastHttpUser, task
from locust.env import Environment
from locust.runners import LocalRunner

from loadtests.harness import checkin_spec, create_live_activity
from loadtests.kit import Check, Scenario, auth, caught_up, misbehave, player_tokens, rng, think, wait_for_audit

MEMBERS = int(os.environ.get("PROMO_MEMBERS", "50000"))
RETRY_SHARE = 0.10

tokens: list[str] = []
signed: set[int] = set()  # members whose new sign-in this process was told of
_next_member = itertools.count()


def create_checkin(host: str, operator: str) -> int:
    return int(create_live_activity(host, operator, checkin_spec("Locust morning peak"))["id"])


def prepare(_activity_id: int) -> None:
    tokens[:] = player_tokens(f"mp{secrets.token_hex(3)}-", MEMBERS)


def check(environment: Environment, activity_id: int, operator: str) -> list[Check]:
    counters = wait_for_audit(environment.host or "", activity_id, operator)
    total = counters["signins_total"]
    checks: list[Check] = [
        caught_up("sign-ins", counters),
        ("sign-ins: SQL = Redis", counters["signins_in_sql"] == total, f"{counters['signins_in_sql']} = {total}"),
        (
            "sign-in rewards: SQL = Redis",
            counters["rewards_in_sql"] == counters["rewards_total"],
            f"{counters['rewards_in_sql']} = {counters['rewards_total']}",
        ),
    ]
    if isinstance(environment.runner, LocalRunner) and not os.environ.get(SCENARIO.activity_env):
        # This process made every sign-in of the activity it created: each new sign-in it was
        # told of is another member, and Redis counted exactly those.
        new = len(SCENARIO.acked.get("mark", []))
        checks.append(
            (
                "sign-ins: one per member and day",
                new == len(signed) == total,
                f"new sign-ins {new}, distinct members {len(signed)}, Redis {total}",
            )
        )
    return checks


SCENARIO = Scenario("sign-ins", "PROMO_CHECKIN_ACTIVITY_ID", create_checkin, prepare, check)


class EarlyRiser(FastHttpUser):
    weight = 2
    wait_time = think(0.05, 0.5)
    scenario = SCENARIO

    def on_start(self) -> None:
        self.auth = auth(tokens[0])

    @task
    def visit(self) -> None:
        activity_id = SCENARIO.activity_id
        assert activity_id is not None
        if misbehave(self, activity_id, "/activities/{id}/signins"):
            return
        member = next(_next_member) % MEMBERS
        self.auth = auth(tokens[member])
        self.client.get(f"/activities/{activity_id}/calendar", headers=self.auth, name="/activities/[id]/calendar")
        first = self._sign_in(activity_id, member, replay_of=None)
        if first and rng.random() < RETRY_SHARE:
            self._sign_in(activity_id, member, replay_of=first)

    def _sign_in(self, activity_id: int, member: int, replay_of: str | None) -> str | None:
        url = f"/activities/{activity_id}/signins"
        name = "/activities/[id]/signins" + (" (retry)" if replay_of else "")
        with self.client.post(url, data="{}", headers=self.auth, name=name, catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"unexpected {response.status_code}: {response.text[:200]}")
                return None
            body = response.json()
            if replay_of and (not body["replayed"] or body["mark_id"] != replay_of):
                response.failure("signing in again the same day did not return the first sign-in")
                return None
            if not body["replayed"]:
                SCENARIO.ack("mark", body["mark_id"])
                signed.add(member)
            response.success()
            return str(body["mark_id"])
