"""Draws under load with a ledger of every acknowledged answer (the fault tests).

`DrawLoad` runs many concurrent clients (httpx, async) drawing on one wheel, each with a fresh
Idempotency-Key, and keeps a ledger of every 2xx answer (draw id, prize id, when it came). A
`503 outcome_unknown` is retried with the same key, as the API asks; a transport error (the API
or Redis is down) is counted as a clean failure and its key kept, so that `settle` can resend
it. `Api` holds the operator calls: create a wheel, read counters, wait for the drain, look
acknowledged draws up in the SQL audit trail.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from loadtests.harness import wheel_spec
from loadtests.stack import Stack

DOCUMENTED_503 = {"outcome_unknown", "service_unavailable", "activity_loading", "database_busy"}
TOP_STOCK = 60  # the scarce prize: it sells out during a burst


@dataclass(frozen=True)
class Ack:
    draw_id: str
    prize_id: int
    at: float  # time.monotonic() when the answer arrived


@dataclass
class Ledger:
    acks: dict[str, Ack] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)  # "201", "429 user_daily_limit", "transport"...
    server_errors: list[str] = field(default_factory=list)  # 5xx other than a documented 503
    unanswered: list[tuple[str, str]] = field(default_factory=list)  # (token, key): transport error or unknown
    latencies: list[float] = field(default_factory=list)  # seconds, of each 201

    def since(self, moment: float) -> int:
        return sum(1 for ack in self.acks.values() if ack.at >= moment)

    def wins(self) -> Counter[int]:
        return Counter(ack.prize_id for ack in self.acks.values())


def wheel(top_stock: int = TOP_STOCK) -> dict[str, Any]:
    """A live wheel whose top prize is drawn one time in ten and sells out within a burst."""
    spec = wheel_spec(top_stock=top_stock, name="Fault wheel")
    spec["prizes"][0]["weight"] = 100
    return spec


class Api:
    """The operator's and the members' calls the fault tests need."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.operator = stack.tokens.issue("fault-ops", "operator", ttl_s=3600)
        self.client = httpx.AsyncClient(base_url=stack.base_url, timeout=30)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.operator}"}

    async def create_wheel(self, spec: dict[str, Any] | None = None) -> int:
        created = await self.client.post("/operator/activities", json=spec or wheel(), headers=self.auth())
        assert created.status_code == 201, created.text
        activity_id = int(created.json()["id"])
        published = await self.client.post(f"/operator/activities/{activity_id}/publish", headers=self.auth())
        assert published.status_code == 200, published.text
        return activity_id

    async def counters(self, activity_id: int) -> dict[str, Any]:
        answer = await self.client.get(f"/operator/activities/{activity_id}/counters", headers=self.auth())
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def drained(self, activity_id: int, timeout_s: float = 60.0) -> dict[str, Any]:
        """The counters once the audit backlog is zero (fails after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                counters = await self.counters(activity_id)
                if counters["audit_backlog"] == 0:
                    return counters
            except (httpx.TransportError, AssertionError):
                counters = {}
            if time.monotonic() > deadline:
                raise AssertionError(f"the audit backlog did not reach zero in {timeout_s} s: {counters}")
            await asyncio.sleep(0.5)

    async def rows_in_sql(self, draw_ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(draw_ids), 1000):
            body = {"kind": "draw", "ids": draw_ids[start : start + 1000]}
            answer = await self.client.post("/operator/audit/lookup", json=body, headers=self.auth())
            assert answer.status_code == 200, answer.text
            found |= answer.json()["rows"]
        return found

    async def close(self) -> None:
        await self.client.aclose()


class DrawLoad:
    """`clients` members' front ends drawing on `activity_id` until stopped (or `max_s`)."""

    def __init__(self, stack: Stack, activity_id: int, *, clients: int = 48, members: int = 400) -> None:
        self.stack = stack
        self.activity_id = activity_id
        self.clients = clients
        self.tokens = [stack.tokens.issue(f"m{i}", "player", level="gold", ttl_s=3600) for i in range(members)]
        self.ledger = Ledger()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._http: httpx.AsyncClient | None = None

    def start(self) -> None:
        limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
        self._http = httpx.AsyncClient(base_url=self.stack.base_url, timeout=15, limits=limits)
        self._tasks = [asyncio.create_task(self._client(i)) for i in range(self.clients)]

    async def stop(self) -> Ledger:
        self._stop.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), timeout=60)
        if self._http is not None:
            await self._http.aclose()
        return self.ledger

    async def run_for(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _client(self, index: int) -> None:
        rng = random.Random(index)
        deadline = time.monotonic() + 300  # bounded whatever happens
        while not self._stop.is_set() and time.monotonic() < deadline:
            token = self.tokens[rng.randrange(len(self.tokens))]
            await self._draw(token, secrets.token_hex(12))

    async def _draw(self, token: str, key: str) -> None:
        assert self._http is not None
        if not await self.draw_once(self._http, token, key):
            self.ledger.unanswered.append((token, key))

    async def draw_once(self, http: httpx.AsyncClient, token: str, key: str) -> bool:
        """One draw as a front end makes it; False if its outcome stayed unknown."""
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        for _attempt in range(4):  # the first try and up to three retries of an unknown outcome
            sent_at = time.monotonic()
            try:
                answer = await http.post(f"/activities/{self.activity_id}/draws", json={}, headers=headers)
            except httpx.TransportError as exc:
                self.ledger.answers[f"transport {type(exc).__name__}"] += 1
                await asyncio.sleep(0.1)
                return False
            code = _code(answer)
            if answer.status_code == 201:
                body = answer.json()
                self.ledger.acks[body["draw_id"]] = Ack(body["draw_id"], int(body["prize"]["id"]), time.monotonic())
                self.ledger.answers["201"] += 1
                self.ledger.latencies.append(time.monotonic() - sent_at)
                return True
            self.ledger.answers[f"{answer.status_code} {code}"] += 1
            if answer.status_code >= 500 and not (answer.status_code == 503 and code in DOCUMENTED_503):
                self.ledger.server_errors.append(f"{answer.status_code} {code}: {answer.text[:200]}")
            if answer.status_code == 503 and code == "outcome_unknown":
                await asyncio.sleep(0.2)
                continue  # the same key: the first result if it ran, a draw now if it did not
            if answer.status_code >= 500:
                await asyncio.sleep(0.1)
            return answer.status_code < 500
        return False

    async def settle(self) -> int:
        """Resend every draw whose outcome the client never learnt, with its Idempotency-Key:
        each must now answer (the first result if it ran, a draw if it did not). Returns how
        many were resent."""
        pending, self.ledger.unanswered = self.ledger.unanswered, []
        async with httpx.AsyncClient(base_url=self.stack.base_url, timeout=15) as http:
            for token, key in pending:
                assert await self.draw_once(http, token, key), f"draw {key} still unanswered"
        return len(pending)


def _code(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return "not-json"
    return str(body.get("code", "")) if isinstance(body, dict) else ""
