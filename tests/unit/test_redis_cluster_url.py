"""How the cluster settings are read: REDIS_URL=redis+cluster://..., REDIS_CLUSTER_NODES."""

from __future__ import annotations

import pytest

from activities.config import redis_url
from activities.redis_cluster import cluster_url, is_cluster_url, parse_cluster_url


def test_a_cluster_url_names_its_nodes_and_credentials() -> None:
    nodes, options = parse_cluster_url("rediss+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2,[::1]:7002")
    assert nodes == [("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002)]
    assert options == {"ssl": True, "username": "app", "password": "s@cret"}
    assert parse_cluster_url("redis+cluster://h:1")[1] == {"ssl": False}


def test_only_cluster_schemes_are_cluster_urls() -> None:
    assert is_cluster_url("redis+cluster://h:1")
    assert not is_cluster_url("redis://h:1") and not is_cluster_url("unix:///tmp/r.sock")
    with pytest.raises(ValueError):
        parse_cluster_url("redis://h:1")
    with pytest.raises(ValueError):
        parse_cluster_url("redis+cluster://:7000")


def test_redis_cluster_nodes_become_a_cluster_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_CLUSTER_NODES", " h1:7000, h2:7001 ")
    assert redis_url() == "redis+cluster://h1:7000,h2:7001"
    monkeypatch.setenv("REDIS_URL", "redis://single:6379")  # REDIS_URL wins
    assert redis_url() == "redis://single:6379"
    monkeypatch.delenv("REDIS_URL")
    monkeypatch.delenv("REDIS_CLUSTER_NODES")
    assert redis_url() is None
    with pytest.raises(ValueError):
        cluster_url(" , ")
