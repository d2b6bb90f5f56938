"""Locust "viral spread" scenario (助力裂变): members start bargains and share them; friends open
the share links and help; some friends start their own and share them in turn.

Against the embedded server: `make loadtest LOADTEST_ARGS="--scenario viral_spread"`. Against a
deployed host:

    PROMO_JWT_SECRET=<the server's secret> locust -f loadtests/viral_spread.py --host https://promo.example.com

Each visit is a member from a pool minted up front, taken in turn. A member who opens a friend's
link reads the progress and helps (5 % of visits help a link they already helped: a front end
retrying); after helping, one in four starts a bargain of their own, whose share link joins the
pool of links that others open. The activity (created unless PROMO_ACTIVITY_ID names one) is a
bargain needing 5 helps, with a per-helper daily cap of 3 and a points reward for a first help.
Every refusal the rules call for (already helped, completed, over a cap, self-help, out of
stock) is expected; any other answer, and any 5xx, is a failure.

Settings: PROMO_JWT_SECRET or PROMO_JWT_SECRET_FILE (required), PROMO_ACTIVITY_ID,
PROMO_MEMBERS (per Locust process, default 50000), PROMO_SEEDS (initiatives started first: 20).

At the end it checks, once the audit writer has caught up: SQL = Redis for initiatives, helps
and completions; no more initiatives hold or won the prize than its stock; and, for up to 200
initiatives of this process, helps never above the number needed, completed exactly when all
help arrived, a bargain's price never below the floor and exactly the floor when completed.
"""

from __future__ import annotations

import itertools
import os
import random
import secrets
from typing import Any

from locust import FastHttpUser, between, task
from locust.env import Environment

from loadtests.common import Check, no_failed_requests, operator_token, player_tokens, scenario, wait_for_audit
from loadtests.harness import bargain_spec, create_live_activity, request

MEMBERS = int(os.environ.get("PROMO_MEMBERS", "50000"))
SEEDS = int(os.environ.get("PROMO_SEEDS", "20"))
EXPECTED = {
    409: {"already_helped", "initiative_completed", "initiative_expired", "out_of_stock"},
    429: {"helper_daily_limit", "device_daily_limit", "ip_daily_limit", "initiative_limit"},
    403: {"self_help"},
}

state: dict[str, Any] = {"activity_id": None, "tokens": [], "operator": None, "shared": [], "prefix": ""}
_next_member = itertools.count()


def create_bargain(host: str, operator: str) -> int:
    return int(create_live_activity(host, operator, bargain_spec("Locust viral bargain"))["id"])


def prepare(activity_id: int) -> None:
    state["activity_id"] = activity_id
    state["operator"] = operator_token()
    state["prefix"] = f"vs{secrets.token_hex(3)}-"
    state["tokens"] = player_tokens(state["prefix"], MEMBERS)


def _auth(member: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {state['tokens'][member % MEMBERS]}", "Content-Type": "application/json"}


class Friend(FastHttpUser):
    wait_time = between(0.0, 0.02)

    def on_start(self) -> None:
        self.last_help: tuple[int, str] | None = None  # (member, share token)

    @task
    def visit(self) -> None:
        member = next(_next_member)
        if len(state["shared"]) < SEEDS:
            self._start(member)
            return
        if self.last_help and random.random() < 0.05:
            self._help(*self.last_help)  # a front end retrying its previous help: already_helped
            return
        token = random.choice(state["shared"])
        self.client.get(f"/assists/{token}", name="/assists/[token]")
        if self._help(member, token) and random.random() < 0.25:
            self._start(member)  # the friend starts a bargain of their own and shares it

    def _start(self, member: int) -> None:
        url = f"/activities/{state['activity_id']}/initiatives"
        with self.client.post(url, data="{}", headers=_auth(member), name="/activities/[id]/initiatives",
                              catch_response=True) as response:  # fmt: skip
            if response.status_code == 201:
                state["shared"].append(response.json()["share_token"])
                response.success()
            else:
                self._judge(response)

    def _help(self, member: int, token: str) -> bool:
        with self.client.post(f"/assists/{token}/helps", data="{}", headers=_auth(member),
                              name="/assists/[token]/helps", catch_response=True) as response:  # fmt: skip
            if response.status_code == 201:
                self.last_help = (member, token)
                response.success()
                return True
            self._judge(response)
            return False

    @staticmethod
    def _judge(response: Any) -> None:
        try:
            code = response.json().get("code")
        except Exception:
            code = None
        if code in EXPECTED.get(response.status_code, set()):
            response.success()
        else:
            response.failure(f"unexpected {response.status_code}: {response.text[:200]}")


def check_invariants(environment: Environment, activity_id: int) -> list[Check]:
    host, operator = environment.host or "", state["operator"]
    counters = wait_for_audit(host, activity_id, operator)
    checks: list[Check] = [
        ("audit writer caught up", counters["audit_backlog"] == 0, f"backlog {counters['audit_backlog']}")
    ]
    for name in ("initiatives", "helps", "completed"):
        redis_total, sql_total = counters[f"{name}_total"], counters[f"{name}_in_sql"]
        checks.append((f"SQL {name} = Redis {name}", redis_total == sql_total, f"{sql_total} = {redis_total}"))
    holding = counters["initiatives_total"] - counters["expired_total"]
    checks.append(
        (
            "no prize beyond its stock",
            holding <= counters["stock"] and holding + counters["stock_left"] == counters["stock"],
            f"{holding} held or won + {counters['stock_left']} left = {counters['stock']}",
        )
    )
    broken, sampled = [], random.sample(state["shared"], min(200, len(state["shared"])))
    for token in sampled:
        status, view = request("GET", f"{host}/assists/{token}")
        if status != 200:
            broken.append(f"{token}: {status}")
            continue
        price, floor = float(view["price_cny"]), float(view["floor_cny"])
        if (
            view["helps"] > view["needed"]
            or (view["status"] == "completed") != (view["helps"] == view["needed"])
            or price < floor
            or (view["status"] == "completed" and price != floor)
        ):
            broken.append(f"{token}: {view['status']} {view['helps']}/{view['needed']} at {price}")
    checks.append(
        (
            "initiatives consistent (helps <= needed, price >= floor)",
            not broken,
            f"{len(sampled)} sampled; {broken[:3]}",
        )
    )
    checks.append(no_failed_requests(environment))
    return checks


scenario(activity_env="PROMO_ACTIVITY_ID", create=create_bargain, prepare=prepare, check=check_invariants)
