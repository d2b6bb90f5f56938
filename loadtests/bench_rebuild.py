"""make bench-rebuild: how long a lottery is unavailable after Redis lost its state (issue 17).

    python -m loadtests.bench_rebuild [--members 1000000] [--draws 5000000]

A generated campaign (loadtests/gen_campaign.py, cached in var/bench-rebuild/) is copied beside a
real `promo serve` and its embedded redis-server (loadtests/stack.py). The API serves one draw
(its caches warm, the activity loaded), then Redis is flushed (FLUSHALL) and the bench times the
first draw's answer, then 100 draws of distinct members Redis has not seen since the flush
(each loads its member from SQL first). It checks on the way that a member at its daily limit
before the flush is still refused after it and that a replay of a draw made before the flush
answers that draw. Then the same for a monthly sign-in of the same members (their marks of the
month so far in SQL): the first sign-in after another FLUSHALL, 100 more of cold members, and a
member who signed in today before it is answered its sign-in, replayed. Timing is printed, never
asserted (the machine is shared). Assists and reservations first (loadtests/bench_rebuild_ar.py;
`--only lottery` or `--only assist-reservation` for one part)."""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import time
import uuid
from datetime import datetime

import httpx

from loadtests.gen_campaign import HEAVY, TZ, Campaign, generate
from loadtests.stack import Stack


def _draw(client: httpx.Client, stack: Stack, activity_id: int, member: str, key: str | None = None) -> httpx.Response:
    token = stack.tokens.issue(member, "player", level="gold", ttl_s=3600)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key or str(uuid.uuid4())}
    return client.post(f"/activities/{activity_id}/draws", headers=headers)


def _timed(client: httpx.Client, stack: Stack, activity_id: int, member: str) -> float:
    started = time.perf_counter()
    response = _draw(client, stack, activity_id, member)
    took_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 201:
        raise RuntimeError(f"draw of {member}: {response.status_code} {response.text}")
    return took_ms


def _sign_in(client: httpx.Client, stack: Stack, activity_id: int, member: str) -> tuple[float, httpx.Response]:
    token = stack.tokens.issue(member, "player", level="gold", ttl_s=3600)
    started = time.perf_counter()
    response = client.post(f"/activities/{activity_id}/signins", headers={"Authorization": f"Bearer {token}"})
    took_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 201:
        raise RuntimeError(f"sign-in of {member}: {response.status_code} {response.text}")
    return took_ms, response


def _signins(client: httpx.Client, stack: Stack, campaign: Campaign, cold_members: int) -> None:
    """The same for the monthly sign-in: a member's first sign-in after the flush loads its marks."""
    aid = campaign.signin_id
    _sign_in(client, stack, aid, f"m{campaign.members - 2}")
    stack.redis_client().flushall()
    first, _ = _sign_in(client, stack, aid, f"m{HEAVY + 7}")
    print(f"first sign-in after FLUSHALL: {first:,.0f} ms (target <= 500 ms)")
    times = [_sign_in(client, stack, aid, f"m{HEAVY + 300 + i}")[0] for i in range(cold_members)]
    cuts = statistics.quantiles(times, n=100)
    print(
        f"next {cold_members} sign-ins of distinct cold members: p50 {statistics.median(times):.1f} ms, "
        f"p99 {cuts[98]:.1f} ms, max {max(times):.1f} ms"
    )
    _, again = _sign_in(client, stack, aid, "m3")
    print(f"member who signed in today before the flush: replayed {again.json()['replayed']}")


def run(campaign: Campaign, cold_members: int = 100) -> None:
    today = datetime.now(TZ).date().isoformat()
    with Stack() as stack:
        started = time.monotonic()
        shutil.copyfile(campaign.path, stack.db_path)
        print(f"copied the database in {time.monotonic() - started:.1f} s")
        stack.start_redis()
        stack.start_api()
        with httpx.Client(base_url=stack.base_url, timeout=60) as client:
            aid = campaign.activity_id
            first = _timed(client, stack, aid, f"m{campaign.members - 1}")
            print(f"first draw on an empty Redis, server just started: {first:,.0f} ms")
            stack.redis_client().flushall()
            after_flush = _timed(client, stack, aid, f"m{HEAVY + 5}")
            print(f"first draw after FLUSHALL: {after_flush:,.0f} ms (target <= 500 ms)")
            times = [_timed(client, stack, aid, f"m{HEAVY + 100 + i}") for i in range(cold_members)]
            cuts = statistics.quantiles(times, n=100)
            print(
                f"next {cold_members} draws of distinct cold members: p50 {statistics.median(times):.1f} ms, "
                f"p99 {cuts[98]:.1f} ms, max {max(times):.1f} ms"
            )
            limited = _draw(client, stack, aid, "m1")
            code = limited.json().get("code") if limited.status_code != 201 else None
            print(f"member at its daily limit before the flush: {limited.status_code} {code}")
            with sqlite3.connect(stack.db_path) as db:
                row = db.execute(
                    "SELECT idempotency_key, draw_id FROM draws WHERE activity_id = ? AND user_id = 'm2' AND day = ?"
                    " AND kind = 'draw' LIMIT 1",
                    (aid, today),
                ).fetchone()
            if row is not None:
                replay = _draw(client, stack, aid, "m2", key=row[0]).json()
                same = replay.get("replayed") is True and replay.get("draw_id") == row[1]
                print(f"replay of a draw made before the flush: {'the same draw, replayed' if same else replay}")
            if campaign.signin_id:
                _signins(client, stack, campaign, cold_members)
            operator = {"Authorization": f"Bearer {stack.tokens.issue('bench-ops', 'operator', ttl_s=3600)}"}
            for activity_id in (aid, campaign.signin_id):
                started = time.perf_counter()
                answer = client.get(f"/operator/activities/{activity_id}/counters", headers=operator)
                took_ms = (time.perf_counter() - started) * 1000
                print(f"operator counters of activity {activity_id}: {answer.status_code} in {took_ms:,.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--draws", type=int, default=5_000_000)
    parser.add_argument("--cold", type=int, default=100, help="distinct cold members drawing after the first")
    parser.add_argument("--only", choices=("all", "lottery", "assist-reservation"), default="all")
    args = parser.parse_args()
    if args.only != "lottery":  # assists and reservations (loadtests/bench_rebuild_ar.py)
        from loadtests import bench_rebuild_ar, gen_assist_reservation

        more = gen_assist_reservation.generate(args.members)
        print(bench_rebuild_ar.describe(more))
        bench_rebuild_ar.run(more, args.cold)
        if args.only != "all":
            return
    campaign = generate(args.members, args.draws)
    how = f"generated in {campaign.seconds:.1f} s" if campaign.seconds else f"cached: {campaign.path}"
    print(
        f"campaign: {campaign.members:,} members, {campaign.draws:,} draws and grants, "
        f"{campaign.chance_rows:,} chance rows; a monthly sign-in with {campaign.marks:,} sign-ins this month; "
        f"SQLite {campaign.megabytes:,.0f} MB ({how})"
    )
    run(campaign, args.cold)


if __name__ == "__main__":
    main()
