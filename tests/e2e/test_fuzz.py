"""Fuzz the API as its clients see it: schemathesis over /schema/openapi.json, against a real
`promo serve` (embedded Redis and SQLite in a temporary var/, a free port), with every check it has.

Each operation gets the examples, coverage (boundary values, missing and wrong-typed parameters,
undocumented methods) and fuzzing phases, seeded and derandomized, so a run is repeatable. Requests
carry the right token for the route most of the time, and in turn the other role's token, no
token and a bad one. Half of the well-formed requests are aimed at real activities (one of each
gameplay, live), a real initiative, share link and reservation, so that generated bodies reach the
rules and the Lua scripts rather than stopping at 404.

Knobs (environment): PROMO_FUZZ_EXAMPLES (fuzzing examples per operation; `make fuzz` runs more),
PROMO_FUZZ_SEED.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.pytest.lazy import get_all_tests

from activities.auth import Tokens
from activities.model import MAX_SAFE_INT
from activities.pages import encode_cursor
from loadtests.harness import bargain_spec, checkin_spec, reservation_spec, wheel_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("PROMO_FUZZ_EXAMPLES", "15"))
SEED = int(os.environ.get("PROMO_FUZZ_SEED", "20261126"))
PLAYER = "fuzz-u1"

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "max-examples": EXAMPLES,
            "deterministic": True,
            "database": "none",
            "no-shrink": True,  # report the request as it failed; shrinking replays change server state anyway
            "with-security-parameters": False,  # the test sends the tokens (right, wrong role, none, bad)
        },
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            # A well-formed request may still break a rule the schema cannot express (ends before it
            # starts, out of stock, too late to cancel): 409 and 422 are answers, not failures.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]},
        },
        "request-timeout": 30,
    }
)


@dataclass
class Target:
    """The server under test, its tokens, and real things to aim requests at."""

    base_url: str
    tokens: Tokens
    var_dir: Path
    ids: dict[str, Any] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)
    turn: Iterator[int] = field(default_factory=itertools.count)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (operation, status) -> answers

    def bearer(self, role: str) -> dict[str, str]:
        if role == "none":
            return {}
        if role == "bad":
            return {"Authorization": "Bearer not-a-token"}
        if role == "operator":
            return {"Authorization": f"Bearer {self.tokens.issue('fuzz-ops', 'operator')}"}
        if role == "system":
            return {"Authorization": f"Bearer {self.tokens.issue('fuzz-crm', 'system')}"}
        return {"Authorization": f"Bearer {self.tokens.issue(PLAYER, 'player', level='gold')}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _seed(client: httpx.Client, target: Target) -> None:
    """One live activity of each gameplay, a draft wheel for transitions, an initiative, a reservation."""
    operator, player = target.bearer("operator"), target.bearer("player")

    def live(spec: dict[str, Any], publish: bool = True) -> dict[str, Any]:
        created = client.post("/operator/activities", json=spec, headers=operator)
        assert created.status_code == 201, created.text
        if not publish:
            return dict(created.json())
        published = client.post(f"/operator/activities/{created.json()['id']}/publish", headers=operator)
        assert published.status_code == 200, published.text
        return dict(published.json())

    wheel = live(wheel_spec(per_user_daily=1000))
    target.ids["wheel"], target.ids["prize"] = wheel["id"], wheel["prizes"][0]["id"]
    target.ids["checkin"] = live(checkin_spec())["id"]
    target.ids["assist"] = live(bargain_spec())["id"]
    target.ids["reservation"] = live(reservation_spec(quantity=1000))["id"]
    target.ids["draft"] = live(wheel_spec(name="Transitions"), publish=False)["id"]
    started = client.post(f"/activities/{target.ids['assist']}/initiatives", headers=player)
    assert started.status_code == 201, started.text
    target.ids["initiative"], target.ids["share"] = started.json()["initiative_id"], started.json()["share_token"]
    reserved = client.post(
        f"/activities/{target.ids['reservation']}/reservations",
        json={"date": reservation_spec()["reservation"]["dates"][0]["date"]},
        headers={**player, "Idempotency-Key": "fuzz-seed"},
    )
    assert reserved.status_code == 201, reserved.text
    target.ids["code"] = reserved.json()["code"]


@pytest.fixture(scope="module")
def fuzz_target() -> Iterator[Target]:
    """`promo serve` in a fresh temporary var/ on a free port; stopped and removed afterwards."""
    var_dir = Path(tempfile.mkdtemp(prefix="promo-fuzz-"))
    port = _free_port()
    env = {**os.environ, "PROMO_VAR_DIR": str(var_dir), "PROMO_PORT": str(port)}
    for name in ("REDIS_URL", "DATABASE_URL", "PROMO_JWT_SECRET"):
        env.pop(name, None)
    log = (var_dir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if client.get("/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start:\n{(var_dir / 'server.log').read_text()[-3000:]}")
                time.sleep(0.2)
            secret = (var_dir / "jwt-secret").read_text().strip()
            target = Target(base_url=base_url, var_dir=var_dir, tokens=Tokens(secret))
            _seed(client, target)
        yield target
        target.session.close()
        exceptions = server_exceptions(var_dir)
        print(f"\nfuzz: {next(target.turn)} requests, {len(exceptions)} tracebacks in the server log")
        for exception in exceptions:
            print(f"fuzz: server traceback: {exception}")
        for operation in sorted({operation for operation, _ in target.statuses}):
            answers = sorted((status, n) for (op, status), n in target.statuses.items() if op == operation)
            print(f"fuzz: {operation}: " + " ".join(f"{status}x{n}" for status, n in answers))
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        shutil.rmtree(var_dir, ignore_errors=True)


# Who a route is for, by path: the right token most of the time, and in turn every wrong one.
ROLES = ("right", "right", "right", "other", "none", "bad")
ANYONE = ("/players/{user_id}/draws", "/activities/{activity_id}/initiatives/{initiative_id}")
# The live activity a route's activity_id is aimed at.
AIM = {
    "draws": "wheel",
    "chances": "wheel",
    "signins": "checkin",
    "makeups": "checkin",
    "calendar": "checkin",
    "initiatives": "assist",
    "invites": "assist",
    "reservations": "reservation",
    "redemptions": "reservation",
    "stock": "wheel",
    "simulations": "wheel",
    "{action}": "draft",
}


def role_for(case: schemathesis.Case, turn: int) -> str:
    path = case.operation.path
    if not case.operation.definition.raw.get("security"):
        return "none" if turn % 2 else "player"  # public: a token changes nothing
    right = "operator" if path.startswith("/operator/") else "system" if path == "/events" else "player"
    if path in ANYONE:
        right = ("player", "operator")[turn // len(ROLES) % 2]
    role = ROLES[turn % len(ROLES)]
    if role == "right":
        return right
    if role == "other":
        return "player" if right == "operator" else "operator"
    return role


def aim(case: schemathesis.Case, target: Target, turn: int) -> None:
    """Every other well-formed request: the path names real things instead of random ones."""
    meta = case.meta
    if turn % 2 or meta is None or not meta.generation.mode.is_positive or not case.path_parameters:
        return
    path = case.operation.path
    params = case.path_parameters
    if "activity_id" in params:
        kind = next((kind for part, kind in AIM.items() if part in path), None)
        kinds = ("wheel", "checkin", "assist", "reservation")
        params["activity_id"] = target.ids[kind or kinds[turn // 2 % len(kinds)]]
    replacements = {"prize_id": "prize", "share_token": "share", "initiative_id": "initiative", "code": "code"}
    for name, key in replacements.items():
        if name in params:
            params[name] = target.ids[key]
    if "user_id" in params:
        params["user_id"] = PLAYER
    if "action" in params:
        params["action"] = ("publish", "pause", "resume", "end")[turn // 2 % 4]


# A list's cursor is opaque: only one the list handed out is valid, so a generated string that the
# schema allows is still a 400 `invalid_cursor` (tests/integration/test_pagination.py). Well-formed requests
# carry a real cursor of the list's shape instead (keys past every row: an empty page).
CURSORS = {
    "/operator/activities": encode_cursor((MAX_SAFE_INT,)),
    **dict.fromkeys(  # outbound lists: by id
        ("/operator/webhooks", "/operator/deliveries", "/operator/fulfilments", "/me/prizes"),
        encode_cursor((MAX_SAFE_INT,)),
    ),
    "/operator/activities/{activity_id}/reservations": encode_cursor((MAX_SAFE_INT,)),
    "/operator/log": encode_cursor((MAX_SAFE_INT,)),
    "/operator/lists": encode_cursor((MAX_SAFE_INT,)),
    "/activities/{activity_id}/reservations": encode_cursor(("9999-12-31", MAX_SAFE_INT, "Z")),
}
CURSOR = encode_cursor((MAX_SAFE_INT, MAX_SAFE_INT))  # draws, points history, initiatives


def real_cursor(case: schemathesis.Case) -> None:
    meta = case.meta
    if meta is not None and meta.generation.mode.is_positive and case.query and "cursor" in case.query:
        case.query["cursor"] = CURSORS.get(case.operation.path, CURSOR)


def server_exceptions(var_dir: Path) -> list[str]:
    """The request line and the exception of each traceback in the server's log."""
    chunks = (var_dir / "server.log").read_text().split("Traceback (most recent call last):")
    found = []
    for before, traceback in itertools.pairwise(chunks):
        where = (before.strip().splitlines() or [""])[-1]
        exception = next((line for line in traceback.strip().splitlines() if line and not line[0].isspace()), "")
        found.append(f"{where} -> {exception}")
    return found


