"""CSV, streamed: a report's rows, and the raw events of an activity over a range of local days
(its audit trail tables, read with a server-side cursor a chunk at a time, so a million rows never
sit in memory)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.model import Activity

TIME_COLUMNS = ("drawn_at_ms", "at_ms", "created_at_ms", "started_at_ms")
CHUNK = 2000


def _line(values: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return out.getvalue()


async def report_csv(rows: Sequence[dict[str, Any]]) -> AsyncIterator[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    yield _line(columns)
    for start in range(0, len(rows), CHUNK):
        yield "".join(_line(row.get(c) for c in columns) for row in rows[start : start + CHUNK])


def ms_bounds(activity: Activity, first: str, last: str) -> tuple[int, int]:
    """[start, end) in epoch ms of the local days first..last."""
    tz = activity.tz
    start = datetime.combine(date.fromisoformat(first), time(), tz)
    end = datetime.combine(date.fromisoformat(last) + timedelta(days=1), time(), tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def event_tables(tables: Iterable[sa.Table]) -> list[tuple[sa.Table, sa.Column[Any]]]:
    """The tables of an activity's audit trail that have an activity and a time column."""
    found = []
    for table in tables:
        when = next((table.c[name] for name in TIME_COLUMNS if name in table.c), None)
        if "activity_id" in table.c and when is not None:
            found.append((table, when))
    return found


async def events_csv(
    engine: AsyncEngine, activity: Activity, tables: Iterable[sa.Table], first: str, last: str
) -> AsyncIterator[str]:
    """`table,at,<the table's columns>` per event, table after table, in time order."""
    start, end = ms_bounds(activity, first, last)
    tz = activity.tz
    yield _line(["table", "at", "fields"])
    async with engine.connect() as conn:
        for table, when in event_tables(tables):
            query = (
                sa.select(table)
                .where(table.c.activity_id == activity.id, when >= start, when < end)
                .order_by(when)
                .execution_options(yield_per=CHUNK)
            )
            result = await conn.stream(query)
            async for chunk in result.partitions(CHUNK):
                yield "".join(
                    _line(
                        [
                            table.name,
                            datetime.fromtimestamp(row._mapping[when.name] / 1000, tz).isoformat(),
                            ";".join(f"{k}={v}" for k, v in row._mapping.items() if k != "id"),
                        ]
                    )
                    for row in chunk
                )
