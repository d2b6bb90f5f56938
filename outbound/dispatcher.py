"""The dispatcher: fans new events out to endpoints and delivers them, signed, at least once.

Each pass (every `poll_interval_s`) it records the outcomes of finished attempts (one
transaction), fans out new events, and claims due deliveries for every endpoint with a free slot
(`max_in_flight` each, so a slow or hung endpoint holds its own slots and no one else's); each
claimed delivery is attempted in its own task with a timeout. A failed attempt is retried on
`RETRY_SCHEDULE_S` (measured on the injectable clock); after the last one the delivery is a dead
letter an operator can resend. A circuit breaker per endpoint stops claiming for it after
`breaker_threshold` failures in a row, for `breaker_cooldown_s`, then lets one attempt through.

Claims are leases in SQL: a dispatcher that dies mid-delivery leaves its deliveries to another
once the lease ends, and they go out again with the same `webhook-id` (at least once)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from activities.clock import Clock
from activities.metrics import WEBHOOK_ATTEMPTS, WEBHOOK_CIRCUIT_OPEN
from outbound.crypto import Sealer
from outbound.fanout import fan_out
from outbound.model import RETRY_SCHEDULE_S, OutboundConfig, iso_utc
from outbound.repository import Claimed, Endpoint, OutboundRepository, Outcome
from outbound.signing import Signer

log = logging.getLogger("promo.outbound")

REF_NAMES = {
    "checkin.reminder": "day",
    "reservation.reminder": "reservation_code",
    "initiative.expiring": "initiative_id",
    "initiative.completed": "initiative_id",
}


def body_of(delivery: Claimed, sealer: Sealer) -> str:
    """The JSON body: {"type", "timestamp" (the event's time), "data"}; the same on every attempt
    (a goods fulfilment carries the address as it is at the time of the attempt)."""
    data: dict[str, Any]
    if isinstance(delivery.data, dict):
        data = dict(delivery.data)
    else:
        data = {"member": delivery.user_id, "activity_id": delivery.activity_id}
        data[REF_NAMES.get(delivery.type, "ref")] = delivery.ref
    if delivery.address is not None:
        data["address"] = msgspec.to_builtins(sealer.open_address(delivery.address))
    payload = {"type": delivery.type, "timestamp": iso_utc(delivery.created_at_ms), "data": data}
    return msgspec.json.encode(payload).decode()


@dataclass
class _EndpointState:
    in_flight: int = 0
    failures: int = 0  # in a row
    open_until_ms: int = 0  # the circuit is open (no claims) until then
    signer_key: tuple[Any, ...] = ()
    signer: Signer | None = None


class Dispatcher:
    def __init__(
        self,
        repository: OutboundRepository,
        sealer: Sealer,
        clock: Clock,
        config: OutboundConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        wall: Callable[[], float] = time.time,  # the webhook-timestamp header: real time, always
        poll_interval_s: float = 0.2,
        events_per_pass: int = 500,
        breaker_threshold: int = 5,
        breaker_cooldown_s: float = 30.0,
    ) -> None:
        self.repository = repository
        self.sealer = sealer
        self.clock = clock
        self.config = config
        self.wall = wall
        self.poll_interval_s = poll_interval_s
        self.events_per_pass = events_per_pass
        self.breaker_threshold = breaker_threshold
        self.breaker_cooldown_ms = int(breaker_cooldown_s * 1000)
        self.lease_ms = config.lease_ms()  # a claim outlives any attempt
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._tasks: dict[asyncio.Task[None], Claimed] = {}
        self._outcomes: list[Outcome] = []
        self._endpoints: dict[int, _EndpointState] = {}
        self.attempts = 0

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            timeout = httpx.Timeout(self.config.timeout_s)
            # No pool-wide cap: each endpoint is bounded by its own max_in_flight, and a shared cap
            # would let one hung endpoint hold connections the others wait for.
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
            self._client = httpx.AsyncClient(
                timeout=timeout, limits=limits, transport=self._transport, follow_redirects=False
            )
        return self._client

    async def run(self, stop: asyncio.Event) -> None:
        log.info("webhook dispatcher started")
        while not stop.is_set():
            busy = 0
            try:
                busy = await self.step()
            except Exception:
                log.exception("webhook dispatcher pass failed; retrying")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.poll_interval_s)
        await self.close()
        log.info("webhook dispatcher stopped after %d attempts", self.attempts)

    async def step(self) -> int:
        """One pass; returns the events fanned out plus the deliveries started."""
        await self.flush()
        now_ms = self.clock.now_ms()
        endpoints = await self.repository.enabled_endpoints()
        events = await self.repository.claim_events(_token(), now_ms, self.lease_ms, self.events_per_pass)
        if events:
            await fan_out(self.repository, endpoints, events, self.config, now_ms)
        started = 0
        for endpoint in endpoints:
            state = self._endpoints.setdefault(endpoint.id, _EndpointState())
            free = self._free(endpoint, state, now_ms)
            if free <= 0:
                continue
            claimed = await self.repository.claim_deliveries(endpoint.id, _token(), now_ms, self.lease_ms, free)
            signer = self._signer(endpoint, state, now_ms)
            for delivery in claimed:
                state.in_flight += 1
                task = asyncio.create_task(self._attempt(endpoint, state, signer, delivery))
                self._tasks[task] = delivery
                task.add_done_callback(self._tasks.pop)
            started += len(claimed)
        return len(events) + started

    def _free(self, endpoint: Endpoint, state: _EndpointState, now_ms: int) -> int:
        if state.open_until_ms > now_ms:
            return 0
        if state.failures >= self.breaker_threshold:  # half open: one attempt decides
            return 1 - state.in_flight
        return endpoint.max_in_flight - state.in_flight

    def _signer(self, endpoint: Endpoint, state: _EndpointState, now_ms: int) -> Signer:
        overlap = endpoint.previous_secret is not None and (endpoint.previous_until_ms or 0) > now_ms
        key = (endpoint.secret, endpoint.previous_secret if overlap else None)
        if state.signer is None or state.signer_key != key:
            secrets_ = [self.sealer.open(endpoint.secret).decode()]
            if overlap and endpoint.previous_secret is not None:
                secrets_.append(self.sealer.open(endpoint.previous_secret).decode())
            state.signer, state.signer_key = Signer(secrets_), key
        return state.signer

    async def _attempt(self, endpoint: Endpoint, state: _EndpointState, signer: Signer, delivery: Claimed) -> None:
        code: int | None = None
        error: str | None = None
        try:
            body = body_of(delivery, self.sealer)
            headers = signer.headers(delivery.event_id, int(self.wall()), body)
            response = await self.client().post(endpoint.url, content=body.encode(), headers=headers)
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:200] or type(exc).__name__
        except ValueError as exc:  # an address sealed with another key
            error = str(exc)
        finally:
            state.in_flight -= 1
        self.attempts += 1
        now_ms = self.clock.now_ms()
        delivered = error is None
        next_at: int | None = None
        if delivered:
            state.failures = 0
            WEBHOOK_ATTEMPTS.labels("delivered").inc()
        else:
            state.failures += 1
            if state.failures == self.breaker_threshold or (
                state.failures > self.breaker_threshold and state.open_until_ms <= now_ms
            ):
                state.open_until_ms = now_ms + self.breaker_cooldown_ms
                WEBHOOK_CIRCUIT_OPEN.inc()
                log.warning("endpoint %d: circuit open for %d ms", endpoint.id, self.breaker_cooldown_ms)
            if delivery.attempts < len(RETRY_SCHEDULE_S):
                next_at = now_ms + RETRY_SCHEDULE_S[delivery.attempts] * 1000
            WEBHOOK_ATTEMPTS.labels("retry" if next_at is not None else "dead").inc()
        self._outcomes.append(Outcome(delivery, delivered, code, error, next_at))

    async def flush(self) -> None:
        """Record the outcomes of finished attempts (one transaction)."""
        outcomes, self._outcomes = self._outcomes, []
        try:
            await self.repository.record(outcomes, self.clock.now_ms())
        except Exception:
            self._outcomes = outcomes + self._outcomes  # kept: the next pass records them
            raise

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def settle(self, timeout_s: float = 30.0) -> None:
        """Wait for the attempts in flight, then record them (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
        await self.flush()

    async def drain(self, timeout_s: float = 60.0) -> None:
        """Pass until nothing is due and nothing is in flight (tests)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            busy = await self.step()
            await self.settle(timeout_s=max(deadline - time.monotonic(), 0.1))
            if not busy and not self._tasks:
                return
        raise TimeoutError("the dispatcher did not drain in time")

    def abandon(self) -> None:
        """Drop everything in flight without a word (a crash, in tests): the leases run out."""
        for task in list(self._tasks):
            task.cancel()
        self._outcomes = []

    async def close(self, grace_s: float = 5.0) -> None:
        """Finish what is in flight for up to `grace_s`, record it, give back the rest."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        left = [self._tasks[task].id for task in list(self._tasks)]
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self.flush()
            await self.repository.release(left)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _token() -> str:
    return secrets.token_hex(12)
