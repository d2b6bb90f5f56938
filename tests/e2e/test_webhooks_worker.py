"""A `promo worker` killed mid-delivery (SIGKILL, its requests hanging at the receiver) and
another started: every delivery goes out again with the same webhook-id once the lease ends,
none is lost, none is doubled in SQL. Real processes: `promo serve` (PROMO_AUDIT_WRITER=off) on
the embedded default, two workers, and the local receiver."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from activities.auth import Tokens
from tests.e2e.test_demo_pages import free_port
from tests.integration.webhook_receiver import Receiver

pytestmark = pytest.mark.slow


def _start(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "api.cli", command], env=env, stdout=out, stderr=out)


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, str], Tokens, Path]]:
    port, secret = free_port(), "e2e-" + secrets.token_hex(24)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= {
        "PROMO_VAR_DIR": str(tmp_path),
        "PROMO_PORT": str(port),
        "PROMO_JWT_SECRET": secret,
        "PROMO_AUDIT_WRITER": getattr(request, "param", "off"),  # off: the workers are ours
        "PROMO_WEBHOOK_TIMEOUT_S": "3",
        "PROMO_WEBHOOK_LEASE_S": "5",
        "PROMO_QUIET_HOURS": "off",  # whatever the time of day the test runs at
    }
    serve = _start("serve", env, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        yield url, env | {"REDIS_URL": f"unix://{tmp_path / 'redis' / 'redis.sock'}"}, Tokens(secret), tmp_path
    finally:
        _stop(serve)


WHEEL = {
    "type": "wheel",
    "name": "Coupons for all",
    "starts_at": "2026-01-01T00:00:00+08:00",
    "ends_at": "2099-01-01T00:00:00+08:00",
    "timezone": "Asia/Shanghai",
    "limits": {"per_user_daily": 10},
    "prizes": [
        {"name": "Coupon", "type": "coupon", "weight": 1, "stock": 100, "value_cny": 10},
        {"name": "Thanks", "type": "thanks", "weight": 0},
    ],
}


@pytest.mark.parametrize("stack", ["inline"], indirect=True)
def test_inline_the_api_process_delivers(stack: tuple[str, dict[str, str], Tokens, Path]) -> None:
    """PROMO_AUDIT_WRITER=inline: the writer and the dispatcher run beside the API."""
    url, _env, tokens, var = stack
    receiver = Receiver().start()
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens.issue('ops1', 'operator')}"}) as api:
            hook = api.post("/operator/webhooks", json={"url": receiver.url("/ok"), "event_types": ["prize.won"]})
            receiver.secrets = [hook.json()["secret"]]
            activity = api.post("/operator/activities", json=WHEEL).json()["id"]
            assert api.post(f"/operator/activities/{activity}/publish").status_code == 200
            player = {"Authorization": f"Bearer {tokens.issue('v1', 'player')}", "Idempotency-Key": "k1"}
            grant = api.post(f"/activities/{activity}/draws", headers=player).json()["draw_id"]
        deadline = time.monotonic() + 30
        while receiver.delivered_ids() != {f"msg_won_{grant}"}:
            assert time.monotonic() < deadline, (var / "serve.log").read_text()
            time.sleep(0.1)
        assert all(r.verified[receiver.secrets[0]] for r in receiver.requests)
    finally:
        receiver.stop()


def test_a_worker_killed_mid_delivery_loses_and_doubles_nothing(
    stack: tuple[str, dict[str, str], Tokens, Path],
) -> None:
    url, env, tokens, var = stack
    operator = {"Authorization": f"Bearer {tokens.issue('ops1', 'operator')}"}
    receiver = Receiver().start()
    first = second = None
    try:
        with httpx.Client(base_url=url, headers=operator) as api:
            hook = api.post(
                "/operator/webhooks", json={"url": receiver.url("/gate"), "event_types": ["fulfilment.requested"]}
            )
            assert hook.status_code == 201, hook.text
            activity = api.post("/operator/activities", json=WHEEL).json()["id"]
            assert api.post(f"/operator/activities/{activity}/publish").status_code == 200
            grants = []
            for i in range(5):
                player = {"Authorization": f"Bearer {tokens.issue(f'w{i}', 'player')}", "Idempotency-Key": f"k{i}"}
                drawn = api.post(f"/activities/{activity}/draws", headers=player)
                assert drawn.status_code == 201, drawn.text
                grants.append(drawn.json()["draw_id"])
            expected = {f"msg_ful_{g}" for g in grants}

            first = _start("worker", env, var / "worker1.log")
            deadline = time.monotonic() + 60
            while set(receiver.ids("/gate")) != expected:  # all five hang at the receiver
                assert time.monotonic() < deadline, (var / "worker1.log").read_text()
                time.sleep(0.05)
            first.kill()  # SIGKILL mid-delivery: nothing recorded
            first.wait()
            receiver.gate.set()
            second = _start("worker", env, var / "worker2.log")
            deadline = time.monotonic() + 60
            while receiver.delivered_ids() != expected:
                assert time.monotonic() < deadline, (var / "worker2.log").read_text()
                time.sleep(0.1)
            deadline = time.monotonic() + 30
            while True:  # the second worker records the outcomes
                found = api.get("/operator/deliveries?limit=200").json()["items"]
                if {d["status"] for d in found} == {"delivered"}:
                    break
                assert time.monotonic() < deadline, found
                time.sleep(0.2)
        assert sorted(d["webhook_id"] for d in found) == sorted(expected)  # one delivery each
        assert Counter(receiver.ids(answered=200)) == dict.fromkeys(expected, 1)  # once each, after the restart
        with sqlite3.connect(var / "promo.db") as db:
            statuses = db.execute("SELECT status, count(*) FROM fulfilments GROUP BY status").fetchall()
        assert statuses == [("delivered", 5)]
    finally:
        for process in (first, second):
            if process is not None:
                _stop(process, signal.SIGTERM)
        receiver.stop()
