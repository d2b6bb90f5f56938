"""The live dashboard's figures for any gameplay, read from what the registry gives: the
gameplay's counters (its Redis figures beside SQL's), its audit tables (actions per minute over
the last half hour, from SQL, where an action lands within about a second) and the refusal codes
this process answered for the activity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from activities.model import Activity
from api import refusals
from api.gameplays import GAMEPLAY_BY_TYPE
from api.platform import Platform

MINUTES = 30


class Bar(msgspec.Struct):
    label: str
    total: int | None  # None: unlimited
    left: int | None
    granted: int


class Dashboard(msgspec.Struct):
    status: str
    loaded: bool
    figures: dict[str, int]  # the counters' totals (draws_total, audit_backlog, ...)
    bars: list[Bar]
    minutes: list[str]  # "HH:MM" in the activity's time zone
    per_minute: list[int]
    refusals: list[tuple[str, int]]
    audit_backlog: int


def _bars(counters: dict[str, Any]) -> list[Bar]:
    """Stock bars from whatever lists of the counters hold stock-like items (a lottery's prizes,
    a reservation's date and store pools...), and the counters' own stock, if any."""
    found: list[Bar] = []
    if "stock" in counters and "stock_left" in counters:
        total, left = counters["stock"], counters["stock_left"]
        found.append(Bar("stock", total, left, (total or 0) - (left or 0)))
    if counters.get("budget_cny") is not None:  # a lottery's budget (lottery/pacing.py), whole CNY
        budget, left = (int(float(counters[k])) for k in ("budget_cny", "budget_left_cny"))
        found.append(Bar("budget CNY", budget, left, int(float(counters["budget_spent_cny"]))))
    for value in counters.values():
        if not isinstance(value, list):
            continue
        for item in value:
            if not isinstance(item, dict):
                continue
            label = str(item.get("name") or "/".join(str(item[k]) for k in ("date", "store") if k in item) or "")
            if "stock" in item and "stock_left" in item:
                granted = item.get("granted", (item["stock"] or 0) - (item["stock_left"] or 0))
                found.append(Bar(label, item["stock"], item["stock_left"], int(granted)))
            elif "quantity" in item and "left" in item and item["quantity"] is not None:
                found.append(Bar(label, item["quantity"], item["left"], item["quantity"] - (item["left"] or 0)))
    return found


def _timed_tables(activity: Activity) -> list[tuple[sa.Table, sa.Column[Any]]]:
    """The gameplay's audit tables with their time column (the first `*_at_ms`)."""
    gameplay = GAMEPLAY_BY_TYPE[activity.type]
    tables = {column.table for column in gameplay.audit_ids.values() if isinstance(column.table, sa.Table)}
    found = []
    for table in sorted(tables, key=lambda t: t.name):
        at = next((c for c in table.columns if c.name.endswith("_at_ms")), None)
        if at is not None and "activity_id" in table.columns:
            found.append((table, at))
    return found


async def per_minute(platform: Platform, activity: Activity, now_ms: int) -> tuple[list[str], list[int]]:
    start = (now_ms // 60_000 - MINUTES + 1) * 60_000
    counts = [0] * MINUTES
    async with platform.engine.connect() as conn:
        for table, at in _timed_tables(activity):
            minute = sa.cast((at - start) / 60_000, sa.Integer)
            query = (
                sa.select(minute, sa.func.count())
                .where(table.c.activity_id == activity.id, at >= start, at < start + MINUTES * 60_000)
                .group_by(minute)
            )
            for index, count in (await conn.execute(query)).all():
                if 0 <= int(index) < MINUTES:
                    counts[int(index)] += int(count)
    labels = [
        datetime.fromtimestamp((start + i * 60_000) / 1000, activity.tz).strftime("%H:%M") for i in range(MINUTES)
    ]
    return labels, counts


async def dashboard(platform: Platform, activity: Activity) -> Dashboard:
    service = platform.services[GAMEPLAY_BY_TYPE[activity.type].name]
    counters: dict[str, Any] = msgspec.to_builtins(await service.counters(activity))
    minutes, counts = await per_minute(platform, activity, platform.activities.clock.now_ms())
    figures = {
        k: v for k, v in counters.items() if isinstance(v, int) and not isinstance(v, bool) and k != "activity_id"
    }
    return Dashboard(
        status=str(counters.get("status", activity.status)),
        loaded=bool(counters.get("loaded", False)),
        figures=figures,
        bars=_bars(counters),
        minutes=minutes,
        per_minute=counts,
        refusals=refusals.top(activity.id),
        audit_backlog=int(counters.get("audit_backlog", 0)),
    )
