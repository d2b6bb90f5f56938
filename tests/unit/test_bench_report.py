"""The contract of `make bench`'s report lines (issue 17): a `ratio` line per action, and
`redis µs per <action>: N (Mx a trivial EVALSHA)` with the implied ceiling. No server here: the
rounds are made up."""

from __future__ import annotations

import re

from loadtests.bench_redis import RedisCpu, redis_lines
from loadtests.bench_rounds import MIN_MEMBERS, POOL_MARGIN, MemberRounds
from loadtests.bench_wrk import Round, median_redis_us


def _round(requests: int, cpu_s: float, non2xx: int = 0) -> Round:
    return Round(requests, requests / 10, 1.0, 2.0, non2xx, 0, redis_cpu_s=cpu_s)


def test_redis_lines_give_microseconds_the_multiple_and_the_ceiling() -> None:
    cpu = RedisCpu.__new__(RedisCpu)
    cpu.clients, cpu.main_thread, cpu.references = [], True, [4.0, 5.0, 6.0]
    rounds = {"draw": [_round(10_000, 0.5), _round(10_000, 0.6), _round(10_000, 0.4)]}
    lines, summary = redis_lines(cpu, [("draw", "draws", rounds["draw"]), ("help", "helps", [_round(1000, 0.1)])])
    text = "\n".join(lines)
    assert "trivial 2-key EVALSHA" in text and "audit writer runs meanwhile" in text
    assert re.search(r"redis µs per draw: 50\.0 \(10\.0x a trivial EVALSHA\)\s+ceiling ~20,000 draws/s", text)
    assert re.search(r"redis µs per help: 100\.0 \(20\.0x a trivial EVALSHA\)", text)
    assert summary["redis_us_per_draw"] == 50.0 and summary["redis_reference_us"] == 5.0


def test_redis_us_counts_only_answered_requests() -> None:
    assert _round(1000, 0.1, non2xx=500).redis_us == 200.0
    assert median_redis_us([_round(0, 0.1)]) == 0.0


def test_pools_are_sized_to_the_fastest_rate_seen() -> None:
    rounds = MemberRounds("help", "helps", "POST helps", "{}", lambda c: (0, 0))
    assert rounds.needed(10) == MIN_MEMBERS
    rounds.fastest = 15_448
    assert rounds.needed(10) == int(15_448 * 10 * POOL_MARGIN)
