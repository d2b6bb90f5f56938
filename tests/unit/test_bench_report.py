"""The contract of `make bench`'s report lines (issue 17): a `ratio` line per action, and
`redis µs per <action>: N (Mx a trivial EVALSHA)` with the implied ceiling. No server here: the
rounds are made up."""

from __future__ import annotations

import re
from pathlib import Path

from loadtests.bench import batch_lines
from loadtests.bench_redis import RedisCpu, redis_lines
from loadtests.bench_rounds import MIN_MEMBERS, RATE_MARGIN, SPREAD, MemberPool, MemberRounds, spread
from loadtests.bench_wrk import Round, median_redis_us, members_script


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


def test_capacity_follows_the_fastest_rate_seen_health_included() -> None:
    rounds = MemberRounds("help", "helps", "POST helps", "{}", lambda c: (0, 0))
    assert rounds.capacity(10, 0.0) == MIN_MEMBERS
    assert rounds.capacity(10, 10_000.0) == int(10_000 * 10 * RATE_MARGIN)
    rounds.fastest = 15_448  # the 16-core host's reservations (issue 17)
    assert rounds.capacity(10, 10_000.0) == int(15_448 * 10 * RATE_MARGIN)


def test_a_member_acts_at_most_spread_times_and_the_pool_grows_for_the_rest() -> None:
    pool = MemberPool.__new__(MemberPool)
    pool.size = 20_000
    assert spread(10_000, pool) == 1
    assert spread(150_000, pool) == 8
    assert spread(10**7, pool) == SPREAD


def test_the_members_script_walks_new_member_target_pairs(tmp_path: Path) -> None:
    script = members_script(tmp_path, "x", tmp_path / "tokens.txt", ["/a", "/b"], "{}", 2).read_text()
    assert 'local paths = {"/a","/b"}' in script
    assert "local cycle = math.floor(counter / mine)" in script
    assert "paths[((member + cycle) % #paths) + 1]" in script and "BENCH" in script


def test_batch_lines_give_the_gain_in_draws_and_in_redis_cpu() -> None:
    batched = [_round(30_000, 0.6), _round(32_000, 0.64)]  # 20 µs a draw
    pipelined = [_round(20_000, 0.6), _round(20_000, 0.6)]  # 30 µs a draw
    lines, summary = batch_lines(batched, pipelined)
    assert "POST draws (PROMO_BATCH=off)" in lines[0]
    assert re.search(
        r"batching gain: 1\.55x draws/s; redis µs per draw 20\.0 batched vs 30\.0 pipelined \(0\.67x\)", lines[1]
    )
    assert summary["batching_gain"] == 3100 / 2000 and summary["redis_us_per_draw_pipelined"] == 30.0
