"""make bench-rebuild, assists and reservations: how long each is unavailable after Redis lost its
state (issue 17), on the campaign of loadtests/gen_assist_reservation.py.

    python -m loadtests.bench_rebuild_ar [--members 1000000] [--cold 100]

The database is copied beside a real `promo serve` and its embedded redis-server
(loadtests/stack.py). For each activity the API serves one request (caches warm, the activity
loaded), then Redis is flushed (FLUSHALL) and the bench times the first answer: a help of a cold
helper on a cold open initiative (the initiative, the helper, its device and its address loaded
from SQL first); a reservation of a cold member. Then 100 more of distinct cold members. On the
way it checks that an initiator with an open initiative gets it back, that a friend who helped it
is refused `already_helped`, that a member at its reservation limit before the flush is still
refused and that a reservation made today before the flush replays. Timing is printed, never
asserted (the machine is shared)."""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

import httpx

from assist.service import SHARE
from loadtests.gen_assist_reservation import SPARE, ArCampaign, generate, second_index
from loadtests.gen_campaign import DAYS, HEAVY, TZ
from loadtests.stack import Stack


def _headers(stack: Stack, member: str, key: str | None = None) -> dict[str, str]:
    token = stack.tokens.issue(member, "player", level="gold", ttl_s=3600)
    return {"Authorization": f"Bearer {token}"} | ({"Idempotency-Key": key} if key else {})


def _timed(call: Callable[[], httpx.Response], what: str) -> float:
    started = time.perf_counter()
    response = call()
    took_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 201:
        raise RuntimeError(f"{what}: {response.status_code} {response.text}")
    return took_ms


def _report(what: str, first: float, times: list[float]) -> None:
    print(f"first {what} after FLUSHALL: {first:,.0f} ms (target <= 500 ms)")
    cuts = statistics.quantiles(times, n=100)
    print(
        f"next {len(times)} {what}s of distinct cold members: p50 {statistics.median(times):.1f} ms, "
        f"p99 {cuts[98]:.1f} ms, max {max(times):.1f} ms"
    )


def _assists(client: httpx.Client, stack: Stack, campaign: ArCampaign, cold: int) -> None:
    aid = campaign.assist_id
    with sqlite3.connect(stack.db_path) as db:
        opened = db.execute(
            "SELECT o.initiative_id, o.initiator, (SELECT helper FROM assist_helps h WHERE h.initiative_id = "
            "o.initiative_id LIMIT 1) FROM assist_open o WHERE o.activity_id = ? ORDER BY o.deadline_ms DESC LIMIT ?",
            (aid, cold + 50),
        ).fetchall()
    pairs = []  # (share token, helper) of cold helpers on cold open initiatives, none its own
    for n, (initiative_id, initiator, _) in enumerate(opened):
        helper = f"m{HEAVY + 1_000 + 2 * n + 1}"
        if helper != initiator:
            pairs.append((stack.tokens.seal(f"{aid}-{initiative_id}", SHARE), helper))

    def help_(token: str, helper: str) -> httpx.Response:
        number = int(helper[1:])
        device = {"device_id": f"dev{number}"}
        return client.post(f"/assists/{token}/helps", json=device, headers=_headers(stack, helper))

    warm = pairs.pop()
    _timed(lambda: help_(*warm), "warm-up help")
    stack.redis_client().flushall()
    first = _timed(lambda: help_(*pairs[0]), "first help")
    times = [_timed(partial(help_, *pair), f"help {pair}") for pair in pairs[1 : cold + 1]]
    _report("help", first, times)
    with_help = next(row for row in opened[cold + 2 : -1] if row[2] is not None)  # not helped since
    token = stack.tokens.seal(f"{aid}-{with_help[0]}", SHARE)
    again = client.post(f"/activities/{aid}/initiatives", headers=_headers(stack, with_help[1]))
    print(f"initiator of an open initiative starts again: {again.status_code}, the same: "
          f"{again.json().get('initiative_id') == with_help[0]}")  # fmt: skip
    twice = help_(token, str(with_help[2]))
    print(f"friend who helped it before the flush helps again: {twice.status_code} {twice.json().get('code')}")


def _reservations(client: httpx.Client, stack: Stack, campaign: ArCampaign, cold: int) -> None:
    aid = campaign.reservation_id
    today = datetime.now(TZ).date()
    dates = [today - timedelta(days=DAYS - 1 - i) for i in range(SPARE + 1)]

    def reserve(member: str, day: str, key: str | None = None) -> httpx.Response:
        headers = _headers(stack, member, key or str(uuid.uuid4()))
        return client.post(f"/activities/{aid}/reservations", json={"date": day}, headers=headers)

    spare = dates[SPARE].isoformat()
    _timed(lambda: reserve(f"m{campaign.members - 1}", spare), "warm-up reservation")
    stack.redis_client().flushall()
    first = _timed(lambda: reserve(f"m{HEAVY + 5}", spare), "first reservation")
    times = [_timed(partial(reserve, f"m{HEAVY + 100 + i}", spare), "reservation") for i in range(cold)]
    _report("reservation", first, times)
    limited = reserve("m1", spare)
    print(f"member at its limit (2 held) before the flush: {limited.status_code} {limited.json().get('code')}")
    replay = reserve("m2", dates[second_index(2)].isoformat(), key="rk-m2").json()
    print(f"replay of a reservation made today before the flush: replayed {replay.get('replayed')}")


def run(campaign: ArCampaign, cold: int = 100) -> None:
    with Stack() as stack:
        started = time.monotonic()
        shutil.copyfile(campaign.path, stack.db_path)
        print(f"copied the database in {time.monotonic() - started:.1f} s")
        stack.start_redis()
        stack.start_api()
        with httpx.Client(base_url=stack.base_url, timeout=60) as client:
            _assists(client, stack, campaign, cold)
            _reservations(client, stack, campaign, cold)
            operator = {"Authorization": f"Bearer {stack.tokens.issue('bench-ops', 'operator', ttl_s=3600)}"}
            for activity_id in (campaign.assist_id, campaign.reservation_id):
                started = time.perf_counter()
                answer = client.get(f"/operator/activities/{activity_id}/counters", headers=operator)
                took_ms = (time.perf_counter() - started) * 1000
                print(f"operator counters of activity {activity_id}: {answer.status_code} in {took_ms:,.0f} ms")


def describe(campaign: ArCampaign) -> str:
    how = f"generated in {campaign.seconds:.1f} s" if campaign.seconds else f"cached: {campaign.path}"
    return (
        f"assist and reservation campaign: {campaign.members:,} members, {campaign.initiatives:,} initiatives, "
        f"{campaign.helps:,} helps, {campaign.reservations:,} reservations; SQLite {campaign.megabytes:,.0f} MB "
        f"({how})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--cold", type=int, default=100, help="distinct cold members after the first")
    args = parser.parse_args()
    campaign = generate(args.members)
    print(describe(campaign))
    run(campaign, args.cold)


if __name__ == "__main__":
    main()
