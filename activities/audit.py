"""The audit writer: Redis Streams -> SQL, at least once, without duplicates.

It follows every published activity's stream and every wallet shard's stream. From each it
reads new entries through the consumer group, writes them to SQL in one transaction per batch
(executemany), and acknowledges them only after the commit. Entries left pending by a consumer
that died are taken over with XAUTOCLAIM. Unique keys in SQL (draw id, wallet reference) make a
second delivery harmless. Only acknowledged entries are ever trimmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass

from activities.keys import WALLET_SHARDS, ActivityKeys, WalletKeys, wallet_shard
from activities.repository import ActivityRepository, DrawRow, PointsRow
from activities.store import AuditStore

log = logging.getLogger("promo.audit")

# Activities whose streams the writer follows: everything published, including ended ones
# (their last events may still be in flight).
FOLLOWED_STATUSES = ("live", "paused", "ended")
Entry = tuple[str, dict[str, str]]


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Source:
    stream: str
    activity_id: int | None  # None for wallet streams


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


def points_row(entry_id: str, fields: dict[str, str]) -> PointsRow:
    activity_id = int(fields["activity_id"])
    return PointsRow(
        ref=fields["ref"],
        user_id=fields["user_id"],
        shard=wallet_shard(fields["user_id"]),
        delta=int(fields["delta"]),
        balance_after=int(fields["balance"]),
        reason=fields["reason"],
        activity_id=activity_id or None,
        at_ms=int(fields["at_ms"]),
        stream_id=entry_id,
    )


class AuditWriter:
    def __init__(
        self,
        store: AuditStore,
        repository: ActivityRepository,
        *,
        consumer: str | None = None,
        batch_size: int = 500,
        claim_idle_ms: int = 30_000,
        claim_interval_s: float = 5.0,
        trim_interval_s: float = 1.0,
        poll_interval_s: float = 0.05,
        refresh_interval_s: float = 0.5,  # how soon a newly published activity is followed
    ) -> None:
        self.store = store
        self.repository = repository
        self.consumer = consumer or consumer_name()
        self.batch_size = batch_size
        self.claim_idle_ms = claim_idle_ms
        self.claim_interval_s = claim_interval_s
        self.trim_interval_s = trim_interval_s
        self._claimed_at = self._trimmed_at = 0.0
        self.poll_interval_s = poll_interval_s
        self.refresh_interval_s = refresh_interval_s
        self._sources: list[Source] = []
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
            if written < self.batch_size:  # not backed up: let a batch build up meanwhile
                await _sleep_or_stop(stop, self.poll_interval_s)
        log.info("audit writer %s stopped after %d entries", self.consumer, self.written)

    async def step(self, claim: bool | None = None) -> int:
        """One pass over every followed stream. Returns the number of entries written.

        Entries of dead consumers are claimed every `claim_interval_s` (or when `claim` is True):
        they are rare, and XAUTOCLAIM on every pass would cost a round trip per stream."""
        await self._refresh_sources()
        if claim is None:
            claim = time.monotonic() - self._claimed_at >= self.claim_interval_s
        written = 0
        if claim:
            self._claimed_at = time.monotonic()
            for source in self._sources:
                stale = await self.store.claim_stale(source.stream, self.consumer, self.claim_idle_ms, self.batch_size)
                written += await self._write(source, stale)
        by_stream = {source.stream: source for source in self._sources}
        fresh = await self.store.read_new_many(list(by_stream), self.consumer, self.batch_size)
        for stream, entries in fresh.items():
            written += await self._write(by_stream[stream], entries)
        if time.monotonic() - self._trimmed_at >= self.trim_interval_s:
            self._trimmed_at = time.monotonic()
            for source in self._sources:
                await self.store.trim(source.stream)
        return written

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Write until every followed stream has nothing left (tests, `promo worker --once`)."""
        self._refreshed_at = 0.0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await self.step(claim=True) == 0 and await self.backlog() == 0:
                return
            await asyncio.sleep(self.poll_interval_s)
        raise TimeoutError("the audit streams did not drain in time")

    async def backlog(self) -> int:
        await self._refresh_sources()
        return sum([await self.store.backlog(source.stream) for source in self._sources])

    async def _refresh_sources(self) -> None:
        now = time.monotonic()
        if now - self._refreshed_at < self.refresh_interval_s and self._sources:
            return
        activity_ids = await self.repository.list_ids(FOLLOWED_STATUSES)
        self._sources = [Source(ActivityKeys(i).events, i) for i in activity_ids] + [
            Source(WalletKeys(shard).events, None) for shard in range(WALLET_SHARDS)
        ]
        self._refreshed_at = now

    async def _write(self, source: Source, entries: list[Entry]) -> int:
        if not entries:
            return 0
        draws = [
            draw_row(source.activity_id, entry_id, fields)
            for entry_id, fields in entries
            if fields.get("type") == "draw" and source.activity_id is not None
        ]
        points = [points_row(entry_id, fields) for entry_id, fields in entries if fields.get("type") == "points"]
        await self.repository.insert_events(draws, points)  # commits, or raises and nothing is acknowledged
        await self.store.acknowledge(source.stream, [entry_id for entry_id, _ in entries])
        self.written += len(entries)
        return len(entries)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
