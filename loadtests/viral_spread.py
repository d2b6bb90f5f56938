"""The viral spread (助力裂变; the `Friend` users of the kit): members start bargains and share
them; friends open the share links and help; some friends start their own and share them in
turn.

Each visit is a member from a pool minted up front, taken in turn. A member who opens a friend's
link reads the progress and helps (5 % of visits resend their last help: already_helped);
after helping, one in four starts a bargain of their own, whose link joins the pool of links
others open. The activity (created unless PROMO_ASSIST_ACTIVITY_ID names one) is a bargain
needing 5 helps, with a per-helper daily cap of 3 and a points reward for a first help. Every
refusal the rules call for (already helped, completed, a cap, self-help, out of stock) is
expected; any other answer is a failure.

Settings: PROMO_ASSIST_ACTIVITY_ID, PROMO_MEMBERS (per Locust process, default 50000),
PROMO_SEEDS (bargains started first: 20).

At the end, once the audit writer has caught up: SQL = Redis for initiatives, helps and
completions; no more initiatives hold or won the item than its stock; every initiative and help
acknowledged in SQL once; no member of this process helped one initiative twice or more than 3
times a day; and, for up to 200 initiatives, helps never above the number needed, completed
exactly when all help arrived, the price never below the floor and exactly the floor once
completed.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections import Counter

from locust import FastHttpUser, task
from locust.env import Environment

from loadtests.harness import bargain_spec, create_live_activity, request
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

MEMBERS = int(os.environ.get("PROMO_MEMBERS", "50000"))
SEEDS = int(os.environ.get("PROMO_SEEDS", "20"))
HELPS_PER_DAY = 3  # the created bargain's cap per helper
EXPECTED = {
    409: {"already_helped", "initiative_completed", "initiative_expired", "out_of_stock"},
    429: {"helper_daily_limit", "device_daily_limit", "ip_daily_limit", "initiative_limit"},
    403: {"self_help"},
}

tokens: list[str] = []
shared: list[str] = []  # share tokens of the bargains started: the links friends open
helped: list[tuple[int, str]] = []  # (member, share token) of each acknowledged help
_next_member = itertools.count()


def create_bargain(host: str, operator: str) -> int:
    return int(create_live_activity(host, operator, bargain_spec("Locust viral bargain"))["id"])


def prepare(_activity_id: int) -> None:
    tokens[:] = player_tokens(f"vs{secrets.token_hex(3)}-", MEMBERS)


def check(environment: Environment, activity_id: int, operator: str) -> list[Check]:
    host = environment.host or ""
    counters = wait_for_audit(host, activity_id, operator)
    checks: list[Check] = [caught_up("assist", counters)]
    for name in ("initiatives", "helps", "completed"):
        redis_total, sql_total = counters[f"{name}_total"], counters[f"{name}_in_sql"]
        checks.append((f"assist: {name} SQL = Redis", redis_total == sql_total, f"{sql_total} = {redis_total}"))
    holding = counters["initiatives_total"] - counters["expired_total"]
    checks.append(
        (
            "assist: no prize beyond its stock",
            holding <= counters["stock"] and holding + counters["stock_left"] == counters["stock"],
            f"{holding} held or won + {counters['stock_left']} left = {counters['stock']}",
        )
    )
    return checks


def check_here(host: str) -> list[Check]:
    """The helps and initiatives this process saw."""
    checks: list[Check] = []
    per_helper = Counter(member for member, _ in helped)
    checks.append(
        (
            "assist: no member above a limit (one help per initiative, 3 a day)",
            len(set(helped)) == len(helped) and max(per_helper.values(), default=0) <= HELPS_PER_DAY,
            f"{len(helped)} helps by {len(per_helper)} members, most by one: {max(per_helper.values(), default=0)}",
        )
    )
    broken, sampled = [], rng.sample(shared, min(200, len(shared)))
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
            "assist: initiatives consistent (helps <= needed, price >= floor)",
            not broken,
            f"{len(sampled)} sampled; {broken[:3]}",
        )
    )
    return checks


SCENARIO = Scenario("assist", "PROMO_ASSIST_ACTIVITY_ID", create_bargain, prepare, check, check_here)


class Friend(FastHttpUser):
    weight = 2
    wait_time = think(0.05, 0.5)
    scenario = SCENARIO

    def on_start(self) -> None:
        self.auth = auth(tokens[0])
        self.last_help: tuple[int, str] | None = None  # (member, share token)

    @task
    def visit(self) -> None:
        activity_id = SCENARIO.activity_id
        assert activity_id is not None
        if misbehave(self, activity_id, "/activities/{id}/initiatives"):
            return
        member = next(_next_member)
        if len(shared) < SEEDS:
            self._start(activity_id, member)
            return
        if self.last_help and rng.random() < 0.05:
            self._help(*self.last_help)  # a front end resending its previous help: already_helped
            return
        token = rng.choice(shared)
        self.client.get(f"/assists/{token}", name="/assists/[token]")
        if self._help(member, token) and rng.random() < 0.25:
            self._start(activity_id, member)  # the friend starts a bargain of their own and shares it

    def _start(self, activity_id: int, member: int) -> None:
        url = f"/activities/{activity_id}/initiatives"
        headers = auth(tokens[member % MEMBERS])
        with self.client.post(url, data="{}", headers=headers, name="/activities/[id]/initiatives",
                              catch_response=True) as response:  # fmt: skip
            if response.status_code == 201:
                body = response.json()
                if not body["replayed"]:
                    SCENARIO.ack("initiative", body["initiative_id"])
                    shared.append(body["share_token"])
                response.success()
            else:
                judge_refusal(response, EXPECTED)

    def _help(self, member: int, token: str) -> bool:
        headers = auth(tokens[member % MEMBERS])
        with self.client.post(f"/assists/{token}/helps", data="{}", headers=headers,
                              name="/assists/[token]/helps", catch_response=True) as response:  # fmt: skip
            if response.status_code == 201:
                SCENARIO.ack("help", response.json()["help_id"])
                helped.append((member % MEMBERS, token))
                self.last_help = (member, token)
                response.success()
                return True
            judge_refusal(response, EXPECTED)
            return False
