"""SQL of config versions (lottery/versions.py): a draft's versions, the freeze at publication, a
live change, and the frozen history (what was disclosed, with effective times)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.repository import log_action
from lottery import db
from lottery.model import ConfigVersion, Limits, PrizeTerms

_TABLE = db.config_versions


def _config(prizes: list[PrizeTerms], limits: Limits | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"prizes": [msgspec.to_builtins(p) for p in prizes]}
    return config if limits is None else config | {"limits": msgspec.to_builtins(limits)}


def _limits(config: dict[str, Any]) -> Limits | None:
    found = config.get("limits")
    return None if found is None else msgspec.convert(found, Limits)


def _terms(config: dict[str, Any]) -> list[PrizeTerms]:
    return [
        PrizeTerms(
            id=int(p["id"]),
            name=str(p["name"]),
            weight=int(p["weight"]),
            value_cny=Decimal(str(p["value_cny"])),
            points=None if p.get("points") is None else int(p["points"]),
        )
        for p in config.get("prizes", [])
    ]


async def _prize_terms(conn: AsyncConnection, activity_id: int) -> list[PrizeTerms]:
    prizes = db.prizes
    rows = (
        await conn.execute(
            sa.select(prizes.c.id, prizes.c.name, prizes.c.weight, prizes.c.value_cny, prizes.c.points)
            .where(prizes.c.activity_id == activity_id)
            .order_by(prizes.c.position)
        )
    ).all()
    return [
        PrizeTerms(id=r.id, name=r.name, weight=r.weight, value_cny=Decimal(r.value_cny), points=r.points) for r in rows
    ]


async def _next_number(conn: AsyncConnection, activity_id: int) -> int:
    latest = (
        await conn.execute(sa.select(sa.func.max(_TABLE.c.version)).where(_TABLE.c.activity_id == activity_id))
    ).scalar()
    return int(latest or 0) + 1


async def write_draft_version(conn: AsyncConnection, activity_id: int, operator_id: str, now_ms: int) -> int:
    """A new version of a draft (created or edited), in the transaction that wrote its prizes.
    A version a failed publication froze is thawed: nothing of a draft was ever disclosed."""
    await conn.execute(
        sa.update(_TABLE).where(_TABLE.c.activity_id == activity_id).values(frozen=False, effective_at_ms=None)
    )
    number = await _next_number(conn, activity_id)
    await conn.execute(
        sa.insert(_TABLE).values(
            activity_id=activity_id,
            version=number,
            frozen=False,
            effective_at_ms=None,
            config=_config(await _prize_terms(conn, activity_id)),
            created_by=operator_id,
            created_at_ms=now_ms,
        )
    )
    return number


async def freeze(engine: AsyncEngine, activity_id: int, operator_id: str, now_ms: int) -> int:
    """Publication: the draft's latest version is frozen, effective from now (a lottery with no
    version yet gets one from its prizes). Idempotent: an already frozen lottery keeps its own."""
    async with engine.begin() as conn:
        frozen = (
            await conn.execute(
                sa.select(sa.func.min(_TABLE.c.version)).where(
                    _TABLE.c.activity_id == activity_id, _TABLE.c.frozen == sa.true()
                )
            )
        ).scalar()
        if frozen is not None:
            return int(frozen)
        latest = (
            await conn.execute(sa.select(sa.func.max(_TABLE.c.version)).where(_TABLE.c.activity_id == activity_id))
        ).scalar()
        config = _config(await _prize_terms(conn, activity_id))
        if latest is None:
            latest = await write_draft_version(conn, activity_id, operator_id, now_ms)
        await conn.execute(
            sa.update(_TABLE)
            .where(_TABLE.c.activity_id == activity_id, _TABLE.c.version == latest)
            .values(frozen=True, effective_at_ms=now_ms, config=config)
        )
        await log_action(conn, activity_id, operator_id, "freeze_version", {"version": int(latest)}, now_ms)
        return int(latest)


async def add_version(
    engine: AsyncEngine,
    activity_id: int,
    prizes: list[PrizeTerms],
    limits: Limits,
    effective_at_ms: int,
    operator_id: str,
    now_ms: int,
    note: str | None,
) -> ConfigVersion:
    """A live change: a frozen version effective at `effective_at_ms`, logged in one transaction."""
    async with engine.begin() as conn:
        number = await _next_number(conn, activity_id)
        await conn.execute(
            sa.insert(_TABLE).values(
                activity_id=activity_id,
                version=number,
                frozen=True,
                effective_at_ms=effective_at_ms,
                config=_config(prizes, limits) | ({"note": note} if note else {}),
                created_by=operator_id,
                created_at_ms=now_ms,
            )
        )
        detail = {"version": number, "effective_at_ms": effective_at_ms} | _config(prizes, limits)
        await log_action(conn, activity_id, operator_id, "new_version", msgspec.to_builtins(detail), now_ms)
    return ConfigVersion(version=number, effective_at_ms=effective_at_ms, prizes=prizes, limits=limits)


async def frozen_versions(conn: AsyncConnection, activity_id: int) -> list[ConfigVersion]:
    """The frozen versions, in order: the one frozen at publication first."""
    rows = (
        await conn.execute(
            sa.select(_TABLE.c.version, _TABLE.c.effective_at_ms, _TABLE.c.config)
            .where(_TABLE.c.activity_id == activity_id, _TABLE.c.frozen == sa.true())
            .order_by(_TABLE.c.version)
        )
    ).all()
    return [
        ConfigVersion(
            version=r.version, effective_at_ms=r.effective_at_ms, prizes=_terms(r.config), limits=_limits(r.config)
        )
        for r in rows
    ]
