"""The rounds of `make bench` in which every request is a new action of a member: sign-ins,
helps and reservations, each round on fresh activities, with pools sized to the run so that no
round runs out (issue 17: the bench ends with 0 failures on any machine size).

Sizing. A round's capacity, the requests it may take at most, is `RATE_MARGIN` times the fastest
rate seen so far (/health's included: no action outruns /health on the same server) times its
duration. The member pool (tokens minted by the bench) grows to a `SPREAD`th of that, and each
member acts up to `SPREAD` times in a round, each time a new action (bench_wrk.MEMBERS walks the
(member, target) pairs):
- sign-ins: a member signs in once a day: `SPREAD` sign-in activities, a member's k-th sign-in
  on the next one;
- reservations: one activity (one hot item), `per_user_per_date` = `SPREAD`, each request its
  own Idempotency-Key; the date's quantity is the capacity;
- helps: one activity, its initiatives started up front by initiators of their own, enough that
  none gets `HELPS_NEEDED` helps during the round (a completed one refuses further helps); a
  member helps an initiative once, its k-th help going to the next initiative.
Also the audit writer: each round waits until it has written everything (`drained`), so that
one round's backlog does not slow the next down.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loadtests.bench_redis import RedisCpu
from loadtests.bench_wrk import Round, median, members_script, run_wrk, show
from loadtests.harness import Server, checkin_spec, create_live_activity, request, reservation_spec, tomorrow

RATE_MARGIN = 1.5  # a round may run this much faster than the fastest rate seen before it
SPREAD = 16  # actions per member in a round at most (sign-in activities, reservations per date)
MIN_MEMBERS = 20_000
HELPS_NEEDED = 1000  # the most an initiative may need (assist rules): fewest initiatives to start
HELPS_PER_INITIATIVE = 900  # at most, by the sizing: below HELPS_NEEDED with room for uneven threads


@dataclass
class AuditSample:
    """The audit writer during a draw round, from the operator counters sampled every `every_s`."""

    max_lag_s: float = 0.0
    max_backlog: int = 0
    acknowledged_per_s: float = 0.0  # draws the API made (Redis counter)
    written_per_s: float = 0.0  # draws the writer put in SQL over the same samples
    samples: int = 0


class AuditSampler(threading.Thread):
    """Samples an activity's counters while wrk runs: audit lag (age of the oldest event not in
    SQL), backlog, and the draws made and written."""

    def __init__(self, server: Server, activity_id: int, every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.url = f"{server.base_url}/operator/activities/{activity_id}/counters"
        self.token = server.operator_token()
        self.every_s = every_s
        self.halt = threading.Event()
        self.points: list[tuple[float, dict[str, Any]]] = []

    def run(self) -> None:
        while not self.halt.wait(self.every_s):
            with contextlib.suppress(Exception):
                self.points.append((time.monotonic(), request("GET", self.url, self.token)[1]))

    def result(self) -> AuditSample:
        self.halt.set()
        self.join()
        if len(self.points) < 2:
            return AuditSample()
        (t0, first), (t1, last) = self.points[0], self.points[-1]
        span = t1 - t0
        return AuditSample(
            max_lag_s=max(c.get("audit_lag_ms", 0) for _, c in self.points) / 1000,
            max_backlog=max(c["audit_backlog"] for _, c in self.points),
            acknowledged_per_s=(last["draws_total"] - first["draws_total"]) / span,
            written_per_s=(last["draws_in_sql"] - first["draws_in_sql"]) / span,
            samples=len(self.points),
        )


def drained(server: Server, activity_id: int, timeout_s: float = 60) -> float:
    """Wait until the audit writer has written the activity's events (and the wallet credits
    written with them). Returns the seconds it took."""
    operator, started = server.operator_token(), time.monotonic()
    while time.monotonic() < started + timeout_s:
        counters = request("GET", f"{server.base_url}/operator/activities/{activity_id}/counters", operator)[1]
        if counters["audit_backlog"] == 0:
            break
        time.sleep(0.1)
    return time.monotonic() - started


def measured(cpu: RedisCpu | None, run: Callable[[], Round]) -> Round:
    """`run()` with the Redis CPU it cost (INFO cpu before and after, while the writer runs)."""
    before = cpu.seconds() if cpu else 0.0
    result = run()
    if cpu:
        result.redis_cpu_s = cpu.seconds() - before
    return result


class MemberPool:
    """Player tokens in a file the wrk scripts read, minted as the run needs more."""

    def __init__(self, folder: Path, server: Server, prefix: str = "early") -> None:
        self.path = folder / f"{prefix}-members.txt"
        self.server = server
        self.prefix = prefix
        self.size = 0
        self.path.write_text("")

    def grow_to(self, size: int) -> None:
        if size <= self.size:
            return
        with self.path.open("a") as out:
            out.writelines(f"{self.server.player_token(f'{self.prefix}{i}')}\n" for i in range(self.size, size))
        self.size = size


def wheel_for_bench(buckets: int = 1) -> dict[str, Any]:
    """A live wheel whose stocks no run can exhaust: the bench measures draws, not the fallback;
    with `buckets` > 1 its stock spread over that many Redis slots (lottery/buckets.py)."""
    now = time.time()
    bucketed: dict[str, Any] = {"stock_buckets": buckets} if buckets > 1 else {}
    return bucketed | {
        "type": "wheel",
        "name": "Bench wheel",
        "starts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
        "ends_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 7 * 86400)),
        "limits": {},
        "prizes": [
            {"name": "Top prize", "type": "goods", "weight": 50, "stock": 500_000_000, "value_cny": 999},
            {"name": "5 CNY coupon", "type": "coupon", "weight": 300, "stock": 500_000_000, "value_cny": 5},
            {"name": "Thanks", "type": "thanks", "weight": 650},
        ],
    }


def assist_for_bench(initiatives: int) -> dict[str, Any]:
    """A collect assist: HELPS_NEEDED helps within a day win a gift, `initiatives` gifts."""
    now = time.time()
    return {
        "type": "assist",
        "name": "Bench assist",
        "starts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
        "ends_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 30 * 86400)),
        "assist": {
            "kind": "collect",
            "helps_needed": HELPS_NEEDED,
            "hours": 24,
            "prize": {"name": "Gift", "stock": initiatives, "value_cny": "10"},
        },
    }


@dataclass
class MemberRounds:
    """One action's rounds: `action` (singular, for the report), `label` (the wrk line), the
    activities each round makes and the request paths its members go to."""

    action: str
    plural: str
    label: str
    body: str
    made: Callable[[dict[str, Any]], tuple[int, int]]  # counters -> (in Redis, in SQL)
    rounds: list[Round] = field(default_factory=list)
    activities: list[int] = field(default_factory=list)
    fastest: float = 0.0  # req/s, warm-up included

    def capacity(self, duration_s: int, ceiling_rate: float) -> int:
        """Requests one round of `duration_s` may take at most (`ceiling_rate`: /health's fastest)."""
        return max(MIN_MEMBERS, math.ceil(max(self.fastest, ceiling_rate) * duration_s * RATE_MARGIN))

    def prepare(self, server: Server, capacity: int, pool: MemberPool) -> tuple[list[int], list[str]]:
        """The round's activities and the request paths (members spread over them)."""
        raise NotImplementedError

    def run(
        self,
        folder: Path,
        server: Server,
        pool: MemberPool,
        wrk: tuple[int, int],
        duration: int,
        cpu: RedisCpu | None,
        ceiling_rate: float,
    ) -> Round:
        """A round (`cpu` None: the warm-up, not kept), then the writer waited for."""
        capacity = self.capacity(duration, ceiling_rate)
        pool.grow_to(max(MIN_MEMBERS, math.ceil(capacity / SPREAD)))
        activities, paths = self.prepare(server, capacity, pool)
        script = members_script(folder, f"{self.action}-{activities[0]}", pool.path, paths, self.body, wrk[1])
        result = measured(cpu, lambda: run_wrk(server.base_url, script, *wrk, duration))
        self.fastest = max(self.fastest, result.requests_per_s)
        for activity in activities:
            drained(server, activity)
        if cpu is not None:
            self.rounds.append(result)
            self.activities += activities
        return result

    def report(self, server: Server, health: Round) -> tuple[list[str], dict[str, object], int]:
        operator = server.operator_token()
        made = [
            self.made(request("GET", f"{server.base_url}/operator/activities/{i}/counters", operator)[1])
            for i in self.activities
        ]
        result = median(self.rounds)
        ratio = result.requests_per_s / health.requests_per_s
        lines = [
            show(self.label, result),
            f"    {self.plural}: ratio {ratio:.2f} to /health   (target >= 0.45, aiming at 0.6); "
            f"{sum(m[0] for m in made)} made, each a new one, for {sum(r.requests for r in self.rounds)} answers "
            f"counted by wrk; SQL {sum(m[1] for m in made)}",
        ]
        summary = {self.plural: asdict(result), f"{self.plural}_ratio": ratio}
        return lines, summary, result.non2xx + result.socket_errors


def spread(capacity: int, pool: MemberPool) -> int:
    """Actions per member the round needs (at most SPREAD: the pool grows to keep it there)."""
    return min(SPREAD, max(1, math.ceil(capacity / pool.size)))


def _create(server: Server, spec: dict[str, Any]) -> int:
    return int(create_live_activity(server.base_url, server.operator_token(), spec)["id"])


class SignInRounds(MemberRounds):
    def prepare(self, server: Server, capacity: int, pool: MemberPool) -> tuple[list[int], list[str]]:
        activities = [_create(server, checkin_spec("Bench")) for _ in range(spread(capacity, pool))]
        return activities, [f"/activities/{a}/signins" for a in activities]


class ReservationRounds(MemberRounds):
    def prepare(self, server: Server, capacity: int, pool: MemberPool) -> tuple[list[int], list[str]]:
        spec = reservation_spec("Bench reservations", quantity=capacity)
        spec["reservation"]["per_user_per_date"] = spread(capacity, pool)
        activity = _create(server, spec)
        return [activity], [f"/activities/{activity}/reservations"]


class HelpRounds(MemberRounds):
    """Initiatives started up front by members of their own, then helped by the member pool."""

    def prepare(self, server: Server, capacity: int, pool: MemberPool) -> tuple[list[int], list[str]]:
        count = math.ceil(capacity / HELPS_PER_INITIATIVE) + 1
        activity = _create(server, assist_for_bench(count))

        def start(n: int) -> str:
            token = server.player_token(f"initiator{activity}-{n}")
            status, body = request("POST", f"{server.base_url}/activities/{activity}/initiatives", token)
            if status not in (200, 201):
                raise RuntimeError(f"starting an initiative failed: {status} {body}")
            return str(body["share_token"])

        with ThreadPoolExecutor(max_workers=8) as executor:
            shares = list(executor.map(start, range(count)))
        return [activity], [f"/assists/{share}/helps" for share in shares]


def reservation_made(counters: dict[str, Any]) -> tuple[int, int]:
    return counters["reservations_total"], sum(d["reserved_in_sql"] for d in counters["by_date_and_store"])


def assist_made(counters: dict[str, Any]) -> tuple[int, int]:
    return counters["helps_total"], counters["helps_in_sql"]


def member_rounds() -> list[MemberRounds]:
    return [
        SignInRounds("sign-in", "sign-ins", "POST signins", "{}", lambda c: (c["signins_total"], c["signins_in_sql"])),
        HelpRounds("help", "helps", "POST helps", "{}", assist_made),
        ReservationRounds(
            "reservation", "reservations", "POST reservations", json.dumps({"date": tomorrow()}), reservation_made
        ),
    ]
