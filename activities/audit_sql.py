"""SQL of the audit writer: its transaction (the rows of a step's stream entries, inserted once
each) and the dead-letter table of the entries it quarantined."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import db


async def insert_rows(engine: AsyncEngine, rows: Mapping[sa.Table, Sequence[Mapping[str, Any]]]) -> None:
    """One transaction, one executemany per table. A row that is already stored (same draw id,
    wallet reference, mark id...) is skipped, so a second delivery of a stream entry changes
    nothing. Every row of a table has the same keys (the first row's)."""
    rows = {table: batch for table, batch in rows.items() if batch}
    if not rows:
        return
    async with engine.begin() as conn:
        counted = {table: batch for table, batch in rows.items() if table.info.get("increments")}
        for table, batch in rows.items():
            if table not in counted:
                await _insert_many(conn, table, batch)
        if counted:
            await increment_many(conn, counted)


async def dead_letters(engine: AsyncEngine, limit: int, activity_id: int | None = None) -> list[dict[str, Any]]:
    """Entries the audit writer quarantined, newest first (optionally of one activity)."""
    table = db.audit_dead_letters
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    if activity_id is not None:
        query = query.where(table.c.activity_id == activity_id)
    async with engine.connect() as conn:
        return [{str(k): v for k, v in row._mapping.items()} for row in (await conn.execute(query)).all()]


async def count_dead_letters(engine: AsyncEngine, activity_id: int) -> int:
    table = db.audit_dead_letters
    query = sa.select(sa.func.count()).where(table.c.activity_id == activity_id)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


_PREPARED: dict[tuple[str, sa.Table, tuple[str, ...]], tuple[str, tuple[str, ...]] | None] = {}


async def _insert_many(conn: AsyncConnection, table: sa.Table, batch: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING of many rows. When no column needs a type conversion,
    the statement is compiled once per table and the rows go to the driver's executemany as
    tuples (the audit writer's hot path: SQLAlchemy's per-row parameter processing was a third
    of its time); otherwise through SQLAlchemy."""
    dialect = conn.dialect
    insert = (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(table).on_conflict_do_nothing()
    names = tuple(batch[0])
    key = (dialect.name, table, names)
    if key not in _PREPARED:
        columns = [table.c[name] for name in names]
        if any(column.type.bind_processor(dialect) is not None for column in columns):
            _PREPARED[key] = None
        else:
            compiled = insert.values({name: sa.bindparam(name) for name in names}).compile(dialect=dialect)
            order = tuple(compiled.positiontup or ())
            _PREPARED[key] = (str(compiled), order) if compiled.positional and set(order) == set(names) else None
    prepared = _PREPARED[key]
    if prepared is None:
        await conn.execute(insert, list(batch))
        return
    sql, order = prepared
    if len(order) == 1:
        await conn.exec_driver_sql(sql, [(row[order[0]],) for row in batch])
    else:
        values = itemgetter(*order)
        await conn.exec_driver_sql(sql, [values(row) for row in batch])


# --- increment rows ---------------------------------------------------------------------------
# A table whose `info["increments"]` names columns (and `info["key"]` its unique key) is a
# counter table: its rows are added to the stored row of the same unique key
# (INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n),
# each only once: a row carries a `GUARD` (a string naming the fact it counts: a stream entry, a
# member's first action of a day...), and it counts only if that guard was never stored before
# (`db.increment_guards`). A second delivery of an entry, or a second action of a member on a day,
# adds nothing. A guard names one counted fact of one row key (the producer makes them so): only
# its first row in a step counts.

GUARD = "_guard"


def increment_row(table: sa.Table, guard: str, key: Mapping[str, Any], amounts: Mapping[str, int]) -> dict[str, Any]:
    """A counter row for `table` (its `info["increments"]` columns not given are 0)."""
    return {**key, **dict.fromkeys(table.info["increments"], 0), **amounts, GUARD: guard}


async def increment_many(conn: AsyncConnection, rows: Mapping[sa.Table, Sequence[Mapping[str, Any]]]) -> None:
    guards = list(dict.fromkeys(row[GUARD] for batch in rows.values() for row in batch))
    fresh: set[str] = set()
    insert = _insert_for(conn, db.increment_guards).on_conflict_do_nothing()
    column = db.increment_guards.c.guard
    for start in range(0, len(guards), 500):
        chunk = [{"guard": guard} for guard in guards[start : start + 500]]
        fresh.update((await conn.execute(insert.returning(column), chunk)).scalars())
    for table, batch in rows.items():
        amounts: list[str] = list(table.info["increments"])
        keys: list[str] = list(table.info["key"])  # the columns of its unique key
        totals: dict[tuple[Any, ...], list[int]] = {}
        for row in batch:
            if row[GUARD] not in fresh:
                continue
            fresh.discard(row[GUARD])  # a guard counts once: its first row in the step
            key = tuple(row[k] for k in keys)
            total = totals.setdefault(key, [0] * len(amounts))
            for i, name in enumerate(amounts):
                total[i] += row[name]
        if not totals:
            continue
        upsert = _insert_for(conn, table)
        upsert = upsert.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={name: table.c[name] + upsert.excluded[name] for name in amounts},
        )
        values = [
            dict(zip(keys, key, strict=True)) | dict(zip(amounts, total, strict=True)) for key, total in totals.items()
        ]
        await conn.execute(upsert, values)


def _insert_for(conn: AsyncConnection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
