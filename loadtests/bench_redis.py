"""Redis CPU per action for `make bench`, from `INFO cpu` deltas on the server's own Redis,
beside a reference measured on the same Redis in the same run: one trivial 2-key EVALSHA (a
DECR and an HINCRBY), pipelined. Absolute microseconds differ between machines; the multiple of
the reference does not, so the multiple is what the targets speak of (issue 17: <= 2x)."""

from __future__ import annotations

import statistics
from pathlib import Path

import redis

from loadtests.bench_wrk import Round, median_redis_us

TRIVIAL = "redis.call('DECR', KEYS[1]) return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)"
REFERENCE_KEYS = ("{bench:reference}:n", "{bench:reference}:h")


class RedisCpu:
    """The CPU Redis spent, read from INFO cpu: the main thread's user + sys time where Redis
    reports it (6.2+: used_cpu_user_main_thread, used_cpu_sys_main_thread), else the process's
    (used_cpu_user + used_cpu_sys, which also counts background threads such as AOF fsync)."""

    def __init__(self, clients: list[redis.Redis]) -> None:
        """`clients`: one per redis-server (every node of a cluster): their CPU is summed."""
        self.clients = clients
        self.client = clients[0]  # where the reference runs
        self.main_thread = all("used_cpu_user_main_thread" in c.info("cpu") for c in clients)
        self.references: list[float] = []

    @classmethod
    def of_server(cls, var_dir: Path) -> RedisCpu:
        """The embedded redis-server of a `promo serve` run in `var_dir` (its Unix socket)."""
        return cls([redis.Redis(unix_socket_path=str(var_dir / "redis" / "redis.sock"), decode_responses=True)])

    @classmethod
    def of_nodes(cls, ports: list[int], host: str = "127.0.0.1") -> RedisCpu:
        """Every node of a cluster (bench --cluster N)."""
        return cls([redis.Redis(host, port, decode_responses=True) for port in ports])

    @property
    def source(self) -> str:
        if self.main_thread:
            return "used_cpu_user_main_thread + used_cpu_sys_main_thread"
        return "used_cpu_user + used_cpu_sys"

    def seconds(self) -> float:
        return sum(self.node_seconds())

    def node_seconds(self) -> list[float]:
        """The CPU of each redis-server (each node of a cluster), in the order of `clients`."""
        found = []
        for client in self.clients:
            info = client.info("cpu")
            if self.main_thread:
                found.append(float(info["used_cpu_user_main_thread"]) + float(info["used_cpu_sys_main_thread"]))
            else:
                found.append(float(info["used_cpu_user"]) + float(info["used_cpu_sys"]))
        return found

    def reference_keys(self) -> tuple[str, str]:
        """Two keys of one slot that the first server serves (on a cluster node, a slot of its own)."""
        for n in range(10_000):
            counter, fields = (key.replace("reference", f"reference:{n}") for key in REFERENCE_KEYS)
            try:
                self.client.set(counter, 10**15)
            except redis.ResponseError:  # MOVED: another node's slot
                continue
            return counter, fields
        raise RuntimeError("no slot of the first Redis found for the reference keys")

    def reference(self, calls: int = 100_000, batch: int = 100) -> float:
        """Redis CPU µs of one trivial 2-key EVALSHA, `calls` of them in pipelines of `batch`;
        kept for `reference_us` (the median over the times it was measured)."""
        sha = self.client.script_load(TRIVIAL)
        counter, fields = self.reference_keys()
        before = self.seconds()
        for _ in range(0, calls, batch):
            pipe = self.client.pipeline(transaction=False)
            for n in range(batch):
                pipe.evalsha(sha, 2, counter, fields, f"f{n % 16}")
            pipe.execute()
        spent = self.seconds() - before
        self.client.delete(counter, fields)
        us = spent * 1e6 / calls
        self.references.append(us)
        return us

    @property
    def reference_us(self) -> float:
        return statistics.median(self.references) if self.references else 0.0

    def close(self) -> None:
        for client in self.clients:
            client.close()


def redis_lines(cpu: RedisCpu, actions: list[tuple[str, str, list[Round]]]) -> tuple[list[str], dict[str, object]]:
    """`redis µs per <action>: N (Mx a trivial EVALSHA)` and the implied ceiling (what one Redis
    core could serve of that action alone), for (action, plural, rounds) in `actions`."""
    reference = cpu.reference_us
    nodes = f", summed over {len(cpu.clients)} nodes" if len(cpu.clients) > 1 else ""
    lines = [
        f"  Redis CPU per action: INFO cpu ({cpu.source}{nodes}) over each round / its 2xx answers, median of the "
        "rounds. The audit writer runs meanwhile: its XREADGROUP/XACK/XTRIM (and the wallet credits of "
        "sign-ins) count in the round, as do the bench's counters polls every 0.5 s.",
        f"  reference, same Redis, same run: a trivial 2-key EVALSHA (DECR + HINCRBY) pipelined by 100: "
        f"{reference:.1f} µs (median of {len(cpu.references)})",
    ]
    summary: dict[str, object] = {"redis_reference_us": reference, "redis_cpu_source": cpu.source}
    for action, plural, rounds in actions:
        us = median_redis_us(rounds)
        if not us or not reference:
            continue
        ceiling = 1e6 / us
        lines.append(
            f"  redis µs per {action}: {us:.1f} ({us / reference:.1f}x a trivial EVALSHA)   "
            f"ceiling ~{ceiling:,.0f} {plural}/s on one Redis core   (target <= 2x)"
        )
        summary[f"redis_us_per_{action}"] = us
        summary[f"redis_multiple_{action}"] = us / reference
        summary[f"redis_ceiling_{action}_per_s"] = ceiling
    return lines, summary
