"""The platform as real processes, for fault tests and the soak: the embedded redis-server
binary (AOF on, appendfsync everysec) owned by this process so it can be killed and restarted on
the same AOF, a real `promo serve` and, when the writer runs apart, a real `promo worker`.

Everything lives in one temporary folder and listens on 127.0.0.1 (the API, on a free port) or a
Unix socket (Redis). `close()` kills every process it started, by its own process group, even
after a failed test.
"""

from __future__ import annotations

import contextlib
import ctypes
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
from pathlib import Path
from types import TracebackType

import redis

from activities.auth import Tokens
from activities.redis_server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
JWT_SECRET = "stack-secret-" + "s" * 40


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kb(pid: int) -> int:
    """Resident memory of a process (VmRSS in /proc/<pid>/status), in KiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class Stack:
    """Redis, the API and optionally the worker, each started and stopped on demand."""

    def __init__(self, base: Path | None = None, *, writer: str = "inline", env: dict[str, str] | None = None) -> None:
        self._owned = base is None  # a temporary folder of its own: removed by close()
        self.base = base or Path(tempfile.mkdtemp(prefix="promo-stack-"))
        self.base.mkdir(parents=True, exist_ok=True)
        self.redis = EmbeddedRedis(self.base / "redis", appendonly=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.db_path = self.base / "promo.db"
        self.writer = writer  # "inline": inside the API; "off": a separate `promo worker`
        self.extra_env = env or {}
        self.tokens = Tokens(JWT_SECRET)
        self.api: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self._logs: list[object] = []

    # -- Redis ------------------------------------------------------------------------------
    def start_redis(self) -> None:
        self.redis.start()

    def kill_redis(self) -> None:
        """kill -9 of redis-server: no shutdown, no final AOF rewrite."""
        process = self.redis.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        self.redis.process = None

    def redis_client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.redis.socket), decode_responses=True, socket_timeout=10)

    # -- the API and the worker -------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            "REDIS_URL": self.redis.url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.db_path}",
            "PROMO_VAR_DIR": str(self.base / "var"),
            "PROMO_JWT_SECRET": JWT_SECRET,
            "PROMO_HOST": "127.0.0.1",
            "PROMO_PORT": str(self.port),
            "PROMO_AUDIT_WRITER": self.writer,
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        env.pop("PROMO_WORKERS", None)
        return env

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.base / f"{name}.log", "ab")  # noqa: SIM115 (closed in close())
        self._logs.append(log)
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args],
            cwd=ROOT,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as a whole by close()
            preexec_fn=_die_with_parent,  # and gone with this process, however it ends
        )

    def start_api(self, timeout_s: float = 90.0) -> None:
        self.api = self._spawn("api", "serve")
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if self.api.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start; see {self.base / 'api.log'}:\n{self.log_tail('api')}")
            time.sleep(0.2)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/health/ready", timeout=5) as resp:
                return bool(resp.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop_api(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 60.0) -> int | None:
        """Signal the API and wait for it to exit; returns its exit code (None if it was killed)."""
        return _stop(self.api, sig, timeout_s)

    def start_worker(self) -> None:
        self.worker = self._spawn("worker", "worker")

    def kill_worker(self) -> None:
        _stop(self.worker, signal.SIGKILL, 10)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.base / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        for process in (self.api, self.worker):
            if process is not None and process.poll() is None:
                _kill_group(process, signal.SIGKILL)
                process.wait(timeout=10)
        self.api = self.worker = None
        self.redis.stop()
        for log in self._logs:
            log.close()  # type: ignore[attr-defined]
        if self._owned:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _die_with_parent() -> None:
    """In the child before it starts (Linux): the kernel sends it SIGTERM when this process dies,
    even by SIGKILL, so that no API or worker outlives a test run."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _kill_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _stop(process: subprocess.Popen[bytes] | None, sig: signal.Signals, timeout_s: float) -> int | None:
    if process is None or process.poll() is not None:
        return None if process is None else process.returncode
    if sig == signal.SIGKILL:
        _kill_group(process, sig)
    else:
        process.send_signal(sig)  # the main process only: what a supervisor sends
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(process, signal.SIGKILL)
        process.wait(timeout=10)
        return None
