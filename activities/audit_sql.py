"""SQL of the audit writer: its transaction (the rows of a step's stream entries, inserted once
each) and the dead-letter table of the entries it quarantined."""

from __future__ import annotations

import weakref
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
    stored: list[str] = []
    async with engine.begin() as conn:
        counted = {table: batch for table, batch in rows.items() if table.info.get("increments")}
        for table, batch in rows.items():
            if table not in counted:
                await _insert_many(conn, table, batch)
        if counted:
            stored = await increment_many(conn, counted)
    _remember(engine, stored)  # committed: these guards are stored for good


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


CLAIM = "_claim"
AMOUNTS = "_amounts"  # the row's increments, apart from its key: summed without a walk over every column
KEY = "_key"  # the row's unique key columns and their values


def increment_row(
    table: sa.Table, guard: str, key: Mapping[str, Any], amounts: Mapping[str, int], claim: str | None = None
) -> dict[str, Any]:
    """A counter row for `table` (its `info["increments"]` columns not given add 0). Rows with the
    same guard and `claim` (a stream entry counted in several rows) count together."""
    row = {KEY: key, AMOUNTS: amounts, GUARD: guard}  # not merged: rows of one key share its dict
    if claim is not None:
        row[CLAIM] = claim
    return row


# Guards known to be stored (committed) in each engine's database, so not sent again: a member's
# day and first action recur with every action. Bounded; forgetting one only costs a lookup.
_KNOWN: weakref.WeakKeyDictionary[Any, dict[str, None]] = weakref.WeakKeyDictionary()
_KNOWN_MAX = 200_000


def _known(engine: AsyncEngine | AsyncConnection) -> dict[str, None]:
    return _KNOWN.setdefault(engine.sync_engine, {})


def _remember(engine: AsyncEngine, guards: list[str]) -> None:
    known = _known(engine)
    for guard in guards:
        known[guard] = None
    while len(known) > _KNOWN_MAX:
        del known[next(iter(known))]


async def increment_many(conn: AsyncConnection, rows: Mapping[sa.Table, Sequence[Mapping[str, Any]]]) -> list[str]:
    """Add the rows whose guard is new; returns the guards now stored (to remember once committed)."""
    known = _known(conn)
    guards = [g for g in dict.fromkeys(row[GUARD] for batch in rows.values() for row in batch) if g not in known]
    fresh = await _new_guards(conn, guards)
    owner: dict[str, object] = {}
    for table, batch in rows.items():
        amounts: list[str] = list(table.info["increments"])
        keys: list[str] = list(table.info["key"])  # the columns of its unique key
        index = {name: i for i, name in enumerate(amounts)}
        key_of = itemgetter(*keys) if len(keys) > 1 else lambda row, k=keys[0]: (row[k],)
        totals: dict[tuple[Any, ...], list[int]] = {}
        for row in batch:
            guard = row[GUARD]
            if guard not in fresh:
                continue
            claim = row.get(CLAIM) or object()  # rows of one claim (one entry) share their guard
            if owner.setdefault(guard, claim) != claim:
                continue  # a guard counts once: for its first claim in the step
            key = key_of(row[KEY])
            total = totals.get(key)
            if total is None:
                total = totals[key] = [0] * len(amounts)
            for name, value in row[AMOUNTS].items():
                i = index.get(name)  # a name the table does not count adds nothing
                if i is not None:
                    total[i] += value
        if totals:
            await _upsert(conn, table, keys, amounts, totals)
    return guards


async def _upsert(
    conn: AsyncConnection,
    table: sa.Table,
    keys: list[str],
    amounts: list[str],
    totals: dict[tuple[Any, ...], list[int]],
) -> None:
    upsert = _insert_for(conn, table)
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={name: table.c[name] + upsert.excluded[name] for name in amounts},
    )
    values = [
        dict(zip(keys, key, strict=True)) | dict(zip(amounts, total, strict=True)) for key, total in totals.items()
    ]
    await conn.execute(upsert, values)


async def _new_guards(conn: AsyncConnection, guards: list[str]) -> set[str]:
    """Store the guards; those that were not stored before. On SQLite one multi-row statement per
    chunk straight to the driver (SQLAlchemy's per-row processing would double the writer's time)."""
    fresh: set[str] = set()
    if conn.dialect.name == "sqlite":
        for start in range(0, len(guards), _GUARD_CHUNK):
            params = tuple(guards[start : start + _GUARD_CHUNK])
            values = ",".join(["(?)"] * len(params))
            sql = f"INSERT INTO increment_guards (guard) VALUES {values} ON CONFLICT DO NOTHING RETURNING guard"
            fresh.update(row[0] for row in (await conn.exec_driver_sql(sql, params)).all())
        return fresh
    insert = _insert_for(conn, db.increment_guards).on_conflict_do_nothing()
    column = db.increment_guards.c.guard
    for start in range(0, len(guards), _GUARD_CHUNK):
        chunk = [{"guard": guard} for guard in guards[start : start + _GUARD_CHUNK]]
        fresh.update((await conn.execute(insert.returning(column), chunk)).scalars())
    return fresh


_GUARD_CHUNK = 2000  # SQLite takes up to 32,766 parameters a statement


def _insert_for(conn: AsyncConnection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
