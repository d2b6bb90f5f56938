"""The stronger durability setting for scarce grants: the embedded redis-server's AOF fsync
policy (PROMO_REDIS_FSYNC=always|everysec)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from activities.config import load_settings
from activities.redis_server import EmbeddedRedis


def test_the_embedded_redis_fsyncs_every_write_when_asked(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis", appendfsync="always")
    server.start()
    try:
        client = redis.Redis(unix_socket_path=str(server.socket), decode_responses=True)
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.close()
    finally:
        server.stop()


def test_the_fsync_policy_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMO_VAR_DIR", str(tmp_path))
    assert load_settings().redis_fsync == "everysec"
    monkeypatch.setenv("PROMO_REDIS_FSYNC", "always")
    assert load_settings().redis_fsync == "always"
    with pytest.raises(ValueError, match="appendfsync"):
        EmbeddedRedis(tmp_path / "redis", appendfsync="never")
