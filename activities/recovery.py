"""Fail-closed rebuilds: what happens when Redis loses an activity's live state.

SQL lags Redis by whatever the audit writer has not written yet. A rebuild from SQL after Redis
lost its state (FLUSHALL, a new empty server) would believe units are left that the unwritten
window already granted. So every rebuild that finds no epoch in Redis asks `Recoveries.begin`:

- **cold**: SQL has no record that the activity was ever loaded (it is being published): record
  the load; nothing is held back.
- **lost**: SQL says it was loaded before, Redis has no epoch: the state was lost. Every counter
  of scarce units (a prize's stock, its daily stock, the global daily draws, a reservation pool,
  an assist stock) is rebuilt with `held` units held back:
  `held = min(units left, ceil(window_s * max_rate))`, where `window_s` is the longest the
  platform lets the audit writer lag (PROMO_RECOVERY_WINDOW_S, default 10 s) and `max_rate` the
  highest rate of actions the API can acknowledge (PROMO_RECOVERY_MAX_RATE, default 2000/s):
  each acknowledged action grants at most one unit of a counter, so the unwritten window granted
  at most that many. A prize with a per-member cap is held entirely (a member's wins of the
  unwritten window are unknown). In practice a scarce prize has "nothing left" until an operator
  confirms. The activity is `recovering` until then, with the figures in `recoveries`.

An operator then confirms (the held units stay spent) or corrects (gives back what the window
did not grant: `keep` names, per counter, the units that stay held) through
`/operator/activities/{id}/recovery`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import db
from activities.clock import Clock
from activities.errors import conflict, invalid, not_found
from activities.metrics import REBUILDS
from activities.model import BoundedInt

activity_epochs = sa.Table(
    "activity_epochs",
    db.metadata,
    sa.Column("activity_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("epoch", sa.String(40), nullable=False),  # the last load's id, also kept in Redis
    sa.Column("loaded_at_ms", sa.BigInteger, nullable=False),
    sa.Column("loads", sa.Integer, nullable=False),
)

recoveries = sa.Table(
    "recoveries",
    db.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity_id", sa.Integer, nullable=False, index=True),
    sa.Column("gameplay", sa.String(20), nullable=False),
    sa.Column("epoch", sa.String(40), nullable=False),  # the load that holds the units back
    sa.Column("status", sa.String(10), nullable=False),  # open | confirmed | corrected
    sa.Column("detected_at_ms", sa.BigInteger, nullable=False),  # when the loss was found
    sa.Column("last_event_ms", sa.BigInteger),  # the newest event of the activity in SQL then
    sa.Column("window_s", sa.Float, nullable=False),
    sa.Column("max_rate", sa.Integer, nullable=False),
    sa.Column("held", sa.JSON, nullable=False),  # counter -> units held back
    sa.Column("kept", sa.JSON),  # counter -> units that stay held (the operator's figure)
    sa.Column("resolved_by", sa.String(64)),
    sa.Column("resolved_at_ms", sa.BigInteger),
)

OPEN = "open"
log = logging.getLogger("promo.recovery")


@dataclass(frozen=True)
class RecoveryRules:
    window_s: float = 10.0  # the audit writer's lag bound the platform relies on
    max_rate: int = 2000  # actions per second the API can acknowledge, at most

    @classmethod
    def from_env(cls) -> RecoveryRules:
        return cls(
            window_s=float(os.environ.get("PROMO_RECOVERY_WINDOW_S", "10")),
            max_rate=int(os.environ.get("PROMO_RECOVERY_MAX_RATE", "2000")),
        )

    @property
    def at_risk(self) -> int:
        """Units of one counter the unwritten window may have granted."""
        return math.ceil(self.window_s * self.max_rate)

    def hold_back(self, left: Mapping[str, int], whole: Collection[str] = ()) -> dict[str, int]:
        return {c: n if c in whole else min(n, self.at_risk) for c, n in left.items() if n > 0}


class Recovery(msgspec.Struct, kw_only=True):
    """What a fail-closed rebuild held back, for operators."""

    id: int
    activity_id: int
    gameplay: str
    status: Literal["open", "confirmed", "corrected"]  # open: the activity is recovering
    detected_at_ms: int
    last_event_ms: int | None
    window_s: float
    max_rate: int
    units_at_risk: int
    held: dict[str, int]
    kept: dict[str, int] | None = None
    released: dict[str, int] | None = None
    resolved_by: str | None = None
    resolved_at_ms: int | None = None
    epoch: str = ""


# A held counter: "stock:3", "pool:2026-06-03|S1"... (see `held` in a Recovery)
CounterName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_:|.-]+$")]


class Resolution(msgspec.Struct, forbid_unknown_fields=True):
    """POST /operator/activities/{id}/recovery. `confirm`: every held unit stays spent.
    `correct`: `keep` gives, per counter, the units the unwritten window did grant (they stay
    held); the rest goes back to the live counters. A counter not named keeps nothing."""

    action: Literal["confirm", "correct"]
    keep: Annotated[dict[CounterName, BoundedInt], msgspec.Meta(max_length=200)] | None = None


class Recoveries:
    def __init__(self, engine: AsyncEngine, clock: Clock, rules: RecoveryRules | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.rules = rules or RecoveryRules.from_env()

    async def begin(
        self,
        activity_id: int,
        gameplay: str,
        epoch: str,
        left: Mapping[str, int],
        *,
        whole: Collection[str] = (),
        events: Sequence[tuple[sa.Column[Any], sa.Column[Any]]] = (),
    ) -> dict[str, int]:
        """A rebuild found no epoch in Redis. Returns the units to hold back per counter: none
        if the activity was never loaded (cold), else what the unwritten window may have granted
        (lost; recorded as an open recovery). `events` are (activity_id, time) columns of the
        gameplay's SQL events, for the record's last event."""
        now_ms = self.clock.now_ms()
        async with self.engine.begin() as conn:
            known = (
                await conn.execute(
                    sa.select(activity_epochs.c.loads).where(activity_epochs.c.activity_id == activity_id)
                )
            ).scalar_one_or_none()
            if known is None:
                await conn.execute(
                    activity_epochs.insert().values(activity_id=activity_id, epoch=epoch, loaded_at_ms=now_ms, loads=1)
                )
                REBUILDS.labels(gameplay, "cold").inc()
                return {}
            await conn.execute(
                activity_epochs.update()
                .where(activity_epochs.c.activity_id == activity_id)
                .values(epoch=epoch, loaded_at_ms=now_ms, loads=known + 1)
            )
            held = self.rules.hold_back(left, whole)
            last = None
            for activity_col, time_col in events:
                found = (
                    await conn.execute(sa.select(sa.func.max(time_col)).where(activity_col == activity_id))
                ).scalar()
                last = found if last is None or (found is not None and found > last) else last
            figures = {
                "gameplay": gameplay,
                "epoch": epoch,
                "detected_at_ms": now_ms,
                "last_event_ms": last,
                "window_s": self.rules.window_s,
                "max_rate": self.rules.max_rate,
                "held": held,
            }
            # A loss while a recovery is still open replaces its figures: the units it held were
            # never granted (nothing in SQL shows them), and the new hold-back covers them again.
            updated = await conn.execute(
                recoveries.update()
                .where(recoveries.c.activity_id == activity_id, recoveries.c.status == OPEN)
                .values(**figures)
            )
            if not updated.rowcount:
                await conn.execute(recoveries.insert().values(activity_id=activity_id, status=OPEN, **figures))
        REBUILDS.labels(gameplay, "lost").inc()
        return held

    async def latest(self, activity_id: int) -> Recovery | None:
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        sa.select(recoveries)
                        .where(recoveries.c.activity_id == activity_id)
                        .order_by(recoveries.c.id.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else self._record(row)

    async def resolve(
        self,
        activity_id: int,
        resolution: Resolution,
        operator_id: str,
        release: Callable[[str, str, int], Awaitable[str]],
    ) -> Recovery:
        """Close the open recovery (once, even with two operators at once), then give back what
        is no longer held: `release(epoch, counter, units)`, the gameplay store's, which does
        nothing if Redis was rebuilt again since (that load holds its own figures)."""
        record = await self.latest(activity_id)
        if record is None or record.status != OPEN:
            raise conflict("no_open_recovery", "the activity is not recovering")
        if resolution.action == "confirm":
            keep = dict(record.held)
        elif resolution.action == "correct":
            keep = dict(resolution.keep or {})
            for counter, units in keep.items():
                if counter not in record.held:
                    raise invalid("unknown_counter", f"nothing was held back on {counter}", field="keep")
                if not 0 <= units <= record.held[counter]:
                    raise invalid(
                        "keep_out_of_range", f"keep 0 to {record.held[counter]} units of {counter}", field="keep"
                    )
        else:
            raise invalid("invalid_body", "action is confirm or correct", field="action")
        back = {c: n - keep.get(c, 0) for c, n in record.held.items() if n - keep.get(c, 0) > 0}
        now_ms = self.clock.now_ms()
        async with self.engine.begin() as conn:
            done = await conn.execute(
                recoveries.update()
                .where(recoveries.c.id == record.id, recoveries.c.status == OPEN)
                .values(
                    status="confirmed" if resolution.action == "confirm" else "corrected",
                    kept=keep,
                    resolved_by=operator_id,
                    resolved_at_ms=now_ms,
                )
            )
        if not done.rowcount:
            raise conflict("no_open_recovery", "the recovery was resolved meanwhile")
        for counter, units in back.items():
            if (outcome := await release(record.epoch, counter, units)) != "ok":
                log.warning("activity %d: %d units of %s not given back: %s", activity_id, units, counter, outcome)
        log.warning("activity %d: recovery %s by %s, gave back %s", activity_id, resolution.action, operator_id, back)
        resolved = await self.latest(activity_id)
        if resolved is None:  # pragma: no cover - the row was just updated
            raise not_found("recovery_not_found", "the recovery is gone")
        return resolved

    def _record(self, row: Any) -> Recovery:
        held = {str(k): int(v) for k, v in (row["held"] or {}).items()}
        kept = None if row["kept"] is None else {str(k): int(v) for k, v in row["kept"].items()}
        return Recovery(
            id=row["id"],
            activity_id=row["activity_id"],
            gameplay=row["gameplay"],
            status=row["status"],
            detected_at_ms=row["detected_at_ms"],
            last_event_ms=row["last_event_ms"],
            window_s=row["window_s"],
            max_rate=row["max_rate"],
            units_at_risk=math.ceil(row["window_s"] * row["max_rate"]),
            held=held,
            kept=kept,
            released=None if kept is None else {c: n - kept.get(c, 0) for c, n in held.items() if n > kept.get(c, 0)},
            resolved_by=row["resolved_by"],
            resolved_at_ms=row["resolved_at_ms"],
            epoch=row["epoch"],
        )
