"""SQL access of the kernel: activities (written by operators), the operator log, the points
ledger; the audit writer's inserts. Each gameplay's own tables have their own repository
(lottery/repository.py...)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import audit_sql, db
from activities.clock import to_ms
from activities.experiment import Experiment
from activities.model import MAX_COUNT, Activity, ActivityBase, Audience, Status

# A gameplay's own rows of a new activity, written in the transaction that creates it.
WriteRows = Callable[[AsyncConnection, int], Awaitable[None]]

# What a stored time is read as at most: a row written before times were bounded (year 1, year
# 82269...) reads as the nearest time every time zone can still show, never as an error.
_MIN_MS = to_ms(datetime(1, 1, 2, tzinfo=UTC))
_MAX_MS = to_ms(datetime(9999, 12, 30, tzinfo=UTC))


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(min(max(ms, _MIN_MS), _MAX_MS) / 1000, UTC)


class PointsRow(msgspec.Struct, kw_only=True):
    ref: str
    user_id: str
    shard: int
    delta: int
    balance_after: int
    reason: str
    activity_id: int | None
    at_ms: int
    stream_id: str


class ActivityRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(
        self,
        spec: ActivityBase,
        type_: str,
        operator_id: str,
        now_ms: int,
        config: dict[str, Any] | None = None,
        *,
        columns: Mapping[str, Any] | None = None,
        write: WriteRows | None = None,
    ) -> int:
        """A draft activity in one transaction: the kernel's fields, a gameplay's settings as
        `config` or as its own `columns` of the activities table, and its own rows (`write`)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.insert(db.activities).values(
                    type=type_,
                    name=spec.name,
                    status="draft",
                    starts_at_ms=to_ms(spec.starts_at),
                    ends_at_ms=to_ms(spec.ends_at),
                    timezone=spec.timezone,
                    skin=spec.skin,
                    audience=msgspec.to_builtins(spec.audience),
                    config=config,
                    experiment=msgspec.to_builtins(spec.experiment) if spec.experiment else None,
                    created_at_ms=now_ms,
                    updated_at_ms=now_ms,
                    **(columns or {}),
                )
            )
            assert result.inserted_primary_key is not None
            activity_id = int(result.inserted_primary_key[0])
            if write is not None:
                await write(conn, activity_id)
            await log_action(conn, activity_id, operator_id, "create", {"name": spec.name}, now_ms)
            # Read back before committing: a row that does not read back as an activity is
            # never committed (the whole create is one transaction with this check).
            await self._read(conn, activity_id)
        return activity_id

    async def get(self, activity_id: int) -> Activity | None:
        async with self.engine.connect() as conn:
            return await self._read(conn, activity_id)

    @staticmethod
    async def _read(conn: AsyncConnection, activity_id: int) -> Activity | None:
        row = (await conn.execute(sa.select(db.activities).where(db.activities.c.id == activity_id))).first()
        return None if row is None else _activity(row._mapping)

    async def list_ids(self, statuses: Sequence[str] | None = None, types: Sequence[str] | None = None) -> list[int]:
        query = sa.select(db.activities.c.id).order_by(db.activities.c.id)
        if statuses is not None:
            query = query.where(db.activities.c.status.in_(statuses))
        if types is not None:
            query = query.where(db.activities.c.type.in_(types))
        async with self.engine.connect() as conn:
            return [int(r[0]) for r in (await conn.execute(query)).all()]

    async def list_buckets(self, statuses: Sequence[str]) -> list[tuple[int, int]]:
        """(id, buckets) of the activities in `statuses`: the Redis slots each one's live state
        (and its audit stream) spreads over (activities/keys.py `tag`)."""
        query = sa.select(db.activities.c.id, db.activities.c.buckets).order_by(db.activities.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.where(db.activities.c.status.in_(statuses)))).all()
        return [(int(r[0]), int(r[1] or 1)) for r in rows]

    async def set_status(
        self, activity_id: int, expected: Sequence[str], status: Status, operator_id: str, now_ms: int
    ) -> bool:
        """Compare-and-set on the status; False if it was not one of `expected`."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(db.activities)
                .where(db.activities.c.id == activity_id, db.activities.c.status.in_(expected))
                .values(status=status, updated_at_ms=now_ms)
            )
            if result.rowcount != 1:
                return False
            await log_action(conn, activity_id, operator_id, "status", {"status": status}, now_ms)
        return True

    # --- draws --------------------------------------------------------------------------------

    async def insert_rows(self, rows: Mapping[sa.Table, Sequence[Mapping[str, Any]]]) -> None:
        await audit_sql.insert_rows(self.engine, rows)  # the audit writer's transaction

    async def dead_letters(self, limit: int, activity_id: int | None = None) -> list[dict[str, Any]]:
        return await audit_sql.dead_letters(self.engine, limit, activity_id)

    async def count_dead_letters(self, activity_id: int) -> int:
        return await audit_sql.count_dead_letters(self.engine, activity_id)

    async def balances_of_shard(self, shard: int) -> dict[str, int]:
        query = (
            sa.select(db.points_ledger.c.user_id, sa.func.sum(db.points_ledger.c.delta))
            .where(db.points_ledger.c.shard == shard)
            .group_by(db.points_ledger.c.user_id)
        )
        async with self.engine.connect() as conn:
            return {str(u): int(n) for u, n in (await conn.execute(query)).all()}

    async def orphan_costs(self, reason: str, prefix: str, event_id: sa.Column[Any], before_ms: int) -> list[PointsRow]:
        """Costs (ledger rows of `reason`, ref `<prefix><event id>`) older than `before_ms` with
        neither their event (`event_id` equal to the ref without its prefix) nor a refund in SQL:
        the state change they paid for never happened."""
        ledger, refunds = db.points_ledger, db.points_ledger.alias("refunds")
        query = (
            sa.select(*[ledger.c[name] for name in PointsRow.__struct_fields__])
            .where(
                ledger.c.reason == reason,
                ledger.c.at_ms < before_ms,
                ~sa.exists().where(event_id == sa.func.substr(ledger.c.ref, len(prefix) + 1)),
                ~sa.exists().where(refunds.c.ref == sa.literal("refund:") + ledger.c.ref),
            )
            .limit(1000)
        )
        async with self.engine.connect() as conn:
            return [PointsRow(**row._mapping) for row in (await conn.execute(query)).all()]

    async def count_by(self, column: sa.Column[Any], values: Sequence[str]) -> dict[str, int]:
        """How many rows hold each of `values` in `column` (values with none are left out)."""
        query = sa.select(column, sa.func.count()).where(column.in_(values)).group_by(column)
        async with self.engine.connect() as conn:
            return {str(v): int(n) for v, n in (await conn.execute(query)).all()}


async def log_action(
    conn: AsyncConnection, activity_id: int, operator_id: str, action: str, detail: Any, now_ms: int
) -> None:
    await conn.execute(
        sa.insert(db.operator_actions).values(
            activity_id=activity_id, operator_id=operator_id, action=action, detail=detail, at_ms=now_ms
        )
    )


def _activity(row: Any) -> Activity:
    return Activity(
        id=row["id"],
        type=row["type"],
        name=row["name"],
        status=row["status"],
        starts_at=_dt(row["starts_at_ms"]),
        ends_at=_dt(row["ends_at_ms"]),
        timezone=row["timezone"],
        skin=row["skin"],
        audience=stored(row["audience"], Audience),
        config=row["config"] or {},
        experiment=_experiment(row.get("experiment")),
        buckets=row.get("buckets") or 1,
    )


S = TypeVar("S")


def _experiment(value: Any) -> Experiment | None:
    return None if value is None else msgspec.convert(value, Experiment)


def stored(value: dict[str, Any], shape: type[S]) -> S:
    """A stored struct, as it was stored: one written before the bounds of the boundary (a label
    with a control character...) is still read (the constructor checks types, not bounds)."""
    try:
        return msgspec.convert(value, shape)
    except msgspec.ValidationError:
        return shape(**value)


def clamped(value: Any) -> Any:
    """A stored limit above MAX_COUNT (written before the bound) reads as MAX_COUNT, which Lua
    and the audit trail hold exactly."""
    return min(value, MAX_COUNT) if isinstance(value, int) and not isinstance(value, bool) else value
