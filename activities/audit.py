"""The audit writer: Redis Streams -> SQL, at least once, without duplicates.

For every activity stream it reads new entries through the consumer group, writes them to SQL
in one transaction per batch (executemany), and acknowledges them only after the commit. Entries
left pending by a consumer that died are taken over with XAUTOCLAIM. The unique draw id in SQL
makes a second delivery harmless. Only acknowledged entries are ever trimmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time

from activities.repository import ActivityRepository, DrawRow
from activities.store import ActivityStore

log = logging.getLogger("promo.audit")

# Activities whose streams the writer follows: everything published, including ended ones
# (their last events may still be in flight).
FOLLOWED_STATUSES = ("live", "paused", "ended")


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def draw_row(activity_id: int, entry_id: str, fields: dict[str, str]) -> DrawRow:
    left_today, left_total = int(fields["left_today"]), int(fields["left_total"])
    return DrawRow(
        draw_id=fields["draw_id"],
        activity_id=activity_id,
        user_id=fields["user_id"],
        prize_id=int(fields["prize_id"]),
        picked_prize_id=int(fields["picked_prize_id"]),
        rand=int(fields["rand"]),
        day=fields["day"],
        drawn_at_ms=int(fields["drawn_at_ms"]),
        idempotency_key=fields["idempotency_key"],
        fingerprint=fields["fingerprint"],
        left_today=None if left_today < 0 else left_today,
        left_total=None if left_total < 0 else left_total,
        stream_id=entry_id,
    )


class AuditWriter:
    def __init__(
        self,
        store: ActivityStore,
        repository: ActivityRepository,
        *,
        consumer: str | None = None,
        batch_size: int = 500,
        claim_idle_ms: int = 30_000,
        poll_interval_s: float = 0.05,
        refresh_interval_s: float = 2.0,
    ) -> None:
        self.store = store
        self.repository = repository
        self.consumer = consumer or consumer_name()
        self.batch_size = batch_size
        self.claim_idle_ms = claim_idle_ms
        self.poll_interval_s = poll_interval_s
        self.refresh_interval_s = refresh_interval_s
        self._activity_ids: list[int] = []
        self._refreshed_at = 0.0
        self.written = 0

    async def run(self, stop: asyncio.Event) -> None:
        log.info("audit writer %s started", self.consumer)
        while not stop.is_set():
            try:
                written = await self.step()
            except Exception:  # keep going: nothing is acknowledged unless committed
                log.exception("audit writer step failed; retrying")
                written = 0
                await _sleep_or_stop(stop, 1.0)
            if written == 0:
                await _sleep_or_stop(stop, self.poll_interval_s)
        log.info("audit writer %s stopped after %d rows", self.consumer, self.written)

    async def step(self, claim: bool = True) -> int:
        """One pass over every followed stream. Returns the number of entries written."""
        now = time.monotonic()
        if now - self._refreshed_at > self.refresh_interval_s:
            self._activity_ids = await self.repository.list_ids(FOLLOWED_STATUSES)
            self._refreshed_at = now
        written = 0
        for activity_id in self._activity_ids:
            if claim:
                stale = await self.store.claim_stale(activity_id, self.consumer, self.claim_idle_ms, self.batch_size)
                written += await self._write(activity_id, stale)
            fresh = await self.store.read_new(activity_id, self.consumer, self.batch_size)
            written += await self._write(activity_id, fresh)
        return written

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Write until every followed stream has nothing left (tests, shutdown, `promo worker --once`)."""
        self._refreshed_at = 0.0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await self.step() == 0:
                backlog = 0
                for activity_id in self._activity_ids:
                    backlog += await self.store.pending_count(activity_id)
                if backlog == 0:
                    return
                await asyncio.sleep(self.poll_interval_s)
        raise TimeoutError("the audit stream did not drain in time")

    async def _write(self, activity_id: int, entries: list[tuple[str, dict[str, str]]]) -> int:
        if not entries:
            return 0
        rows = [draw_row(activity_id, entry_id, fields) for entry_id, fields in entries if fields.get("type") == "draw"]
        await self.repository.insert_draws(rows)  # commits, or raises and nothing is acknowledged
        await self.store.acknowledge(activity_id, [entry_id for entry_id, _ in entries])
        self.written += len(entries)
        return len(entries)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
