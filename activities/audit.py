"""The audit writer: Redis Streams -> SQL, at least once, without duplicates.

It follows every published activity's stream and every wallet shard's stream. From each it
reads new entries through the consumer group, turns each into SQL rows with the handler of its
event type (the kernel's: draw, chances, points; gameplays register theirs), writes a batch in
one transaction (executemany per table), and acknowledges it only after the commit. Entries left
pending by a consumer that died are taken over with XAUTOCLAIM. Unique keys in SQL (draw id,
wallet reference, mark id...) make a second delivery harmless. Only acknowledged entries are
ever trimmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa

from activities import db
from activities.keys import WALLET_SHARDS, ActivityKeys, WalletKeys, wallet_shard
from activities.model import PUBLISHED_STATUSES
from activities.repository import ActivityRepository, DrawRow, PointsRow
from activities.store import AuditStore

log = logging.getLogger("promo.audit")

Entry = tuple[str, dict[str, str]]
Row = tuple[sa.Table, dict[str, Any]]
# (activity id of the stream or None for a wallet stream, entry id, fields) -> the rows to write
EventHandler = Callable[[int | None, str, dict[str, str]], Awaitable[list[Row]]]


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
        kind=fields.get("kind", "draw"),
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


async def _draw_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    """A draw, a draw paid with a chance (which also spends the chance), or a grant."""
    if activity_id is None:
        raise ValueError(f"draw event {entry_id} outside an activity stream")
    row = draw_row(activity_id, entry_id, fields)
    rows: list[Row] = [(db.draws, msgspec.structs.asdict(row))]
    if row.kind == "chance":
        rows.append(
            (
                db.chance_ledger,
                _chance_row(activity_id, f"use:{row.draw_id}", row.user_id, -1, "draw", entry_id, row.drawn_at_ms),
            )
        )
    return rows


async def _chances_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    if activity_id is None:
        raise ValueError(f"chances event {entry_id} outside an activity stream")
    row = _chance_row(
        activity_id,
        fields["ref"],
        fields["user_id"],
        int(fields["delta"]),
        fields["reason"],
        entry_id,
        int(fields["at_ms"]),
    )
    return [(db.chance_ledger, row)]


def _chance_row(
    activity_id: int, ref: str, user_id: str, delta: int, reason: str, entry_id: str, at_ms: int
) -> dict[str, Any]:
    return {
        "ref": ref,
        "activity_id": activity_id,
        "user_id": user_id,
        "delta": delta,
        "reason": reason,
        "at_ms": at_ms,
        "stream_id": entry_id,
    }


async def _points_rows(_activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    return [(db.points_ledger, msgspec.structs.asdict(points_row(entry_id, fields)))]


KERNEL_HANDLERS: dict[str, EventHandler] = {"draw": _draw_rows, "chances": _chances_rows, "points": _points_rows}


class AuditWriter:
    def __init__(
        self,
        store: AuditStore,
        repository: ActivityRepository,
        *,
        handlers: Mapping[str, EventHandler] | None = None,
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
        self.handlers: dict[str, EventHandler] = {**KERNEL_HANDLERS, **(handlers or {})}
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
        activity_ids = await self.repository.list_ids(PUBLISHED_STATUSES)
        self._sources = [Source(ActivityKeys(i).events, i) for i in activity_ids] + [
            Source(WalletKeys(shard).events, None) for shard in range(WALLET_SHARDS)
        ]
        self._refreshed_at = now

    async def _write(self, source: Source, entries: list[Entry]) -> int:
        if not entries:
            return 0
        rows: dict[sa.Table, list[dict[str, Any]]] = defaultdict(list)
        for entry_id, fields in entries:
            handler = self.handlers.get(fields.get("type", ""))
            if handler is None:
                log.error(
                    "%s %s: no handler for event type %r; acknowledged unwritten",
                    source.stream,
                    entry_id,
                    fields.get("type"),
                )
                continue
            for table, row in await handler(source.activity_id, entry_id, fields):
                rows[table].append(row)
        await self.repository.insert_rows(rows)  # commits, or raises and nothing is acknowledged
        await self.store.acknowledge(source.stream, [entry_id for entry_id, _ in entries])
        self.written += len(entries)
        return len(entries)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
