"""`promo serve` on the Redis Cluster the test setup starts, configured only by
REDIS_CLUSTER_NODES: the API workers and the child worker (the audit writer) talk to the
cluster, draws and sign-ins land in SQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from activities.auth import Tokens
from loadtests.harness import checkin_spec, create_live_activity, free_port, request, wheel_spec

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def test_serve_with_redis_cluster_nodes(tmp_path: Path, redis_cluster_url: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMO_", "REDIS_", "DATABASE_URL"))}
    env |= {
        "PROMO_VAR_DIR": str(tmp_path / "var"),
        "PROMO_PORT": str(port),
        "PROMO_WORKERS": "2",
        "REDIS_CLUSTER_NODES": redis_cluster_url.split("://", 1)[1],
    }
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if request("GET", f"{base}/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "promo serve did not get ready on the cluster"
            time.sleep(0.2)
        tokens = Tokens((tmp_path / "var" / "jwt-secret").read_text().strip())
        operator = tokens.issue("ops", "operator")
        wheels = [int(create_live_activity(base, operator, wheel_spec(name=f"W{i}"))["id"]) for i in range(3)]
        signin = int(create_live_activity(base, operator, checkin_spec())["id"])
        for i in range(10):
            player = tokens.issue(f"p{i}", "player", level="gold")
            for wheel in wheels:
                status, body = request("POST", f"{base}/activities/{wheel}/draws", player, {}, Idempotency_Key=f"k{i}")
                assert status == 201, body
            status, body = request("POST", f"{base}/activities/{signin}/signins", player, {})
            assert status == 201, body
        deadline = time.monotonic() + 30
        while True:  # the child worker writes what the cluster's streams hold
            counters = [request("GET", f"{base}/operator/activities/{w}/counters", operator)[1] for w in wheels]
            checkin = request("GET", f"{base}/operator/activities/{signin}/counters", operator)[1]
            if all(c["draws_in_sql"] == 10 for c in counters) and checkin["signins_in_sql"] == 10:
                break
            assert time.monotonic() < deadline, (counters, checkin)
            time.sleep(0.2)
        status, body = request("GET", f"{base}/me/points", tokens.issue("p0", "player"))
        assert status == 200 and body["balance"] == 5
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
