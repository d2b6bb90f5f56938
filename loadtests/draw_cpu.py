"""Redis CPU per draw, pipelined versus batched (issue 17), on a standalone redis-server.

The draws go through the platform's own path (lottery/store.py DrawStore and the
activities/scripts.py batcher) against a lottery state shaped like the bench's wheel, `--tick`
draws of many members ready in each event-loop tick (as under load). Each draw is either its own
EVALSHA in the tick's pipeline ("pipelined", PROMO_BATCH=off) or grouped with the tick's others
into EVALSHAs of up to N draws ("batched N"). Rounds alternate; the median Redis CPU per draw
(INFO cpu, main thread) is printed beside a trivial 2-key EVALSHA pipelined by 100, measured on
the same Redis (loadtests/bench_redis.py).

    python -m loadtests.draw_cpu [--draws 20000] [--tick 64] [--groups 1,8,32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

import redis
import redis.asyncio as aioredis

from activities.redis_server import redis_server_binary
from activities.scripts import ScriptBatcher
from loadtests.bench_redis import RedisCpu
from lottery.keys import LotteryKeys
from lottery.snapshot import compact_fields
from lottery.store import DrawRequest, DrawStore

ACTIVITY = 1
MEMBERS = 1000


def wheel_state() -> dict[Any, Any]:
    """The state hash of the bench's wheel (loadtests/bench_rounds.py wheel_for_bench)."""
    prizes: list[dict[str, int | str]] = [
        {"id": 1, "w": 50, "limited": 1, "daily": 0, "cap": 0, "c": 0, "u": 0, "p": 0, "v_fen": 99900},
        {"id": 2, "w": 300, "limited": 1, "daily": 0, "cap": 0, "c": 0, "u": 0, "p": 0, "v_fen": 500},
        {"id": 3, "w": 650, "limited": 0, "daily": 0, "cap": 0, "c": 1, "u": 0, "p": 0, "v_fen": 0},
    ]
    return compact_fields(prizes) | {
        "status": "live",
        "starts_at_ms": 0,
        "ends_at_ms": 10**14,
        "per_user_daily": 0,
        "per_user_total": 0,
        "global_daily": 0,
        "prizes": json.dumps(prizes, separators=(",", ":")),
        "pity_after": 0,
        "lazy": "0",
        "config_version": 1,
        "next_versions": "[]",
        "budget_fen": -1,
        "draws_total": 0,
    }


async def draws(url: str, count: int, tick: int, group: int) -> None:
    """`count` draws, `tick` of them at once, through a batcher grouping up to `group` (1: none)."""
    client = aioredis.Redis.from_url(url, decode_responses=True)
    store = DrawStore(ScriptBatcher(client, group=group > 1, max_group=group))
    now_ms = int(time.time() * 1000)
    day = datetime.now(UTC).date()
    run = secrets.token_hex(4)

    def request(n: int) -> DrawRequest:
        return DrawRequest(
            activity_id=ACTIVITY,
            user_id=f"m{n % MEMBERS}",
            draw_id=f"{run}-{n}",
            rand=secrets.randbits(32),
            now_ms=now_ms,
            day=day,
            day_ttl_ms=86_400_000,
            fingerprint="f",
            idempotency_key=f"{run}-{n}",
            idempotency_ttl_s=86_400,
        )

    try:
        for start in range(0, count, tick):
            replies = await asyncio.gather(*(store.draw(request(n)) for n in range(start, start + tick)))
            assert all(reply.kind == "ok" for reply in replies), replies[0]
            await client.xtrim(LotteryKeys(ACTIVITY).events, maxlen=0)  # the writer would
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=20_000)
    parser.add_argument("--tick", type=int, default=64, help="draws ready in one event-loop tick")
    parser.add_argument("--groups", default="1,8,32", help="batch sizes (1: pipelined, one EVALSHA a draw)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    groups = [int(g) for g in args.groups.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        socket = f"{folder}/redis.sock"
        server = subprocess.Popen(
            [redis_server_binary(), "--port", "0", "--unixsocket", socket, "--save", "", "--appendonly", "no"],
            cwd=folder,
            stdout=subprocess.DEVNULL,
        )
        try:
            sync = redis.Redis(unix_socket_path=socket, decode_responses=True)
            for _ in range(100):
                try:
                    sync.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            keys = LotteryKeys(ACTIVITY)
            sync.hset(keys.state, mapping=wheel_state())
            sync.hset(keys.stock, mapping={"1": 10**12, "2": 10**12})
            cpu = RedisCpu([sync])
            per_draw: dict[int, list[float]] = {g: [] for g in groups}
            for _ in range(args.rounds):
                cpu.reference()
                for group in groups:
                    before = cpu.seconds()
                    asyncio.run(draws(f"unix://{socket}", args.draws, args.tick, group))
                    per_draw[group].append((cpu.seconds() - before) * 1e6 / args.draws)
            reference = cpu.reference_us
            print(
                f"Redis CPU per draw ({cpu.source}), {args.draws} draws a round, {args.tick} a tick, "
                f"median of {args.rounds} rounds; trivial 2-key EVALSHA: {reference:.2f} µs"
            )
            base = statistics.median(per_draw[groups[0]])
            for group in groups:
                us = statistics.median(per_draw[group])
                label = "pipelined (1 a call)" if group == 1 else f"batched by up to {group}"
                print(f"  {label:24s} {us:6.2f} µs ({us / reference:4.1f}x trivial, {us / base:4.2f}x the first)")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
