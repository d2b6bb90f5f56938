"""The app as `promo serve` runs it: the platform built in the lifespan, the audit writer inline."""

from __future__ import annotations

import asyncio
from pathlib import Path

from litestar.testing import AsyncTestClient

from activities.auth import Tokens
from activities.redis_server import connect
from api.app import create_app
from tests.conftest import fresh_database, make_settings, wheel


async def test_inline_audit_writer_persists_draws(tmp_path: Path, redis_url: str) -> None:
    settings = make_settings(tmp_path, redis_url, audit_writer=True, database_url=await fresh_database(tmp_path))
    redis = connect(redis_url)
    await redis.flushall()  # a fresh SQL database starts at activity 1 again: so must Redis
    await redis.aclose()
    tokens = Tokens(settings.jwt_secret)
    operator = {"Authorization": f"Bearer {tokens.issue('ops', 'operator')}"}
    player = {"Authorization": f"Bearer {tokens.issue('u1', 'player')}"}
    spec = wheel(starts_at="2026-01-01T00:00:00+08:00", ends_at="2099-01-01T00:00:00+08:00")
    async with AsyncTestClient(app=create_app(settings=settings)) as client:
        created = (await client.post("/operator/activities", json=spec, headers=operator)).json()
        await client.post(f"/operator/activities/{created['id']}/publish", headers=operator)
        drawn = await client.post(f"/activities/{created['id']}/draws", headers={**player, "Idempotency-Key": "inline"})
        assert drawn.status_code == 201, drawn.text
        # No drain here: the writer inside the server gets it to SQL (poll, bounded).
        for _ in range(200):
            mine = (await client.get(f"/me/draws?activity={created['id']}", headers=player)).json()["items"]
            if mine:
                break
            await asyncio.sleep(0.05)
        assert [d["draw_id"] for d in mine] == [drawn.json()["draw_id"]]
