"""`make bench`: throughput, latency and Redis CPU of draws, sign-ins, helps and reservations
against a trivial endpoint of the same server, side by side in one run.

It starts the platform as `promo serve` does (uvicorn + uvloop + httptools, `--workers N`, no
debug, no access log, embedded redis-server, SQLite, the audit writer in its child process),
creates a live wheel with stock that cannot run out, mints player tokens, and drives the server
with wrk on the same machine. Rounds of GET /health, POST draws, sign-ins, helps and
reservations alternate (the machine is shared and noisy), and the median per endpoint is
reported with its ratio to /health.

Every sign-in, help and reservation is a new one (a member's first of the round on its target),
each round on fresh activities, with every pool sized to the run (loadtests/bench_rounds.py):
the bench ends with 0 failures on any machine size, and fails if a request does not succeed.

Redis CPU per action (loadtests/bench_redis.py): the INFO cpu delta of the server's Redis over
each round divided by its answers, beside a trivial 2-key EVALSHA measured on the same Redis in
the same run; the implied ceiling is what one Redis core could serve of that action alone.

A second server with PROMO_COALESCE=off (one Redis round trip per draw instead of one pipeline
per event-loop tick) runs beside the first, and its draw rounds alternate with the first's, so
the coalescing gain is measured side by side too. A third with PROMO_BATCH=off (each draw its own
EVALSHA in the tick's pipeline, instead of one EVALSHA carrying a tick's draws of the activity)
gives the batching gain the same way, in draws/s and in Redis µs per draw (its own Redis).

    python -m loadtests.bench [--workers 1] [--connections 64] [--threads 2] [--duration 10]
                              [--rounds 3] [--no-coalesce-compare] [--draws-only] [--cluster N] [--buckets K]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

from activities.redis_cluster import EmbeddedCluster
from loadtests import events_bench, writer_bench
from loadtests.bench_redis import RedisCpu, redis_lines
from loadtests.bench_rounds import (
    AuditSample,
    AuditSampler,
    MemberPool,
    MemberRounds,
    drained,
    measured,
    member_rounds,
    wheel_for_bench,
)
from loadtests.bench_wrk import DONE, DRAW, Round, median, median_redis_us, run_wrk, show
from loadtests.harness import Server, create_live_activity, embedded_server, request


def draw_script(folder: Path, server: Server, activity_id: int, players: int, run: int) -> Path:
    tokens = ",".join(f'"{server.player_token(f"bench{i}")}"' for i in range(players))
    path = folder / f"draw-{server.base_url.rsplit(':', 1)[1]}-{run}.lua"
    path.write_text(DRAW % {"tokens": tokens, "activity": activity_id, "run": run} + DONE)
    return path


def sampled_draw_round(
    server: Server, script: Path, activity_id: int, wrk: tuple[int, int], duration: int, cpu: RedisCpu
) -> Round:
    """A draw round with its Redis CPU and the audit writer watched (AuditSampler), then waited for."""
    sampler = AuditSampler(server, activity_id)
    sampler.start()
    result = measured(cpu, lambda: run_wrk(server.base_url, script, *wrk, duration))
    result.audit = sampler.result()
    result.drain_s = drained(server, activity_id)
    return result


def audit_lines(draws: list[Round], writer_alone: float | None) -> tuple[list[str], dict[str, object]]:
    """The audit writer in the heaviest draw round (the most draws per second)."""
    heaviest = max(draws, key=lambda r: r.requests_per_s)
    audit = heaviest.audit if isinstance(heaviest.audit, AuditSample) else AuditSample()
    lines = [
        f"  audit writer, heaviest draw round ({heaviest.requests_per_s:.0f} draws/s by wrk): max lag "
        f"{audit.max_lag_s:.2f} s (target <= 1 s), max backlog {audit.max_backlog} entries "
        f"({audit.samples} samples, every 0.5 s)",
        f"    written to SQL {audit.written_per_s:.0f}/s beside {audit.acknowledged_per_s:.0f}/s acknowledged by "
        f"the API; caught up {heaviest.drain_s:.1f} s after the round",
    ]
    summary: dict[str, object] = {"audit": asdict(audit), "audit_drain_s": heaviest.drain_s}
    if writer_alone:
        lines.append(
            f"    writer alone (loadtests.writer_bench): {writer_alone:.0f} entries/s = "
            f"{writer_alone / heaviest.requests_per_s:.1f}x the draw rate   (target >= 3x)"
        )
        summary["writer_alone_per_s"] = writer_alone
    return lines, summary


def batch_lines(batched: list[Round], pipelined: list[Round]) -> tuple[list[str], dict[str, object]]:
    """The batching gain: draws/s and Redis µs per draw, batched (the first server) against
    pipelined (PROMO_BATCH=off), medians of their alternating rounds."""
    p = median(pipelined)
    gain = median(batched).requests_per_s / p.requests_per_s
    us_batched, us_pipelined = median_redis_us(batched), median_redis_us(pipelined)
    cpu = us_batched / us_pipelined if us_pipelined else 0.0
    lines = [
        show("POST draws (PROMO_BATCH=off)", p),
        f"  batching gain: {gain:.2f}x draws/s; redis µs per draw {us_batched:.1f} batched vs {us_pipelined:.1f} "
        f"pipelined ({cpu:.2f}x)",
    ]
    summary: dict[str, object] = {
        "draw_pipelined": asdict(p),
        "batching_gain": gain,
        "redis_us_per_draw_pipelined": us_pipelined,
    }
    return lines, summary


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--duration", type=int, default=10, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--players", type=int, default=1000, help="distinct player tokens for draws")
    parser.add_argument("--reference-calls", type=int, default=100_000, help="trivial EVALSHAs per reference")
    parser.add_argument(
        "--cluster", type=int, default=0, metavar="N", help="run on an N-node Redis Cluster (no coalescing comparison)"
    )
    parser.add_argument("--port", type=int, default=8765, help="the server's port (and the next two)")
    parser.add_argument(
        "--buckets", type=int, default=1, metavar="K", help="the draws' wheel with stock_buckets K (lottery/buckets.py)"
    )
    parser.add_argument(
        "--no-coalesce-compare", action="store_true", help="no second and third server (coalescing, batching gains)"
    )
    parser.add_argument("--draws-only", action="store_true", help="draws and /health only (no sign-ins, helps...)")
    parser.add_argument("--no-writer-bench", action="store_true", help="skip timing the audit writer alone")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    folder = Path(tempfile.mkdtemp(prefix="promo-bench-"))
    health_lua = folder / "health.lua"
    health_lua.write_text(DONE)
    health: list[Round] = []
    draws: list[Round] = []
    draws_single: list[Round] = []
    draws_pipelined: list[Round] = []  # PROMO_BATCH=off
    actions: list[MemberRounds] = [] if args.draws_only else member_rounds()
    wrk = (args.connections, args.threads)

    with contextlib.ExitStack() as stack:
        if args.cluster:
            cluster = EmbeddedCluster(folder / "cluster", nodes=args.cluster)
            stack.callback(cluster.stop)
            env = {"REDIS_URL": cluster.start()}
            server = stack.enter_context(embedded_server(port=args.port, workers=args.workers, env=env))
            cpu = RedisCpu.of_nodes(cluster.ports)
        else:
            server = stack.enter_context(embedded_server(port=args.port, workers=args.workers))
            cpu = RedisCpu.of_server(server.var_dir)
        stack.callback(cpu.close)
        operator = server.operator_token()
        activity_id = int(create_live_activity(server.base_url, operator, wheel_for_bench(args.buckets))["id"])
        node_cpu = [0.0] * len(cpu.clients)  # each Redis's CPU over the draw rounds
        single = None
        if not args.no_coalesce_compare and not args.cluster:  # a second server may not share the cluster
            env = {"PROMO_COALESCE": "off"}
            single = stack.enter_context(embedded_server(port=args.port + 1, workers=args.workers, env=env))
        single_activity = (
            int(create_live_activity(single.base_url, single.operator_token(), wheel_for_bench())["id"])
            if single
            else 0
        )
        pipelined, pipelined_activity, pipelined_cpu = None, 0, None
        if single:  # and a third: the tick's draws pipelined, one EVALSHA each (the batching gain)
            pipelined = stack.enter_context(
                embedded_server(port=args.port + 2, workers=args.workers, env={"PROMO_BATCH": "off"})
            )
            activity = create_live_activity(pipelined.base_url, pipelined.operator_token(), wheel_for_bench())
            pipelined_activity = int(activity["id"])
            pipelined_cpu = RedisCpu.of_server(pipelined.var_dir)
            stack.callback(pipelined_cpu.close)
        pool = MemberPool(folder, server)
        print(f"warming up (wrk, {args.connections} connections, {args.threads} threads)...", flush=True)
        ceiling = run_wrk(f"{server.base_url}/health", health_lua, *wrk, 2).requests_per_s  # no action outruns it
        run_wrk(server.base_url, draw_script(folder, server, activity_id, args.players, 0), *wrk, 2)
        if pipelined:
            run_wrk(pipelined.base_url, draw_script(folder, pipelined, pipelined_activity, args.players, 0), *wrk, 2)
        for rounds in actions:
            warm = rounds.run(folder, server, pool, wrk, 2, None, ceiling)
            print(f"  {rounds.plural}: {warm.requests_per_s:.0f}/s warm; pool {pool.size} members", flush=True)
        cpu.reference(args.reference_calls)
        for run in range(1, args.rounds + 1):
            health.append(run_wrk(f"{server.base_url}/health", health_lua, *wrk, args.duration))
            ceiling = max(ceiling, health[-1].requests_per_s)
            script = draw_script(folder, server, activity_id, args.players, run)
            before = cpu.node_seconds()
            draws.append(sampled_draw_round(server, script, activity_id, wrk, args.duration, cpu))
            node_cpu = [n + after - was for n, after, was in zip(node_cpu, cpu.node_seconds(), before, strict=True)]
            if single:
                script = draw_script(folder, single, single_activity, args.players, run)
                draws_single.append(run_wrk(single.base_url, script, *wrk, args.duration))
                drained(single, single_activity)
            if pipelined:
                script = draw_script(folder, pipelined, pipelined_activity, args.players, run)
                wrk_round = partial(run_wrk, pipelined.base_url, script, *wrk, args.duration)
                draws_pipelined.append(measured(pipelined_cpu, wrk_round))
                drained(pipelined, pipelined_activity)
            for rounds in actions:
                rounds.run(folder, server, pool, wrk, args.duration, cpu, ceiling)
            cpu.reference(args.reference_calls)
            print(f"round {run}/{args.rounds} done (member pool {pool.size})", flush=True)
        counters = request("GET", f"{server.base_url}/operator/activities/{activity_id}/counters", operator)[1]
        h, d = median(health), median(draws)
        reports = [rounds.report(server, h) for rounds in actions]
    writer_alone = None if args.no_writer_bench else writer_bench.measure(draws=30_000, members=3_000)
    events_rate = None if args.no_writer_bench else events_bench.measure()  # POST /events' ingestion

    ratio = d.requests_per_s / h.requests_per_s
    redis_kind = f"a {args.cluster}-node Redis Cluster" if args.cluster else "embedded Redis"
    lines = [
        "",
        f"promo benchmark: {args.rounds} rounds x {args.duration} s, wrk -t{args.threads} -c{args.connections}, "
        f"{args.workers} uvicorn worker(s) (uvloop, httptools), {redis_kind}, SQLite, writer apart, medians:",
        show("GET /health", h),
        show("POST draws (coalesced)", d),
        f"    draws: ratio {ratio:.2f} to /health   (target >= 0.45, aiming at 0.6); "
        f"p99 at {args.connections} connections {d.p99_ms:.1f} ms   (target <= 25 ms)",
    ]
    result: dict[str, object] = {"health": asdict(h), "draw": asdict(d), "ratio": ratio, "args": vars(args)}
    failed = d.non2xx + d.socket_errors + h.non2xx + h.socket_errors
    for report_lines, summary, failures in reports:
        lines += report_lines
        result |= summary
        failed += failures
    more, summary = redis_lines(cpu, [("draw", "draws", draws), *((r.action, r.plural, r.rounds) for r in actions)])
    lines += more
    result |= summary
    spent = args.rounds * args.duration
    lines.append(
        f"  redis CPU per node over the draw rounds ({args.buckets} stock bucket(s)): "
        + ", ".join(f"{s:.2f} s ({100 * s / spent:.0f}%)" for s in node_cpu)
    )
    result |= {"draw_node_cpu_s": node_cpu}
    more, summary = audit_lines(draws, writer_alone)
    lines += more
    result |= summary
    if events_rate is not None:
        lines.append(f"  events: {events_rate:,.0f} events/s ingested in-process (loadtests.events_bench)")
        result |= {"events_per_s": events_rate}
    if draws_single:
        s = median(draws_single)
        gain = d.requests_per_s / s.requests_per_s
        lines += [show("POST draws (one trip each)", s), f"  coalescing gain: {gain:.2f}x draws/s"]
        result |= {"draw_single_round_trip": asdict(s), "coalescing_gain": gain}
        failed += s.non2xx + s.socket_errors
    if draws_pipelined:
        more, summary = batch_lines(draws, draws_pipelined)
        lines += more
        result |= summary
        failed += sum(r.non2xx + r.socket_errors for r in draws_pipelined)
    lines += [
        f"  after the run: {counters['draws_total']} draws in Redis, {counters['draws_in_sql']} in SQL, "
        f"audit backlog {counters['audit_backlog']}; {failed} requests failed",
        "reproduce: make bench   (or: .venv/bin/python -m loadtests.bench " + " ".join(sys.argv[1:]) + ")",
    ]
    print("\n".join(lines))
    out = Path("var/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2, default=str))
    if failed:
        print(f"FAILED: {failed} requests did not succeed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
