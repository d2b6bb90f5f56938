"""Start the platform as a real server process for a benchmark or a load test, and set up
activities through the operator API. Shared by `loadtests.bench` and `loadtests.run`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from activities.auth import Tokens


@dataclass
class Server:
    base_url: str
    var_dir: Path
    tokens: Tokens

    def operator_token(self) -> str:
        return self.tokens.issue("loadtest-ops", "operator", ttl_s=6 * 3600)

    def player_token(self, user: str, level: str = "gold") -> str:
        return self.tokens.issue(user, "player", level=level, ttl_s=6 * 3600)


def request(method: str, url: str, token: str | None = None, body: Any = None, **headers: str) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for name, value in headers.items():
        req.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wheel_spec(
    top_stock: int = 100, per_user_daily: int | None = None, name: str = "Load-test wheel"
) -> dict[str, Any]:
    """A live-now wheel: a scarce top prize, a coupon, and the consolation prize."""
    now = time.time()
    limits: dict[str, int] = {}
    if per_user_daily:
        limits["per_user_daily"] = per_user_daily
    return {
        "type": "wheel",
        "name": name,
        "starts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
        "ends_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 7 * 86400)),
        "limits": limits,
        "prizes": [
            {"name": "Top prize", "type": "goods", "weight": 50, "stock": top_stock, "value_cny": 999},
            {"name": "5 CNY coupon", "type": "coupon", "weight": 300, "stock": 1_000_000, "value_cny": 5},
            {"name": "Thanks", "type": "thanks", "weight": 650},
        ],
    }


def checkin_spec(name: str = "Load-test sign-in") -> dict[str, Any]:
    """A live-now weekly sign-in: 5 points a day, more at a 3- and 7-day streak and 5 days signed."""
    now = time.time()
    return {
        "type": "checkin",
        "name": name,
        "starts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
        "ends_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 30 * 86400)),
        "checkin": {
            "cycle": {"kind": "weekly"},
            "daily_reward": {"type": "points", "points": 5},
            "streak_rewards": [
                {"days": 3, "reward": {"type": "points", "points": 20}},
                {"days": 7, "reward": {"type": "coupon", "coupon": "WEEK7", "name": "7-day coupon"}},
            ],
            "cumulative_rewards": [{"count": 5, "reward": {"type": "points", "points": 50}}],
            "makeup": {"per_cycle": 1, "max_days_back": 2, "points_cost": 10},
        },
    }


def bargain_spec(name: str = "Load-test bargain") -> dict[str, Any]:
    """A live-now bargain: 5 helps bring 199.00 CNY down to 19.90, within 24 hours; a helper helps
    3 times a day at most; a first help earns 5 points (while 100,000 last)."""
    now = time.time()
    return {
        "type": "assist",
        "name": name,
        "starts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
        "ends_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 30 * 86400)),
        "assist": {
            "kind": "bargain",
            "helps_needed": 5,
            "hours": 24,
            "item": {"name": "Serum 50 ml", "price_cny": "199.00", "floor_cny": "19.90", "stock": 1_000_000},
            "helper_reward": {"reward": {"type": "points", "points": 5}, "stock": 100_000},
            "anti_abuse": {"helps_per_helper_daily": 3},
        },
    }


def tomorrow() -> str:
    """Tomorrow in Shanghai, the time zone of the activities the load tests create."""
    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date().isoformat()


def reservation_spec(
    name: str = "Load-test reservations", quantity: int = 100, opens_in_s: float = -3600
) -> dict[str, Any]:
    """Delivery of a hot item tomorrow, `quantity` units, one per member; the activity, and with
    it the reservations, opens `opens_in_s` seconds from now."""
    now = time.time()
    return {
        "type": "reservation",
        "name": name,
        "starts_at": datetime.fromtimestamp(now + opens_in_s, UTC).isoformat(),
        "ends_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 30 * 86400)),
        "timezone": "Asia/Shanghai",
        "reservation": {
            "item": {"sku": "HOT-1", "name": "Hot item", "price_cny": "599.00"},
            "dates": [{"date": tomorrow(), "quantity": quantity}],
            "method": "delivery",
            "purchase": "prepay",
        },
    }


def create_live_activity(base_url: str, operator_token: str, spec: dict[str, Any]) -> dict[str, Any]:
    status, created = request("POST", f"{base_url}/operator/activities", operator_token, spec)
    if status != 201:
        raise RuntimeError(f"creating the activity failed: {status} {created}")
    status, published = request("POST", f"{base_url}/operator/activities/{created['id']}/publish", operator_token)
    if status != 200:
        raise RuntimeError(f"publishing the activity failed: {status} {published}")
    result: dict[str, Any] = published
    return result


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `port` now (as uvicorn binds: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _ours(base_url: str, var_dir: Path) -> Server | None:
    """The server on `base_url` once it is ready and is the one started with `var_dir` (it
    accepts a token signed with that folder's secret): None until then."""
    secret_file = var_dir / "jwt-secret"
    try:
        if request("GET", f"{base_url}/health/ready")[0] != 200 or not secret_file.exists():
            return None
        server = Server(base_url=base_url, var_dir=var_dir, tokens=Tokens(secret_file.read_text().strip()))
        if request("GET", f"{base_url}/me/points", server.player_token("harness-probe"))[0] != 200:
            return None  # someone else's server on that port
    except (OSError, ValueError):
        return None
    return server


@contextmanager
def embedded_server(
    port: int | None = 8765,
    workers: int = 1,
    env: dict[str, str] | None = None,
    *,
    log_path: Path | None = None,
    keep: bool = False,
) -> Iterator[Server]:
    """`promo serve` on the embedded default in a fresh temporary var/ folder, removed when the
    server stops (also on Ctrl-C) unless `keep` or PROMO_KEEP_VAR=1. `port` None, or a port
    already taken, gets a free port instead (said on the console). The server's log goes to
    `log_path` (default: server.log in the var folder)."""
    if port is None:
        port = free_port()
    elif not port_free(port):
        chosen = free_port()
        print(f"port {port} is taken: the embedded server uses port {chosen} instead", flush=True)
        port = chosen
    keep = keep or os.environ.get("PROMO_KEEP_VAR") == "1"
    var_dir = Path(tempfile.mkdtemp(prefix="promo-load-"))
    log_path = log_path or var_dir / "server.log"
    environment = dict(os.environ)
    for name in ("REDIS_URL", "REDIS_CLUSTER_NODES", "DATABASE_URL", "PROMO_JWT_SECRET"):
        environment.pop(name, None)  # the embedded default, unless `env` says otherwise
    environment |= {"PROMO_VAR_DIR": str(var_dir), "PROMO_PORT": str(port), **(env or {})}
    process: subprocess.Popen[bytes] | None = None
    log = open(log_path, "w")  # noqa: SIM115 (closed in finally)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--workers", str(workers)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:  # e.g. the port was taken after all: not someone else's server
                raise RuntimeError(f"the embedded server exited ({process.returncode}); its log:\n{_tail(log_path)}")
            if (server := _ours(base_url, var_dir)) is not None:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the embedded server did not start within 60 s; its log:\n{_tail(log_path)}")
            time.sleep(0.2)
        yield server
    finally:
        if process is not None and process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
        if not keep:
            shutil.rmtree(var_dir, ignore_errors=True)
