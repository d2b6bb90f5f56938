"""The QA kit's machinery, shared by every scenario.

A `Scenario` sets up its activity through the operator API (or takes the one named by its
environment variable), mints its members' tokens up front in every Locust process, records the
actions the server acknowledged, and checks its invariants at the end. The entry point,
loadtests/locustfile.py, runs the scenarios of the user classes Locust was given.

Front ends misbehave now and then: `misbehave` sends one of the bad requests a real front end
sends (an expired token, an activity that does not exist, a body that is not JSON) and counts
anything but the expected 4xx as a failure. Every answer with a 5xx is counted (`server_errors`).

Every random choice of the kit (which member, which bad request, retries, think times) comes
from one generator seeded with PROMO_SEED (default 1): a run makes the same choices each time.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locust import between
from locust.env import Environment

from activities.auth import Tokens
from loadtests.harness import request

Check = tuple[str, bool, str]  # (invariant, passed, detail)
BAD_SHARE = float(os.environ.get("PROMO_BAD_SHARE", "0.02"))  # visits that send a bad request
THINK = float(os.environ.get("PROMO_THINK", "1.0"))  # think time scale (0: no think time)
NO_SUCH_ACTIVITY = 999_999_999
SEED = int(os.environ.get("PROMO_SEED", "1"))
rng = random.Random(SEED)  # the kit's random choices
random.seed(SEED)  # and Locust's own (think times)
server_errors = {"count": 0}  # answers with a 5xx, whatever the scenario


def tokens_from_env() -> Tokens:
    secret = os.environ.get("PROMO_JWT_SECRET")
    if not secret and os.environ.get("PROMO_JWT_SECRET_FILE"):
        secret = Path(os.environ["PROMO_JWT_SECRET_FILE"]).read_text().strip()
    if not secret:
        raise SystemExit("set PROMO_JWT_SECRET (or PROMO_JWT_SECRET_FILE) to the server's JWT secret")
    return Tokens(secret)


def operator_token() -> str:
    return tokens_from_env().issue("locust-ops", "operator", ttl_s=12 * 3600)


def player_tokens(prefix: str, count: int) -> list[str]:
    tokens = tokens_from_env()
    return [tokens.issue(f"{prefix}{i}", "player", level="gold", ttl_s=12 * 3600) for i in range(count)]


def think(low: float, high: float) -> Callable[..., float]:
    """A front end's pause between actions, scaled by PROMO_THINK."""
    return between(low * THINK, high * THINK)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def wait_for_audit(host: str, activity_id: int, operator: str, timeout_s: float = 60) -> dict[str, Any]:
    """The activity's counters once the audit writer has caught up (or the timeout passed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, counters = request("GET", f"{host}/operator/activities/{activity_id}/counters", operator)
        if status != 200:
            raise RuntimeError(f"counters: {status} {counters}")
        if counters["audit_backlog"] == 0 or time.monotonic() > deadline:
            result: dict[str, Any] = counters
            return result
        time.sleep(0.5)


def judge_refusal(response: Any, expected: dict[int, set[str]]) -> bool:
    """A refusal the rules call for (its status and code in `expected`) is a success, anything
    else a failure. True if it was expected."""
    code = response.json().get("code") if response.text.startswith("{") else None
    if code in expected.get(response.status_code, set()):
        response.success()
        return True
    response.failure(f"unexpected {response.status_code}: {response.text[:200]}")
    return False


def caught_up(label: str, counters: dict[str, Any]) -> Check:
    backlog = counters["audit_backlog"]
    return (f"{label}: audit writer caught up", backlog == 0, f"backlog {backlog}")


def misbehave(user: Any, activity_id: int, action: str, body: str = "{}") -> bool:
    """Now and then (PROMO_BAD_SHARE of visits) send a bad request instead of the visit; True
    if it did. `action` is the scenario's POST path with {id} for the activity, `body` a valid
    body for it (so that only what is meant to be wrong is)."""
    if rng.random() >= BAD_SHARE:
        return False
    expired = tokens_from_env().issue("locust-late", "player", ttl_s=60, now=time.time() - 3600)
    bad = rng.choice(
        [
            ("expired token", action.format(id=activity_id), auth(expired), body, 401, "token_expired"),
            ("no such activity", action.format(id=NO_SUCH_ACTIVITY), user.auth, body, 404, "activity_not_found"),
            ("not JSON", action.format(id=activity_id), user.auth, "{nope", 400, "malformed_json"),
        ]
    )
    label, path, headers, sent, status, code = bad
    headers = {**headers, "Idempotency-Key": f"bad{rng.getrandbits(40)}"}
    with user.client.post(path, data=sent, headers=headers, name=f"(bad request: {label})", catch_response=True) as r:
        answer = r.json().get("code") if r.text.startswith("{") else None
        if r.status_code == status and answer == code:
            r.success()
        else:
            r.failure(f"{label}: expected {status} {code}, got {r.status_code} {answer}")
    return True


@dataclass
class Scenario:
    """What a scenario sets up and checks. `create(host, operator)` makes its activity and
    returns its id; `prepare(activity_id)` readies a process (tokens...); `check(environment,
    activity_id, operator)` returns the invariants of the whole run (the master's, or the only
    process's); `check_here` those of what this process saw (each worker's, or the only
    process's), beside the acknowledged actions looked up in SQL."""

    name: str
    activity_env: str
    create: Callable[[str, str], int]
    prepare: Callable[[int], None]
    check: Callable[[Environment, int, str], list[Check]]
    check_here: Callable[[str], list[Check]] | None = None
    activity_id: int | None = None
    acked: dict[str, list[str]] = field(default_factory=dict)  # audit kind -> ids this process was told of

    def set_up(self, host: str) -> int:
        """In the master (or the only process): the activity to use."""
        configured = os.environ.get(self.activity_env)
        activity_id = int(configured) if configured else self.create(host, operator_token())
        print(f"{self.name}: activity {activity_id} on {host}", flush=True)
        self.ready(activity_id)
        return activity_id

    def ready(self, activity_id: int) -> None:
        self.activity_id = activity_id
        self.prepare(activity_id)

    def ack(self, kind: str, value: str) -> None:
        """The server acknowledged an action: it must be in the SQL audit trail, once."""
        self.acked.setdefault(kind, []).append(value)

    def checks_here(self, host: str, operator: str) -> list[Check]:
        """What this process saw: every action it was acknowledged in SQL exactly once, and the
        scenario's own checks of it."""
        if self.activity_id is None:
            return []
        wait_for_audit(host, self.activity_id, operator)
        checks = self.check_here(host) if self.check_here else []
        for kind, ids in self.acked.items():
            unique = sorted(set(ids))
            rows: dict[str, int] = {}
            for start in range(0, len(unique), 1000):
                body = {"kind": kind, "ids": unique[start : start + 1000]}
                status, found = request("POST", f"{host}/operator/audit/lookup", operator, body)
                if status != 200:
                    raise RuntimeError(f"audit lookup: {status} {found}")
                rows |= found["rows"]
            wrong = {i: n for i, n in rows.items() if n != 1}
            checks.append(
                (
                    f"{self.name}: every acknowledged {kind} in SQL once",
                    not wrong,
                    f"{len(unique)} checked; not once: {dict(list(wrong.items())[:3])}",
                )
            )
        return checks


def report(environment: Environment, checks: list[Check]) -> list[Check]:
    """Print the invariants; a broken one makes Locust exit non-zero. Returns every check."""
    failures = environment.stats.total.num_failures
    checks = [
        *checks,
        ("no 5xx answer", server_errors["count"] == 0, f"{server_errors['count']} answers with a 5xx"),
        ("no failed request (unexpected status, bad replay)", failures == 0, f"{failures} failures"),
    ]
    print("\ninvariants:")
    for name, passed, detail in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}  ({detail})")
    if not all(passed for _, passed, _ in checks):
        environment.process_exit_code = 1
    return checks