def exercise(case: schemathesis.Case, target: Target, failures: dict[str, str]) -> None:
    """One generated request: aim it, pick its token, send it, run every check on the answer."""
    turn = next(target.turn)
    aim(case, target, turn)
    real_cursor(case)
    headers = target.bearer(role_for(case, turn))
    response = case.call(headers=headers, session=target.session)
    target.statuses[case.operation.label, response.status_code] += 1
    try:
        case.validate_response(response, headers=headers, transport_kwargs={"session": target.session})
    except FailureGroup as group:
        sent = case.as_curl_command(headers)
        for failure in group.exceptions:
            # One report per operation and kind of failure: the first request that showed it.
            key = f"{case.operation.label} | {failure.title} | {response.status_code}"
            failures.setdefault(key, f"{failure.message[:600]}\n  {sent}\n  -> {response.text[:300]}")


@pytest.mark.slow
def test_the_api_holds_under_fuzzing(fuzz_target: Target) -> None:
    """No 5xx, no answer outside the document, no accepted invalid input, for every operation."""
    schema = schemathesis.openapi.from_url(f"{fuzz_target.base_url}/schema/openapi.json", config=CONFIG)
    failures: dict[str, str] = {}

    def run(case: schemathesis.Case) -> None:
        exercise(case, fuzz_target, failures)

    operations = 0
    for result in get_all_tests(schema=schema, test_func=run, settings=None, given_kwargs=None):
        if isinstance(result, Err):
            failures[f"unreadable operation {result.err()}"] = "schemathesis could not build its tests"
            continue
        _operation, test = result.ok()
        test()
        operations += 1
    assert operations >= 25, f"only {operations} operations in the document"
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(f"{k}\n  {v}" for k, v in failures.items())
