"""Every member action carries `channel` and `source` end to end (body -> Lua XADD -> audit row
-> SQL column -> rollups by channel), not only draws; a help also its share parent, which gives
the assist report its share tree."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from analytics import db as adb
from assist.db import assist_helps, assist_initiatives
from checkin.db import checkins
from reservation.db import reservation_changes, reservations
from tests.conftest import Env, assist_spec, checkin_spec, reservation_spec

TZ = ZoneInfo("Asia/Shanghai")


async def _rows(env: Env, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    async with env.platform.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(query)).all()]


async def _by_channel(env: Env, activity_id: int, column: str) -> dict[tuple[str, str], int]:
    t = adb.daily
    query = sa.select(t.c.channel, t.c.source, sa.func.sum(t.c[column])).where(
        t.c.activity_id == activity_id, t.c.channel != "*"
    )
    query = query.group_by(t.c.channel, t.c.source)
    return {(ch, src): int(n) for ch, src, n in await _rows(env, query) if n}


async def test_signins_and_makeups_carry_their_channel(env: Env) -> None:
    free_makeups = {"makeup": {"per_cycle": 2, "max_days_back": 3, "points_cost": 0}}
    aid = (await env.create(checkin_spec(checkin=free_makeups)))["id"]
    env.clock.set(datetime(2026, 6, 3, 12, tzinfo=TZ))  # a Wednesday
    post = env.client.post
    signin = await post(
        f"/activities/{aid}/signins", json={"channel": "mini_program", "source": "wx-1"}, headers=env.player("a")
    )
    assert signin.status_code in (200, 201), signin.text
    assert (await env.sign_in(aid, user="b")).status_code in (200, 201)  # no body: not sent
    makeup = await post(
        f"/activities/{aid}/makeups", json={"day": "2026-06-02", "channel": "app"}, headers=env.player("a")
    )
    assert makeup.status_code in (200, 201), makeup.text
    bad = await post(f"/activities/{aid}/signins", json={"channel": "tv"}, headers=env.player("c"))
    assert (bad.status_code, bad.json()["code"], bad.json()["details"]["field"]) == (422, "invalid_body", "channel")
    bad = await post(f"/activities/{aid}/signins", json={"source": "x" * 65}, headers=env.player("c"))
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_body")
    await env.platform.audit_writer.drain()
    stored = await _rows(
        env, sa.select(checkins.c.user_id, checkins.c.kind, checkins.c.channel, checkins.c.source).order_by("id")
    )
    assert sorted(stored) == [
        ("a", "makeup", "app", None),
        ("a", "signin", "mini_program", "wx-1"),
        ("b", "signin", None, None),
    ]
    assert await _by_channel(env, aid, "signins") == {("mini_program", "wx-1"): 1, ("other", ""): 1}
    assert await _by_channel(env, aid, "makeups") == {("app", ""): 1}


async def test_starts_and_helps_carry_channel_and_share_parent(env: Env) -> None:
    aid = (await env.create(assist_spec("collect", assist={"helps_needed": 5})))["id"]
    post = env.client.post
    started = await post(
        f"/activities/{aid}/initiatives", json={"channel": "h5", "source": "poster"}, headers=env.player("u1")
    )
    assert started.status_code in (200, 201), started.text
    token = started.json()["share_token"]

    async def help_(user: str, **body: str) -> None:
        response = await post(f"/assists/{token}/helps", json=body, headers=env.player(user))
        assert response.status_code in (200, 201), response.text

    await help_("f1", channel="mini_program", via="u1")  # depth 1: the initiator's link
    await help_("f2", via="f1")  # depth 2: f1 passed it on
    await help_("f3", via="f2", channel="app", source="group")  # depth 3
    await help_("f4", via="nobody")  # not a sharer of this initiative: no parent, depth 1
    bad = await post(f"/assists/{token}/helps", json={"channel": "fax"}, headers=env.player("f5"))
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_body")
    await env.platform.audit_writer.drain()
    t = assist_helps
    helps = await _rows(env, sa.select(t.c.helper, t.c.channel, t.c.source, t.c.parent).order_by(t.c.number))
    assert helps == [
        ("f1", "mini_program", None, "u1"),
        ("f2", None, None, "f1"),
        ("f3", "app", "group", "f2"),
        ("f4", None, None, None),
    ]
    i = assist_initiatives
    assert await _rows(env, sa.select(i.c.channel, i.c.source)) == [("h5", "poster")]
    assert await _by_channel(env, aid, "helps") == {("mini_program", ""): 1, ("other", ""): 2, ("app", "group"): 1}
    response = await env.client.get(f"/operator/activities/{aid}/reports/assist", headers=env.operator())
    report = response.json()
    assert report["share_depths"] == [{"depth": 1, "helps": 2}, {"depth": 2, "helps": 1}, {"depth": 3, "helps": 1}]
    totals = report["totals"]
    assert (totals["share_tree_depth"], totals["reshared_helps"], totals["mean_share_depth"]) == (3, 2, 1.75)


async def test_reservations_cancellations_redemptions_carry_their_channel(env: Env) -> None:
    aid = (await env.create(reservation_spec()))["id"]
    env.clock.set(datetime(2026, 5, 31, 12, tzinfo=TZ))
    post = env.client.post
    codes = []
    for user, body in (("u1", {"channel": "app", "source": "push-7"}), ("u2", {}), ("u3", {"channel": "h5"})):
        headers = {**env.player(user), "Idempotency-Key": f"k-{user}"}
        response = await post(
            f"/activities/{aid}/reservations", json={"date": "2026-06-03", "store_id": "S1", **body}, headers=headers
        )
        assert response.status_code == 201, response.text
        codes.append(response.json()["code"])
    bad = await post(
        f"/activities/{aid}/reservations",
        json={"date": "2026-06-03", "store_id": "S1", "channel": "tv"},
        headers={**env.player("u4"), "Idempotency-Key": "k-u4"},
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_body")
    cancelled = await post(
        f"/activities/{aid}/reservations/{codes[2]}/cancel", json={"channel": "mini_program"}, headers=env.player("u3")
    )
    assert cancelled.status_code == 200, cancelled.text
    env.clock.set(datetime(2026, 6, 3, 11, tzinfo=TZ))
    assert (await env.redeem(aid, code=codes[0], channel="app")).status_code == 200
    await env.platform.audit_writer.drain()
    r = reservations
    assert sorted(await _rows(env, sa.select(r.c.user_id, r.c.channel, r.c.source))) == [
        ("u1", "app", "push-7"),
        ("u2", None, None),
        ("u3", "h5", None),
    ]
    c = reservation_changes
    assert sorted(await _rows(env, sa.select(c.c.status, c.c.channel))) == [
        ("cancelled", "mini_program"),
        ("redeemed", "app"),
    ]
    assert await _by_channel(env, aid, "reservations") == {("app", "push-7"): 1, ("other", ""): 1, ("h5", ""): 1}
    assert await _by_channel(env, aid, "cancellations") == {("mini_program", ""): 1}
    assert await _by_channel(env, aid, "redemptions") == {("app", ""): 1}


async def test_an_invite_reported_by_the_host_carries_the_invitee_channel(env: Env) -> None:
    aid = (await env.create(assist_spec("invite")))["id"]
    token = (await env.start(aid, user="u1")).json()["share_token"]
    event = {"share_token": token, "invitee_id": "new1", "action": "registration", "channel": "app", "source": "sms"}
    counted = await env.client.post(f"/operator/activities/{aid}/invites", json=event, headers=env.operator())
    assert counted.status_code == 200 and counted.json()["counted"] is True, counted.text
    await env.platform.audit_writer.drain()
    t = assist_helps
    assert await _rows(env, sa.select(t.c.helper, t.c.kind, t.c.channel, t.c.source)) == [
        ("new1", "invite", "app", "sms")
    ]
