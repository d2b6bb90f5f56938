"""SQL access: activities and prizes (written by operators), draws (written by the audit writer),
and the aggregates a rebuild of the live state needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import audit_sql, db
from activities.experiment import Experiment
from activities.model import MAX_COUNT, Activity, ActivityBase, ActivitySpec, Audience, Limits, Prize, Status

# What a stored time is read as at most: a row written before times were bounded (year 1, year
# 82269...) reads as the nearest time every time zone can still show, never as an error.
_MIN_MS = int(datetime(1, 1, 2, tzinfo=UTC).timestamp() * 1000)
_MAX_MS = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(min(max(ms, _MIN_MS), _MAX_MS) / 1000, UTC)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class DrawRow(msgspec.Struct, kw_only=True):
    draw_id: str
    kind: str  # draw | chance | grant (see db.DRAW_KINDS)
    activity_id: int
    user_id: str
    prize_id: int
    picked_prize_id: int
    rand: int
    day: str
    drawn_at_ms: int
    idempotency_key: str
    fingerprint: str
    left_today: int | None
    left_total: int | None
    stream_id: str
    channel: str | None = None
    source: str | None = None
    variant: str | None = None


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
        self, spec: ActivityBase, type_: str, operator_id: str, now_ms: int, config: dict[str, Any] | None = None
    ) -> int:
        """A draft activity: the kernel's fields, a lottery's limits and prizes (when `spec` is a
        lottery's), another gameplay's settings as `config`."""
        lottery = spec if isinstance(spec, ActivitySpec) else None
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.insert(db.activities).values(
                    type=type_,
                    name=spec.name,
                    status="draft",
                    starts_at_ms=_ms(spec.starts_at),
                    ends_at_ms=_ms(spec.ends_at),
                    timezone=spec.timezone,
                    skin=spec.skin,
                    audience=msgspec.to_builtins(spec.audience),
                    limits=msgspec.to_builtins(lottery.limits if lottery else Limits()),
                    points_cost=lottery.points_cost if lottery else 0,
                    config=config,
                    experiment=msgspec.to_builtins(spec.experiment) if spec.experiment else None,
                    created_at_ms=now_ms,
                    updated_at_ms=now_ms,
                )
            )
            assert result.inserted_primary_key is not None
            activity_id = int(result.inserted_primary_key[0])
            if lottery and lottery.prizes:
                await self._insert_prizes(conn, activity_id, lottery)
            await _log(conn, activity_id, operator_id, "create", {"name": spec.name}, now_ms)
            # Read back before committing: a row that does not read back as an activity is
            # never committed (the whole create is one transaction with this check).
            await self._read(conn, activity_id)
        return activity_id

    @staticmethod
    async def _insert_prizes(conn: AsyncConnection, activity_id: int, spec: ActivitySpec) -> None:
        await conn.execute(
            sa.insert(db.prizes),
            [
                {
                    "activity_id": activity_id,
                    "position": index,
                    "name": p.name,
                    "type": p.type,
                    "weight": p.weight,
                    "stock": p.stock,
                    "daily_stock": p.daily_stock,
                    "per_user_cap": p.per_user_cap,
                    "value_cny": p.value_cny,
                    "points": p.points,
                }
                for index, p in enumerate(spec.prizes)
            ],
        )

    async def get(self, activity_id: int) -> Activity | None:
        async with self.engine.connect() as conn:
            return await self._read(conn, activity_id)

    @staticmethod
    async def _read(conn: AsyncConnection, activity_id: int) -> Activity | None:
        row = (await conn.execute(sa.select(db.activities).where(db.activities.c.id == activity_id))).first()
        if row is None:
            return None
        prize_rows = (
            await conn.execute(
                sa.select(db.prizes).where(db.prizes.c.activity_id == activity_id).order_by(db.prizes.c.position)
            )
        ).all()
        return _activity(row._mapping, [r._mapping for r in prize_rows])

    async def list_ids(self, statuses: Sequence[str] | None = None, types: Sequence[str] | None = None) -> list[int]:
        query = sa.select(db.activities.c.id).order_by(db.activities.c.id)
        if statuses is not None:
            query = query.where(db.activities.c.status.in_(statuses))
        if types is not None:
            query = query.where(db.activities.c.type.in_(types))
        async with self.engine.connect() as conn:
            return [int(r[0]) for r in (await conn.execute(query)).all()]

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
            await _log(conn, activity_id, operator_id, "status", {"status": status}, now_ms)
        return True

    async def add_stock(self, activity_id: int, prize_id: int, units: int, operator_id: str, now_ms: int) -> int | None:
        """Add `units` to the prize's stock in one transaction with the operator log; returns the
        new total, or None (nothing changed) if it would exceed MAX_COUNT."""
        prize = (db.prizes.c.id == prize_id, db.prizes.c.activity_id == activity_id)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                sa.update(db.prizes)
                .where(*prize, db.prizes.c.stock + units <= MAX_COUNT)
                .values(stock=db.prizes.c.stock + units)
            )
            if result.rowcount != 1:
                return None
            total = (await conn.execute(sa.select(db.prizes.c.stock).where(*prize))).scalar_one()
            await _log(conn, activity_id, operator_id, "add_stock", {"prize_id": prize_id, "units": units}, now_ms)
        return int(total)

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

    async def uncredited_points_prizes(self, before_ms: int) -> list[tuple[str, int, str, int]]:
        """(draw_id, activity_id, user_id, points) of points prizes won before `before_ms` whose
        credit is not in the ledger."""
        ledger = db.points_ledger
        query = (
            sa.select(db.draws.c.draw_id, db.draws.c.activity_id, db.draws.c.user_id, db.prizes.c.points)
            .join(db.prizes, db.prizes.c.id == db.draws.c.prize_id)
            .where(
                db.prizes.c.type == "points",
                db.draws.c.drawn_at_ms < before_ms,
                ~sa.exists().where(ledger.c.ref == sa.literal("prize:") + db.draws.c.draw_id),
            )
            .limit(1000)
        )
        async with self.engine.connect() as conn:
            return [(str(d), int(a), str(u), int(p)) for d, a, u, p in (await conn.execute(query)).all()]

    async def count_by(self, column: sa.Column[Any], values: Sequence[str]) -> dict[str, int]:
        """How many rows hold each of `values` in `column` (values with none are left out)."""
        query = sa.select(column, sa.func.count()).where(column.in_(values)).group_by(column)
        async with self.engine.connect() as conn:
            return {str(v): int(n) for v, n in (await conn.execute(query)).all()}

    # --- what a rebuild of a lottery's live state reads ----------------------------------------

    async def granted_by_prize(self, activity_id: int, day: date | None = None) -> dict[int, int]:
        """Units handed out per prize, by draws and grants alike (they all used stock)."""
        query = sa.select(db.draws.c.prize_id, sa.func.count()).where(db.draws.c.activity_id == activity_id)
        if day is not None:
            query = query.where(db.draws.c.day == day.isoformat())
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.group_by(db.draws.c.prize_id))).all()
        return {int(p): int(n) for p, n in rows}

    async def draws_by_user(
        self, activity_id: int, day: date | None = None, kinds: Sequence[str] = ("draw",)
    ) -> dict[str, int]:
        """Draws per member; by default only those that count against the per-member limits
        (a draw paid with a chance does not)."""
        query = sa.select(db.draws.c.user_id, sa.func.count()).where(
            db.draws.c.activity_id == activity_id, db.draws.c.kind.in_(kinds)
        )
        if day is not None:
            query = query.where(db.draws.c.day == day.isoformat())
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.group_by(db.draws.c.user_id))).all()
        return {str(u): int(n) for u, n in rows}

    async def count_draws(self, activity_id: int, day: date | None = None) -> int:
        """Draws (with or without a chance; not grants), as the draws_total counter counts them."""
        query = sa.select(sa.func.count()).where(
            db.draws.c.activity_id == activity_id, db.draws.c.kind.in_(("draw", "chance"))
        )
        if day is not None:
            query = query.where(db.draws.c.day == day.isoformat())
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def wins_by_user_prize(self, activity_id: int, prize_ids: Sequence[int]) -> dict[tuple[str, int], int]:
        if not prize_ids:
            return {}
        query = (
            sa.select(db.draws.c.user_id, db.draws.c.prize_id, sa.func.count())
            .where(db.draws.c.activity_id == activity_id, db.draws.c.prize_id.in_(prize_ids))
            .group_by(db.draws.c.user_id, db.draws.c.prize_id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {(str(u), int(p)): int(n) for u, p, n in rows}

    async def draws_since(self, activity_id: int, since_ms: int, kinds: Sequence[str]) -> list[DrawRow]:
        """Draws (or grants) since `since_ms`: their idempotency records are rebuilt."""
        query = sa.select(*[db.draws.c[name] for name in DrawRow.__struct_fields__]).where(
            db.draws.c.activity_id == activity_id, db.draws.c.drawn_at_ms >= since_ms, db.draws.c.kind.in_(kinds)
        )
        async with self.engine.connect() as conn:
            return [DrawRow(**row._mapping) for row in (await conn.execute(query)).all()]

    async def chance_balances(self, activity_id: int) -> dict[str, int]:
        ledger = db.chance_ledger
        query = (
            sa.select(ledger.c.user_id, sa.func.sum(ledger.c.delta))
            .where(ledger.c.activity_id == activity_id)
            .group_by(ledger.c.user_id)
        )
        async with self.engine.connect() as conn:
            return {str(u): int(n) for u, n in (await conn.execute(query)).all() if n}

    async def chance_credits_since(self, activity_id: int, since_ms: int) -> list[str]:
        """References of the chance credits since `since_ms`: their idempotency markers are rebuilt."""
        ledger = db.chance_ledger
        query = sa.select(ledger.c.ref).where(
            ledger.c.activity_id == activity_id, ledger.c.delta > 0, ledger.c.at_ms >= since_ms
        )
        async with self.engine.connect() as conn:
            return [str(r) for r in (await conn.scalars(query)).all()]


async def _log(
    conn: AsyncConnection, activity_id: int, operator_id: str, action: str, detail: Any, now_ms: int
) -> None:
    await conn.execute(
        sa.insert(db.operator_actions).values(
            activity_id=activity_id, operator_id=operator_id, action=action, detail=detail, at_ms=now_ms
        )
    )


def _activity(row: Any, prize_rows: list[Any]) -> Activity:
    return Activity(
        id=row["id"],
        type=row["type"],
        name=row["name"],
        status=row["status"],
        starts_at=_dt(row["starts_at_ms"]),
        ends_at=_dt(row["ends_at_ms"]),
        timezone=row["timezone"],
        skin=row["skin"],
        audience=_stored(row["audience"], Audience),
        limits=_stored({k: _clamped(v) for k, v in row["limits"].items()}, Limits),
        points_cost=_clamped(row["points_cost"]),
        config=row["config"] or {},
        experiment=_experiment(row.get("experiment")),
        prizes=[
            Prize(
                id=p["id"],
                name=p["name"],
                type=p["type"],
                weight=p["weight"],
                stock=p["stock"],
                daily_stock=p["daily_stock"],
                per_user_cap=p["per_user_cap"],
                value_cny=Decimal(p["value_cny"]),
                points=p["points"],
            )
            for p in prize_rows
        ],
    )


S = TypeVar("S")


def _experiment(value: Any) -> Experiment | None:
    return None if value is None else msgspec.convert(value, Experiment)


def _stored(value: dict[str, Any], shape: type[S]) -> S:
    """A stored struct, as it was stored: one written before the bounds of the boundary (a label
    with a control character...) is still read (the constructor checks types, not bounds)."""
    try:
        return msgspec.convert(value, shape)
    except msgspec.ValidationError:
        return shape(**value)


def _clamped(value: Any) -> Any:
    """A stored limit above MAX_COUNT (written before the bound) reads as MAX_COUNT, which Lua
    and the audit trail hold exactly."""
    return min(value, MAX_COUNT) if isinstance(value, int) and not isinstance(value, bool) else value
