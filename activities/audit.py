"""The audit writer: Redis Streams -> SQL, at least once, without duplicates.

It follows every published activity's stream and every wallet shard's stream. Each step reads
new entries from all of them through the consumer group (one pipelined round trip), turns each
into SQL rows with the handler of its event type (the kernel's: points; each gameplay's: draw,
chances, sign-in marks...), writes the step's rows in one transaction (one executemany per table), and
only after the commit acknowledges them (one pipelined round trip). Entries left pending by a
consumer that died are taken over with XAUTOCLAIM. Unique keys in SQL (draw id, wallet
reference, mark id...) make a second delivery harmless. Only acknowledged entries are ever
trimmed, every few seconds, in two round trips for all the streams.

An entry that cannot be written (a field that is not a number, a value out of range) is moved
to the dead-letter table `audit_dead_letters` and acknowledged: it never blocks the entries
behind it. A failed transaction is split in halves until the bad entry is found; an operational
failure (the database is down or locked) quarantines nothing: the step fails and is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from activities import db
from activities.audit_rows import KERNEL_HANDLERS, EventHandler
from activities.audit_rows import Row as Row  # re-exported: gameplays' handlers return rows
from activities.audit_store import AuditStore
from activities.keys import WALLET_SHARDS, ActivityKeys, WalletKeys
from activities.metrics import AUDIT_BACKLOG, AUDIT_BATCH, AUDIT_FAILURES, AUDIT_LAG, AUDIT_QUARANTINED, AUDIT_WRITTEN
from activities.model import PUBLISHED_STATUSES
from activities.repository import ActivityRepository

log = logging.getLogger("promo.audit")

Entry = tuple[str, dict[str, str]]
# (activity id, entry id, fields, the rows of the entry) -> more rows for the same transaction
RowProducer = Callable[[int | None, str, dict[str, str], list[Row]], Awaitable[list[Row]]]

# The writer's lag bound (the age of the oldest event not yet in SQL), as documented and as
# tests/e2e/test_sustained_load.py checks it under load: what a rebuild from SQL may be missing is at
# most this many seconds of events (plus whatever a dead writer held).
LAG_BOUND_S = 1.0


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Source:
    stream: str
    activity_id: int | None  # None for wallet streams


@dataclass
class _Item:
    """One stream entry on its way to SQL: its rows, or the dead-letter row that replaces them."""

    source: Source
    entry_id: str
    fields: dict[str, str]
    rows: list[Row]
    error: str | None = None  # set when quarantined


_GC_GEN0 = 10_000  # allocations between young collections (CPython's default: 700)
_gc_tuned = False


def tune_gc() -> None:
    """Once per process: the objects of the start-up (modules, metadata, compiled statements) are
    set apart from the cyclic collector (`gc.freeze`), and young collections run every
    `_GC_GEN0` allocations. A step allocates a few dicts per row; with CPython's defaults the
    collector took a fifth of the writer's CPU (`loadtests/writer_bench.py`: 95 to 73 µs per
    entry). Process-wide, so the API beside the inline writer gets the same."""
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    gen0, *older = gc.get_threshold()
    gc.set_threshold(max(gen0, _GC_GEN0), *older)


def is_operational(exc: BaseException) -> bool:
    """A failure of the database or of the connection to it (retry later), as opposed to a
    failure of the data (an entry that no retry will ever write: quarantine it)."""
    if isinstance(exc, sa.exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.ProgrammingError | sa.exc.InternalError
        )
    return isinstance(exc, sa.exc.TimeoutError | sa.exc.DisconnectionError | OSError | TimeoutError)


class AuditWriter:
    def __init__(
        self,
        store: AuditStore,
        repository: ActivityRepository,
        *,
        handlers: Mapping[str, EventHandler] | None = None,
        producers: Sequence[RowProducer] = (),
        streams: Sequence[str] = (),
        consumer: str | None = None,
        batch_size: int = 2000,  # entries read per stream per step
        claim_idle_ms: int = 30_000,
        claim_interval_s: float = 5.0,
        trim_interval_s: float = 1.0,  # two round trips for all streams: cheap, and keeps memory down
        poll_interval_s: float = 0.05,
        refresh_interval_s: float = 1.0,  # how soon a newly published activity is followed
        metrics_interval_s: float = 2.0,  # how often backlog and lag gauges are sampled
        shutdown_drain_s: float = 10.0,  # how long `run` keeps writing once asked to stop
    ) -> None:
        self.store = store
        self.repository = repository
        self.handlers: dict[str, EventHandler] = {**KERNEL_HANDLERS, **(handlers or {})}
        # Extra rows of any entry, written in the same transaction as the entry's own (the outbox
        # of a grant: outbound/producer.py); composed in by the platform, never imported here.
        self.producers = tuple(producers)
        # More streams outside any activity, followed like the wallets' (members' events: events/).
        self.streams = tuple(streams)
        self.consumer = consumer or consumer_name()
        self.batch_size = batch_size
        self.claim_idle_ms = claim_idle_ms
        self.claim_interval_s = claim_interval_s
        self.trim_interval_s = trim_interval_s
        self.poll_interval_s = poll_interval_s
        self.refresh_interval_s = refresh_interval_s
        self.metrics_interval_s = metrics_interval_s
        self.shutdown_drain_s = shutdown_drain_s
        self._claimed_at = self._trimmed_at = self._sampled_at = self._refreshed_at = 0.0
        self._sources: list[Source] = []
        self._backed_up = False  # the last step read a full batch from some stream
        self._retry_own = False  # a write failed: read this consumer's unacknowledged entries again
        self.written = 0
        self.quarantined = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Write until `stop` is set, then drain what is there for up to `shutdown_drain_s`."""
        log.info("audit writer %s started", self.consumer)
        tune_gc()
        while not stop.is_set():
            try:
                await self.step()
            except Exception:  # keep going: nothing is acknowledged unless committed
                AUDIT_FAILURES.inc()
                log.exception("audit writer step failed; retrying")
                self._backed_up = False
                await _sleep_or_stop(stop, 0.5)
            if not self._backed_up:  # not behind: let a batch build up meanwhile
                await _sleep_or_stop(stop, self.poll_interval_s)
        await self.drain_on_shutdown()
        log.info("audit writer %s stopped after %d entries", self.consumer, self.written)

    async def drain_on_shutdown(self) -> int:
        """Write what the streams hold, for at most `shutdown_drain_s`; what is left stays in
        Redis (pending or undelivered) for the next writer. Returns the entries written."""
        started, written = time.monotonic(), 0
        deadline = started + self.shutdown_drain_s
        self._refreshed_at = 0.0
        while (left := deadline - time.monotonic()) > 0:
            try:
                # Cut short, a step leaves its entries unacknowledged: they are written again later.
                wrote = await asyncio.wait_for(self.step(claim=False), timeout=left)
            except TimeoutError:
                break
            except Exception:
                AUDIT_FAILURES.inc()
                log.exception("audit writer step failed while draining")
                await asyncio.sleep(min(0.5, max(deadline - time.monotonic(), 0)))
                continue
            written += wrote
            if wrote == 0:
                break
        backlog = 0
        with contextlib.suppress(Exception):
            backlog = await self.backlog()
        log.info(
            "audit writer %s drained %d entries in %.1f s on shutdown; %d left in Redis",
            self.consumer,
            written,
            time.monotonic() - started,
            backlog,
        )
        return written

    async def step(self, claim: bool | None = None) -> int:
        """One pass over every followed stream. Returns the number of entries written.

        Entries of dead consumers are claimed every `claim_interval_s` (or when `claim` is True):
        they are rare, and XAUTOCLAIM on every pass would cost work on every stream."""
        await self._refresh_sources()
        now = time.monotonic()
        if claim is None:
            claim = now - self._claimed_at >= self.claim_interval_s
        by_stream = {source.stream: source for source in self._sources}
        streams = list(by_stream)
        batches: list[tuple[Source, list[Entry]]] = []
        if claim:
            self._claimed_at = now
            stale = await self.store.claim_stale_many(streams, self.consumer, self.claim_idle_ms, self.batch_size)
            batches += [(by_stream[stream], entries) for stream, entries in stale.items()]
        more_own = False
        if self._retry_own:  # what a failed step read and left unacknowledged, before anything new
            own = await self.store.read_new_many(streams, self.consumer, self.batch_size, own_pending=True)
            batches += [(by_stream[stream], entries) for stream, entries in own.items()]
            more_own = any(len(entries) >= self.batch_size for entries in own.values())
        if len(batches) > 1:  # claimed and re-read entries may overlap (our own, idle too long)
            batches = _unique(batches)
        fresh = await self.store.read_new_many(streams, self.consumer, self.batch_size)
        self._backed_up = any(len(entries) >= self.batch_size for entries in fresh.values())
        batches += [(by_stream[stream], entries) for stream, entries in fresh.items()]
        self._retry_own = True  # until this step's write has succeeded
        written = await self._write(batches)
        self._retry_own = more_own  # a full batch of its own: there may be more
        if now - self._trimmed_at >= self.trim_interval_s:
            self._trimmed_at = now
            await self.store.trim_many(streams)
        if now - self._sampled_at >= self.metrics_interval_s:
            self._sampled_at = now
            await self.sample()
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
        found = await self.store.backlog_many([source.stream for source in self._sources])
        return sum(b.entries for b in found.values())

    async def sample(self) -> float:
        """Set the backlog and lag gauges of every followed stream; returns the largest lag (s)."""
        found = await self.store.backlog_many([source.stream for source in self._sources])
        for stream, backlog in found.items():
            AUDIT_BACKLOG.labels(stream).set(backlog.entries)
            AUDIT_LAG.labels(stream).set(backlog.lag_ms / 1000)
        return max((b.lag_ms for b in found.values()), default=0) / 1000

    async def _refresh_sources(self) -> None:
        now = time.monotonic()
        if now - self._refreshed_at < self.refresh_interval_s and self._sources:
            return
        activities = await self.repository.list_buckets(PUBLISHED_STATUSES)
        self._sources = (
            [Source(ActivityKeys(i, b).events, i) for i, buckets in activities for b in range(buckets)]
            + [Source(WalletKeys(shard).events, None) for shard in range(WALLET_SHARDS)]
            + [Source(stream, None) for stream in self.streams]
        )
        self._refreshed_at = now

    async def _write(self, batches: list[tuple[Source, list[Entry]]]) -> int:
        """Write every entry of the step in one transaction, then acknowledge them all."""
        items: list[_Item] = []
        for source, entries in batches:
            for entry_id, fields in entries:
                items.append(await self._prepare(source, entry_id, fields))
        if not items:
            return 0
        await self._commit(items)  # commits, or raises and nothing is acknowledged
        acknowledged: dict[str, list[str]] = defaultdict(list)
        for item in items:
            acknowledged[item.source.stream].append(item.entry_id)
        await self.store.acknowledge_many(acknowledged)
        for item in items:
            if item.error is not None:
                self.quarantined += 1
                AUDIT_QUARANTINED.inc()
                log.error("audit entry quarantined: %s %s: %s", item.source.stream, item.entry_id, item.error)
        self.written += len(items)
        AUDIT_WRITTEN.inc(len(items))
        return len(items)

    async def _prepare(self, source: Source, entry_id: str, fields: dict[str, str]) -> _Item:
        item = _Item(source, entry_id, fields, [])
        handler = self.handlers.get(fields.get("type", ""))
        if handler is None:
            _quarantine(item, f"no handler for event type {fields.get('type')!r}")
            return item
        try:
            item.rows = await handler(source.activity_id, entry_id, fields)
            for producer in self.producers:
                item.rows += await producer(source.activity_id, entry_id, fields, item.rows)
        except Exception as exc:
            if is_operational(exc):
                raise
            _quarantine(item, f"{type(exc).__name__}: {exc}")
        return item

    async def _commit(self, items: list[_Item]) -> None:
        """One transaction for all the rows of `items`. If it fails on the data, halves are
        written separately until the entry that fails alone is found and quarantined."""
        rows: dict[sa.Table, list[dict[str, Any]]] = defaultdict(list)
        for item in items:
            for table, row in item.rows:
                rows[table].append(row)
        try:
            await self.repository.insert_rows(rows)
            AUDIT_BATCH.observe(len(items))
            return
        except Exception as exc:
            if is_operational(exc):
                raise
            if len(items) == 1 and items[0].error is None:
                _quarantine(items[0], f"{type(exc).__name__}: {exc}")
                await self._commit(items)  # the dead-letter row alone; if that fails, raise
                return
            if len(items) == 1:
                raise
        middle = len(items) // 2
        await self._commit(items[:middle])
        await self._commit(items[middle:])


def _unique(batches: list[tuple[Source, list[Entry]]]) -> list[tuple[Source, list[Entry]]]:
    """The batches with each (stream, entry id) once."""
    merged: dict[Source, dict[str, dict[str, str]]] = defaultdict(dict)
    for source, entries in batches:
        merged[source].update(entries)
    return [(source, list(entries.items())) for source, entries in merged.items()]


def _quarantine(item: _Item, error: str) -> None:
    """Replace the entry's rows by a dead-letter row."""
    item.error = error[:500]
    item.rows = [
        (
            db.audit_dead_letters,
            {
                "stream": item.source.stream,
                "entry_id": item.entry_id,
                "activity_id": item.source.activity_id,
                "fields": item.fields,
                "error": item.error,
                "at_ms": int(time.time() * 1000),
            },
        )
    ]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
