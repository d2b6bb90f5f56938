"""The platform's files are its owner's only, URLs never print their passwords, and the CLI says
what it does, finds the JWT secret where the server does and never makes one up."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from activities.auth import Tokens
from activities.config import load_settings
from activities.db import make_engine
from activities.logs import JsonFormatter, mask_credentials
from activities.redis_server import EmbeddedRedis
from api.cli import banner, main
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual umask (022): the platform must not rely on a careful caller."""
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_var_and_every_file_in_it_are_private_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None
) -> None:
    var = tmp_path / "var"
    monkeypatch.setenv("PROMO_VAR_DIR", str(var))
    monkeypatch.delenv("PROMO_JWT_SECRET", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings()
    assert mode(var) == 0o700
    assert mode(var / "jwt-secret") == 0o600
    assert len(settings.jwt_secret) > 40 and load_settings().jwt_secret == settings.jwt_secret

    engine = make_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        await conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        for name in ("promo.db", "promo.db-wal", "promo.db-shm"):  # WAL and SHM exist while connected
            assert mode(var / name) == 0o600, name
    await engine.dispose()

    server = EmbeddedRedis(var / "redis")
    server.start()
    try:
        client = redis.Redis(unix_socket_path=str(server.socket))
        client.set("k", "v")
        client.close()
    finally:
        server.stop()
    made = [p for p in (var / "redis").rglob("*") if not p.is_socket()]
    assert any("appendonly" in p.name for p in made)  # the AOF (and its folder) are there
    for path in [var / "redis", *made]:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path


def test_loose_files_from_before_are_tightened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    (var / "promo.db").write_bytes(b"")
    (var / "promo.db").chmod(0o644)
    monkeypatch.setenv("PROMO_VAR_DIR", str(var))
    settings = load_settings()
    make_engine(settings.database_url)
    assert (mode(var), mode(var / "promo.db")) == (0o700, 0o600)


def test_credentials_are_masked_in_urls() -> None:
    assert (
        mask_credentials("postgresql+asyncpg://promo:s3cr%40t@db:5432/promo")
        == "postgresql+asyncpg://promo:***@db:5432/promo"
    )
    assert mask_credentials("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"
    assert mask_credentials("rediss://token123@cache") == "rediss://***@cache"
    assert mask_credentials("unix:///var/redis/redis.sock") == "unix:///var/redis/redis.sock"
    assert mask_credentials("sqlite+aiosqlite:////srv/var/promo.db") == "sqlite+aiosqlite:////srv/var/promo.db"
    assert mask_credentials("a user@example.com wrote") == "a user@example.com wrote"
    both = mask_credentials("from redis://u:p1@a to postgresql://v:p2@b")
    assert "p1" not in both and "p2" not in both


def test_the_banner_and_log_lines_mask_credentials(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, "redis://default:redispass@cache:6379/0", database_url="postgresql+asyncpg://promo:sqlpass@db/promo"
    )
    shown = banner(settings, "127.0.0.1", 8000)
    assert "sqlpass" not in shown and "redispass" not in shown
    assert "postgresql+asyncpg://promo:***@db/promo" in shown and "redis://default:***@cache:6379/0" in shown

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("promo.test")
    logger.addHandler(handler)
    try:
        logger.warning("cannot reach %s", "postgresql://promo:sqlpass@db/promo")
        try:
            raise ConnectionError("redis://:redispass@cache refused")
        except ConnectionError:
            logger.exception("lost Redis")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "sqlpass" not in output and "redispass" not in output
    assert [json.loads(line)["logger"] for line in output.splitlines()] == ["promo.test", "promo.test"]


# --- the CLI -------------------------------------------------------------------------------------


def promo(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("PROMO_VAR_DIR", "PROMO_JWT_SECRET")}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=cwd,
        env={**environment, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_and_help_for_every_subcommand(capsys: pytest.CaptureFixture[str], restore_process_state: None) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("promo 0.")
    helps = {}
    for command in ("serve", "worker", "token", "migrate", "simulate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        helps[command] = capsys.readouterr().out
        assert "environment:" in helps[command], command
    for variable in ("PROMO_VAR_DIR", "DATABASE_URL", "REDIS_URL", "PROMO_TRUSTED_PROXIES", "PROMO_METRICS_TOKEN"):
        assert variable in helps["serve"]
    assert "(default: 86400)" in helps["token"] and "PROMO_JWT_SECRET" in helps["token"]
    assert "127.0.0.1" in helps["serve"] and "8000" in helps["serve"]
    worker = " ".join(helps["worker"].split())
    for job in ("audit writer", "reconciler", "expiry sweeps"):
        assert job in worker


def test_token_refuses_without_a_secret_and_creates_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty-var"
    run = promo("token", "--user", "u1", cwd=tmp_path, PROMO_VAR_DIR=str(empty))
    assert run.returncode == 2
    assert "no JWT secret" in run.stderr and "PROMO_JWT_SECRET" in run.stderr
    assert "Traceback" not in run.stderr
    assert not empty.exists() and not (tmp_path / "var").exists()


def test_token_uses_the_servers_secret_from_anywhere(tmp_path: Path) -> None:
    var = tmp_path / "server-var"
    var.mkdir()
    (var / "jwt-secret").write_text("the-server-secret-" + "s" * 40)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = promo("token", "--user", "u7", "--level", "gold", cwd=elsewhere, PROMO_VAR_DIR=str(var))
    assert run.returncode == 0, run.stderr
    identity = Tokens("the-server-secret-" + "s" * 40).verify(run.stdout.strip())
    assert (identity.subject, identity.level) == ("u7", "gold")
    assert not (elsewhere / "var").exists()

    # Without PROMO_VAR_DIR, var/ is the repository's (as for the server), not ./var of the
    # current folder: either that secret is used, or the command says there is none.
    run = promo("token", "--user", "u7", cwd=elsewhere)
    assert not (elsewhere / "var").exists()
    assert run.returncode == 0 or str(ROOT / "var" / "jwt-secret") in run.stderr


def test_serve_leaves_forwarded_headers_to_the_app(
    tmp_path: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_process_state: None,
) -> None:
    """uvicorn would believe X-Forwarded-For from 127.0.0.1: promo serve turns that off (the app
    decides, api/proxies.py) and leaves the log format to the platform."""
    import uvicorn

    started: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *_, **kwargs: started.update(kwargs))
    monkeypatch.setenv("PROMO_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'var' / 'promo.db'}")
    monkeypatch.setenv("PROMO_AUDIT_WRITER", "inline")  # no child worker for a server that never starts
    assert main(["serve", "--port", "8123"]) == 0
    assert started["proxy_headers"] is False and started["log_config"] is None and started["port"] == 8123
    assert "promo platform on http://127.0.0.1:8123" in capsys.readouterr().out


def test_the_worker_serves_its_metrics_when_asked(tmp_path: Path, redis_url: str) -> None:
    """Run apart from the API, the background work's metrics (the audit writer's backlog and
    lag, the reconciler's repairs) are served by the worker itself (--metrics-port)."""
    import signal
    import time
    import urllib.request

    from loadtests.harness import free_port

    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "PROMO_JWT_SECRET"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--metrics-port", str(port)],
        cwd=ROOT,
        env={
            **environment,
            "PROMO_VAR_DIR": str(tmp_path / "var"),
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline, text = time.monotonic() + 60, ""
        while time.monotonic() < deadline and worker.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                    text = answer.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert "promo_audit_written_total" in text and "promo_reconciler_repairs_total" in text
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode()
    assert worker.returncode == 0, output
    assert "Traceback" not in output


def test_serve_runs_the_background_work_in_a_child_worker_by_default(
    tmp_path: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_process_state: None,
) -> None:
    """The audit writer in its own interpreter (PROMO_AUDIT_WRITER=process, the default): the API
    workers run none of their own, and the child is stopped (it drains) when the server stops."""
    import uvicorn

    from api import cli

    seen: dict[str, object] = {}

    def run(*_: object, **__: object) -> None:
        seen["api_writer"] = os.environ.get("PROMO_AUDIT_WRITER")

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setenv("PROMO_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'var' / 'promo.db'}")
    # serve sets PROMO_AUDIT_WRITER=off for the API workers: monkeypatch puts the original back
    monkeypatch.setenv("PROMO_AUDIT_WRITER", "process")
    started: list[subprocess.Popen[bytes]] = []
    original = cli._start_worker

    def start() -> subprocess.Popen[bytes]:
        started.append(original())
        return started[-1]

    monkeypatch.setattr(cli, "_start_worker", start)
    assert main(["serve", "--port", "8124"]) == 0
    assert seen["api_writer"] == "off"
    assert len(started) == 1 and started[0].poll() is not None  # stopped with the server
    assert "background worker (audit writer, reconciler, sweeps)" in capsys.readouterr().out
    monkeypatch.setenv("PROMO_AUDIT_WRITER", "thread")
    with pytest.raises(SystemExit, match="PROMO_AUDIT_WRITER must be one of"):
        cli.writer_mode()
