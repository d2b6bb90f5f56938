"""What Redis's appendfsync setting costs the draw path: alternate rounds on one platform.

    python -m loadtests.fsync [--rounds 3] [--seconds 10] [--clients 48]

Starts the platform as real processes (loadtests/stack.py: redis-server with AOF, `promo serve`
with the writer inline), creates a wheel, then alternates rounds of `--seconds` of draws from
`--clients` concurrent clients with `appendfsync everysec` (the default: a crash of the machine
may lose the last second) and `appendfsync always` (Redis fsyncs before it answers: nothing
acknowledged is lost even then), set live with CONFIG SET. Prints draws/s and latency per
setting (medians over the rounds). The AOF lives in a temporary folder: on tmpfs an fsync is
free, so run it where the AOF would live in production (TMPDIR=...).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys

from loadtests.ledger import Api, DrawLoad, wheel
from loadtests.stack import Stack


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def run(rounds: int, seconds: float, clients: int) -> dict[str, list[tuple[float, float, float]]]:
    results: dict[str, list[tuple[float, float, float]]] = {"everysec": [], "always": []}
    with Stack(writer="inline") as stack:
        stack.start_redis()
        stack.start_api()
        api = Api(stack)
        activity_id = await api.create_wheel(wheel(top_stock=10_000_000))
        redis = stack.redis_client()
        for _ in range(rounds):
            for setting in results:
                redis.config_set("appendfsync", setting)
                load = DrawLoad(stack, activity_id, clients=clients, members=2000)
                load.start()
                await asyncio.sleep(seconds)
                ledger = await load.stop()
                await api.drained(activity_id)  # one round's backlog does not slow the next
                rate = len(ledger.acks) / seconds
                p50, p99 = quantile(ledger.latencies, 0.5) * 1000, quantile(ledger.latencies, 0.99) * 1000
                line = f"  appendfsync {setting:8}  {rate:7.0f} draws/s  p50 {p50:5.1f} ms  p99 {p99:5.1f} ms"
                print(line, flush=True)
                results[setting].append((rate, p50, p99))
        redis.close()
        await api.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=48)
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.rounds, args.seconds, args.clients))
    print("\nmedians:")
    for setting, rows in results.items():
        rate, p50, p99 = (statistics.median(column) for column in zip(*rows, strict=True))
        print(f"  appendfsync {setting:8}  {rate:7.0f} draws/s  p50 {p50:5.1f} ms  p99 {p99:5.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
