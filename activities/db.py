"""SQL schema (the audit trail and the source Redis is rebuilt from) and the engine factory.

Times are epoch milliseconds (BigInteger): exact, time-zone free and the same on SQLite and
PostgreSQL. The schema is created by the Alembic migrations in `activities/migrations`.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

metadata = sa.MetaData()

MAX_COUNT = 1_000_000_000  # activities.model.MAX_COUNT (model imports nothing of SQL)


def bounded_integer(table: str, column: str) -> sa.CheckConstraint:
    """An integer in 0..MAX_COUNT that refuses floats, even on SQLite (migration 0007)."""
    condition = f"{column} BETWEEN 0 AND {MAX_COUNT} AND {column} = CAST({column} AS INTEGER)"
    return sa.CheckConstraint(condition, name=f"ck_{table}_{column}_bounded_integer")


activities = sa.Table(
    "activities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("starts_at_ms", sa.BigInteger, nullable=False),
    sa.Column("ends_at_ms", sa.BigInteger, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("skin", sa.String(50)),
    sa.Column("audience", sa.JSON, nullable=False),
    # A lottery's limits and points cost (lottery/repository.py writes and reads them); other
    # gameplays' activities take these defaults.
    sa.Column("limits", sa.JSON, nullable=False, default=lambda: {}),
    sa.Column("points_cost", sa.Integer, nullable=False, default=0),
    sa.Column("pity_after", sa.Integer),  # a lottery's pity rule (migration 0017); NULL: none
    sa.Column("budget_cny", sa.Numeric(14, 2)),  # a lottery's budget (lottery/pacing.py); NULL: none
    sa.Column("config", sa.JSON),  # a gameplay's own settings (sign-in cycle and rewards...); NULL for lotteries
    sa.Column("experiment", sa.JSON),  # A/B variants (activities/experiment.py); NULL: none
    # How many Redis slots the activity's live state spreads over (a lottery's stock_buckets,
    # lottery/buckets.py; migration 0021); NULL: one, the activity's own.
    sa.Column("buckets", sa.Integer),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)

points_ledger = sa.Table(
    "points_ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ref", sa.String(200), nullable=False, unique=True),  # one change per reference
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("shard", sa.Integer, nullable=False),  # the Redis wallet shard, for rebuilds
    sa.Column("delta", sa.BigInteger, nullable=False),
    sa.Column("balance_after", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("activity_id", sa.Integer),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(32), nullable=False),
    sa.Index("ix_points_ledger_shard_user", "shard", "user_id"),
    sa.Index("ix_points_ledger_user_at", "user_id", "at_ms"),
)

operator_actions = sa.Table(
    "operator_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity_id", sa.Integer, nullable=False, index=True),
    sa.Column("operator_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
)


# Stream entries the audit writer could not turn into rows (a malformed or out-of-range field):
# kept here with the error, acknowledged, so that they never block the stream behind them.
audit_dead_letters = sa.Table(
    "audit_dead_letters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("stream", sa.String(64), nullable=False),
    sa.Column("entry_id", sa.String(32), nullable=False),
    sa.Column("activity_id", sa.Integer),  # NULL for a wallet shard's stream
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("error", sa.String(500), nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("stream", "entry_id", name="uq_audit_dead_letters_entry"),
    sa.Index("ix_audit_dead_letters_activity", "activity_id"),
)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _private_sqlite_file(engine.url.database)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _private_sqlite_file(database: str | None) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use 0644 under the usual umask);
    SQLite gives its -wal and -shm files the database file's permissions."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError):  # no folder: SQLite says so itself
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for path in (database, f"{database}-wal", f"{database}-shm"):  # files from before: tighten them
        with contextlib.suppress(OSError):
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, 0o600)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the audit writer commits; the timeout rides out a busy writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# Facts already counted by the counter tables (activities/audit_sql.py increment rows): a stream
# entry, a member's first action of a day... A counter row counts only if its guard is new here.
increment_guards = sa.Table(
    "increment_guards",
    metadata,
    sa.Column("guard", sa.String(255), primary_key=True),
)
