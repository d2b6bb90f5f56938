"""mark.lua and checkin/streak.py agree: the same random histories through both, the real script
on real Redis, give the same marks, streaks, counts and rewards; and the script's refusals."""

from __future__ import annotations

import json
import random
from datetime import date

from activities.keys import ActivityKeys
from checkin.model import script_terms
from checkin.service import CheckinService
from checkin.store import MarkRequest, MemberCycle
from checkin.streak import Period, Thresholds, apply_mark, made_up_count
from tests.conftest import Env

START = date(2026, 6, 1)


async def load_state(env: Env, activity_id: int, table: Thresholds, makeups: int, as_json: bool = False) -> None:
    """The state as a load writes it (`terms`), or as one before `terms` existed wrote it (the
    rules as JSON, which the script still reads)."""
    rules = {"d": -1 if table.daily is None else table.daily, "s": table.streak, "c": table.cumulative, "m": makeups}
    state = ActivityKeys(activity_id).state
    await env.platform.redis.hset(state, mapping={"status": "live", "starts_at_ms": 0, "ends_at_ms": 2**50})
    if as_json:
        await env.platform.redis.hset(state, "rules", json.dumps(rules))
    else:
        await env.platform.redis.hset(state, "terms", script_terms(table, makeups))


def request(activity_id: int, user: str, period: Period, kind: str, day: int, today: int, mark_id: str) -> MarkRequest:
    return MarkRequest(
        activity_id=activity_id,
        user_id=user,
        mark_id=mark_id,
        now_ms=1_000 + today,
        kind=kind,  # type: ignore[arg-type]
        cycle=period,
        day=period.day(day),
        today=period.day(today),
        cycle_ttl_ms=60_000,
        day_ttl_ms=60_000,
    )


def random_table(rng: random.Random, length: int) -> Thresholds:
    days = sorted(rng.sample(range(1, length + 1), k=min(length, rng.randint(0, 4))))
    counts = sorted(rng.sample(range(1, length + 1), k=min(length, rng.randint(0, 3))))
    daily = rng.choice([None, 0])
    first = 0 if daily is None else 1
    return Thresholds(
        daily=daily,
        streak=tuple((d, first + i) for i, d in enumerate(days)),
        cumulative=tuple((c, first + len(days) + i) for i, c in enumerate(counts)),
    )


async def test_script_agrees_with_python_on_random_histories(env: Env) -> None:
    store = env.platform.service(CheckinService).store
    rng = random.Random(20261125)
    for case in range(120):
        activity_id = 1000 + case
        length = rng.choice([7, 28, 30, 31, rng.randint(2, 40)])
        table = random_table(rng, length)
        await load_state(env, activity_id, table, makeups=length, as_json=case % 4 == 0)
        period = Period(START, length)
        marks = "0" * length
        for today in range(length):
            planned = [("signin", today)] if rng.random() < 0.6 else []
            free = [d for d in range(today) if marks[d] == "0"]
            planned += [("makeup", d) for d in rng.sample(free, k=min(len(free), rng.randint(0, 2)))]
            rng.shuffle(planned)
            for kind, day in planned:
                expected = apply_mark(marks, day, today, kind, table)  # type: ignore[arg-type]
                reply = await store.mark(request(activity_id, "m", period, kind, day, today, f"x{case}-{day}"))
                assert reply.kind == "ok" and reply.record is not None, (case, reply)
                got = (reply.record.streak, reply.record.cumulative, reply.record.rewards)
                assert got == (expected.streak, expected.cumulative, expected.rewards), (case, marks, kind, day, today)
                assert reply.made_up == made_up_count(expected.marks)
                marks = expected.marks
        member = await store.member_cycle(activity_id, period, "m")
        assert isinstance(member, MemberCycle) and member.marks == marks


async def test_script_refusals_and_replays(env: Env) -> None:
    store = env.platform.service(CheckinService).store
    table = Thresholds(daily=0, streak=((2, 1),))
    await load_state(env, 1, table, makeups=1)
    week = Period(START, 7)
    first = await store.mark(request(1, "m", week, "signin", 3, 3, "a"))
    assert first.kind == "ok"
    again = await store.mark(request(1, "m", week, "signin", 3, 3, "b"))
    assert again.kind == "replay" and again.record == first.record  # the first sign-in, not "b"
    quote = await store.mark(request(1, "m", week, "quote", 2, 3, "c"))
    assert quote.kind == "quoted"
    made_up = await store.mark(request(1, "m", week, "makeup", 2, 3, "c"))
    assert made_up.kind == "ok" and made_up.record is not None and made_up.record.rewards == [1]
    assert (await store.mark(request(1, "m", week, "quote", 2, 3, "d"))).kind == "replay"  # made up already
    refused = await store.mark(request(1, "m", week, "makeup", 3, 3, "e"))
    assert (refused.kind, refused.code) == ("refused", "day_already_signed")  # signed in, not made up
    limit = await store.mark(request(1, "m", week, "quote", 1, 3, "f"))
    assert (limit.kind, limit.code) == ("refused", "makeup_limit")
    await load_state(env, 2, table, makeups=0)
    disabled = await store.mark(request(2, "m", week, "makeup", 1, 3, "g"))
    assert (disabled.kind, disabled.code) == ("refused", "makeup_disabled")
    assert (await store.mark(request(3, "m", week, "signin", 3, 3, "h"))).kind == "not_loaded"
    await env.platform.redis.hset(ActivityKeys(1).state, "status", "paused")
    paused = await store.mark(request(1, "n", week, "signin", 3, 3, "i"))
    assert (paused.kind, paused.code, paused.detail) == ("refused", "activity_not_live", "paused")
