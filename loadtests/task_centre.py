"""The task centre under load (the `BrandCrm` and `TaskHunter` users of the kit): the brand's
CRM pushes batches of members' events (`POST /events`, a system token) while members read their
tasks and claim the completed ones.

BrandCrm: batches of 100 to 1,000 events (shares and page views of members of a pool), 5 % of
batches sent again (every event then a replay: `new` 0). TaskHunter: a member of the pool reads
the task list and claims "share3" when it is completed; 10 % of claims are sent again and must
answer the same claim (`replayed` true).

Settings: PROMO_TASKS_ACTIVITY_ID (use this live task centre), PROMO_MEMBERS (per Locust
process, default 2000).

At the end, once the audit writer has caught up: every claim acknowledged is in SQL once; the
claims in SQL are at most one per member (one daily period in a run); events recorded = the
distinct new events the CRM was told of (single process).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
from datetime import UTC, datetime

from locust import FastHttpUser, task
from locust.env import Environment
from locust.runners import LocalRunner

from loadtests.harness import create_live_activity
from loadtests.kit import Check, Scenario, auth, caught_up, rng, think, tokens_from_env, wait_for_audit

MEMBERS = int(os.environ.get("PROMO_MEMBERS", "2000"))
RESEND_SHARE, RECLAIM_SHARE = 0.05, 0.10

members: list[str] = []
tokens: list[str] = []
system: dict[str, str] = {}
new_events: set[str] = set()
claimed: set[str] = set()
_batch_no = itertools.count()


def create_tasks(host: str, operator: str) -> int:
    now = datetime.now(UTC)
    spec = {
        "type": "tasks",
        "name": "Locust task centre",
        "starts_at": now.replace(year=now.year - 1).isoformat(),
        "ends_at": now.replace(year=now.year + 1).isoformat(),
        "tasks": {
            "tasks": [
                {"id": "share3", "name": "Share 3 times today", "period": "daily", "event": "shared",
                 "target": 3, "reward": {"type": "points", "points": 10}},
                {"id": "browse5", "name": "View 5 pages this week", "period": "weekly", "event": "page_viewed",
                 "target": 5, "reward": {"type": "points", "points": 20}},
            ]
        },
    }  # fmt: skip
    return int(create_live_activity(host, operator, spec)["id"])


def prepare(_activity_id: int) -> None:
    issuer = tokens_from_env()
    prefix = f"tc{secrets.token_hex(3)}-"
    members[:] = [f"{prefix}{i}" for i in range(MEMBERS)]
    tokens[:] = [issuer.issue(m, "player", ttl_s=12 * 3600) for m in members]
    system.update(auth(issuer.issue("locust-crm", "system", ttl_s=12 * 3600)))


def check(environment: Environment, activity_id: int, operator: str) -> list[Check]:
    counters = wait_for_audit(environment.host or "", activity_id, operator)
    checks: list[Check] = [
        caught_up("tasks", counters),
        (
            "task claims: at most one per member and task in a run",
            counters["claims_in_sql"] <= 2 * MEMBERS,
            f"{counters['claims_in_sql']} claims in SQL for {MEMBERS} members",
        ),
    ]
    if isinstance(environment.runner, LocalRunner) and not os.environ.get(SCENARIO.activity_env):
        checks.append(
            (
                "task claims: one per member (share3)",
                len(SCENARIO.acked.get("task_claim", [])) == len(claimed),
                f"{len(SCENARIO.acked.get('task_claim', []))} new claims, {len(claimed)} members",
            )
        )
    return checks


SCENARIO = Scenario("tasks", "PROMO_TASKS_ACTIVITY_ID", create_tasks, prepare, check)


class BrandCrm(FastHttpUser):
    weight = 1
    wait_time = think(0.2, 1.0)
    scenario = SCENARIO

    @task
    def push(self) -> None:
        batch_no = next(_batch_no)
        now = datetime.now(UTC).isoformat()
        size = rng.randint(100, 1000)
        events = [
            {
                "event_id": f"{members[0]}-b{batch_no}-{i}",
                "member_id": members[rng.randrange(len(members))],
                "type": "shared" if i % 2 else "page_viewed",
                "occurred_at": now,
            }
            for i in range(size)
        ]
        body = json.dumps({"events": events})
        self._send(body, size, replay=False)
        if rng.random() < RESEND_SHARE:
            self._send(body, size, replay=True)

    def _send(self, body: str, size: int, replay: bool) -> None:
        name = "/events" + (" (resent)" if replay else "")
        with self.client.post("/events", data=body, headers=system, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"unexpected {response.status_code}: {response.text[:200]}")
                return
            answer = response.json()
            if answer["accepted"] != size or (replay and answer["new"] != 0):
                response.failure(f"batch of {size}: {answer['accepted']} accepted, {answer['new']} new")
                return
            response.success()


class TaskHunter(FastHttpUser):
    weight = 2
    wait_time = think(0.1, 0.8)
    scenario = SCENARIO

    @task
    def visit(self) -> None:
        activity_id = SCENARIO.activity_id
        assert activity_id is not None
        member = rng.randrange(len(members))
        headers = auth(tokens[member])
        with self.client.get(
            f"/activities/{activity_id}/tasks", headers=headers, name="/activities/[id]/tasks", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"unexpected {response.status_code}")
                return
            share = next(t for t in response.json()["items"] if t["id"] == "share3")
            response.success()
        if share["completed"] and not share["claimed"]:
            first = self._claim(activity_id, member, headers, None)
            if first and rng.random() < RECLAIM_SHARE:
                self._claim(activity_id, member, headers, first)

    def _claim(self, activity_id: int, member: int, headers: dict[str, str], replay_of: str | None) -> str | None:
        url = f"/activities/{activity_id}/tasks/share3/claims"
        name = "/activities/[id]/tasks/[task]/claims" + (" (retry)" if replay_of else "")
        with self.client.post(url, data="{}", headers=headers, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"unexpected {response.status_code}: {response.text[:200]}")
                return None
            body = response.json()
            if replay_of and (not body["replayed"] or body["claim_id"] != replay_of):
                response.failure("claiming again did not return the first claim")
                return None
            if not body["replayed"]:
                SCENARIO.ack("task_claim", body["claim_id"])
                claimed.add(members[member])
            response.success()
            return str(body["claim_id"])
