"""tests/unit holds the pure rules: no Redis, no SQL, no server. Asking for Redis here fails the test
(the shared fixtures in tests/conftest.py still apply; `env` needs `redis_url`, so it fails too)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def redis_url() -> str:
    pytest.fail("a unit test asked for Redis: move it to tests/integration (tests/unit is pure rules only)")
