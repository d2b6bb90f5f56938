"""How long the pre-launch simulator takes: 1,000 campaigns of 100,000 members by default.

A 30-day wheel (a top prize that runs out, a capped coupon with a daily stock, points, the
consolation), 3 draws a member a day at most, default traffic. Prints the wall time of each
round and their median, then the report of the last round.

    python -m loadtests.bench_simulate [--runs 1000] [--members 100000] [--days 30] [--rounds 3] [--paced]

--paced: the phone released 2 a day (no rollover), the coupon 300 an hour (rollover) and a
budget of 600,000 CNY: the hour-by-hour path (lottery/simulate_paced.py).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from lottery.pacing import ReleasePlan
from lottery.simulate import SimConfig, SimPrize, Traffic, simulate
from lottery.simulate_report import render, summarise


def bench_config(days: int) -> SimConfig:
    tz = ZoneInfo("Asia/Shanghai")
    start = datetime(2026, 6, 1, 10, tzinfo=tz)
    return SimConfig(
        prizes=(
            SimPrize(1, "Phone", 10, 50, None, None, 4999.0, 0, False),
            SimPrize(2, "Coupon 10 CNY", 290, 100_000, 5000, 1, 10.0, 0, False),
            SimPrize(3, "50 points", 200, 10**6, None, None, 0.0, 50, False),
            SimPrize(4, "Thanks", 500, None, None, None, 0.0, 0, True),
        ),
        per_user_daily=3,
        per_user_total=None,
        global_daily=None,
        points_cost=10,
        starts_at=start,
        ends_at=start.replace(hour=0) + timedelta(days=days),
        timezone="Asia/Shanghai",
    )


def paced(config: SimConfig) -> SimConfig:
    """The bench's wheel with release plans on the phone and the coupon and a budget."""
    phone, coupon, *rest = config.prizes
    prizes = (
        replace(phone, release=ReleasePlan(per="day", units=2, rollover=False)),
        replace(coupon, release=ReleasePlan(per="hour", units=300, rollover=True)),
        *rest,
    )
    return replace(config, prizes=prizes, budget_cny=Decimal(600_000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--paced", action="store_true", help="release plans and a budget")
    args = parser.parse_args()
    config = paced(bench_config(args.days)) if args.paced else bench_config(args.days)
    times = []
    for round_ in range(args.rounds):
        began = time.perf_counter()
        runs = simulate(config, Traffic(runs=args.runs, members=args.members, seed=round_))
        result = summarise(runs)
        times.append(time.perf_counter() - began)
        print(f"round {round_ + 1}: {times[-1]:.2f} s", flush=True)
    print(
        f"simulator: {args.runs} campaigns x {args.members:,} members x {args.days} days: "
        f"median {statistics.median(times):.2f} s over {args.rounds} rounds ({result.method})"
    )
    print(render(result, "the bench wheel"))


if __name__ == "__main__":
    main()
