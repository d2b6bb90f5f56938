"""The rollup producer: for each stream entry the audit writer writes, the counter rows it adds to
the analytics tables (analytics/db.py), in the same transaction as the entry's own rows.

Each event type maps to `Facts`: who acted (if a member did), on which local day, through which
channel and source, in which A/B variant, and what to count. The counter rows are guarded
(activities/audit_sql.py): the entry's counts once per entry, a participant once per day and
row key, a first-timer once per campaign and row key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.audit_rows import Row
from activities.audit_sql import increment_row
from activities.db import increment_guards
from activities.experiment import variant_of
from activities.model import Activity
from activities.repository import ActivityRepository
from analytics import db
from lottery.model import Prize, variant_lottery
from lottery.repository import LotteryRepository

COHORT_DAYS = (1, 7, 30)  # D1/D7/D30 continuation of sign-ins
CHANNELS = ("h5", "mini_program", "app", "other")
ALL = "*"


@dataclass
class Facts:
    at_ms: int
    member: str | None  # the member who acted (None: not a member's action)
    counts: dict[str, int] = field(default_factory=dict)  # analytics_daily columns
    prize: tuple[int, int] | None = None  # (prize id, value in cents) won
    detail: tuple[str, str, int, int] | None = None  # (kind, item, count, total_ms)
    activity_id: int | None = None  # for wallet events: the activity named in the entry


def channel_of(fields: dict[str, str]) -> str:
    channel = fields.get("channel", "")
    return channel if channel in CHANNELS else "other"


def local_day(at_ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz).date().isoformat()


class Rollups:
    """The producer (`__call__` has the shape of activities.audit_rows.RowProducer)."""

    def __init__(self, repository: ActivityRepository, engine: AsyncEngine) -> None:
        self.repository = repository
        self.engine = engine
        self._activities: dict[int, tuple[ZoneInfo, dict[int, tuple[bool, int]], Activity]] = {}
        self._variants: dict[tuple[int, str], dict[int, tuple[bool, int]]] = {}
        # What recent entries said (a reservation's store, an initiative's start, a helper), for
        # later entries of the same step, whose rows are not committed yet; SQL otherwise.
        self._seen: dict[str, str] = {}
        self._facts: dict[str, Callable[[dict[str, str]], Awaitable[Facts | None]]] = {
            "draw": self._draw,
            "points": self._points,
            "checkin": self._checkin,
            "assist_start": self._assist_start,
            "assist_help": self._assist_help,
            "assist_outcome": self._assist_outcome,
            "reservation": self._reservation,
            "reservation_change": self._reservation_change,
        }

    async def __call__(
        self, activity_id: int | None, entry_id: str, fields: dict[str, str], _rows: list[Row]
    ) -> list[Row]:
        extract = self._facts.get(fields.get("type", ""))
        if extract is None:
            return []
        facts = await extract(fields)
        if facts is None:
            return []
        entry = f"{activity_id}:{entry_id}"
        if activity_id is None:  # a wallet shard's entry: its id may equal one of the activity's own
            entry = f"{facts.activity_id}:w:{fields.get('user_id', '')}:{entry_id}"
        activity_id = activity_id or facts.activity_id
        if not activity_id:
            return []
        found = await self._activity(activity_id)
        if found is None:
            return []
        tz, values, activity = found
        if activity.experiment is not None and "variant" not in fields and facts.member is not None:
            fields = {**fields, "variant": variant_of(activity, facts.member)}  # stable: the same as when it acted
        if facts.prize is not None and fields.get("variant") and activity.experiment is not None:
            values = await self._variant_values(activity, fields["variant"])  # its reward amounts
        if facts.prize is not None:
            consolation, cents = values.get(facts.prize[0], (True, 0))
            facts.prize = (facts.prize[0], cents)
            facts.counts["cost_cents"] = cents
            if not consolation:
                facts.counts["wins"] = 1
        day = local_day(facts.at_ms, tz)
        rows = rows_of(activity_id, entry, day, fields, facts)
        if fields["type"] == "checkin" and facts.member is not None:
            rows += await self._continued(activity_id, day, fields.get("variant", "")[:16], facts.member)
        elif fields["type"] in ("assist_help", "assist_start") and facts.member is not None:
            rows += await self._viral(activity_id, day, fields, facts.member)
            if fields["type"] == "assist_help":
                depth = await self._depth(fields["initiative_id"], fields.get("parent", ""))
                _remember(self._seen, f"hp:{fields['initiative_id']}:{facts.member}", fields.get("parent", ""))
                key = {"activity_id": activity_id, "day": day, "variant": fields.get("variant", "")[:16]}
                key |= {"kind": "share_depth", "item": str(depth)}
                rows.append((db.details, increment_row(db.details, f"e:{entry}", key, {"count": 1}, claim=entry)))
        return rows

    async def _depth(self, initiative_id: str, parent: str) -> int:
        """A help's depth in its initiative's share tree: 1 through the initiator's own link (or
        no parent said), one more than its parent's when a helper passed the link on. Parents are
        the initiator or earlier helpers (help.lua drops any other), so the walk ends."""
        from assist.db import assist_helps as table

        depth = 1
        for _ in range(_MAX_DEPTH):
            if not parent:
                break
            found = self._seen.get(f"hp:{initiative_id}:{parent}")
            if found is None:  # not seen lately: SQL (None there too: the initiator)
                where = (table.c.initiative_id == initiative_id, table.c.helper == parent)
                query = sa.select(table.c.parent).where(*where)
                async with self.engine.connect() as conn:
                    row = (await conn.execute(query)).first()
                if row is None:
                    break
                found = row[0] or ""
            depth, parent = depth + 1, found
        return depth

    async def _viral(self, activity_id: int, day: str, fields: dict[str, str], member: str) -> list[Row]:
        """A helper leaves a mark (guard `h:`); an initiator who left one counts once as a helper who
        became an initiator."""
        key = {
            "activity_id": activity_id,
            "day": day,
            "channel": ALL,
            "source": ALL,
            "variant": fields.get("variant", "")[:16],
        }
        helped = f"h:{activity_id}:{member}"
        if fields["type"] == "assist_help":
            _remember(self._seen, helped, "")
            return [(db.daily, increment_row(db.daily, helped, key, {}))]
        if helped not in self._seen:
            column = increment_guards.c.guard
            async with self.engine.connect() as conn:
                found = (await conn.execute(sa.select(column).where(column == helped))).first()
            if found is None:
                return []
        return [(db.daily, increment_row(db.daily, f"hi:{activity_id}:{member}", key, {"helper_initiators": 1}))]

    async def _activity(self, activity_id: int) -> tuple[ZoneInfo, dict[int, tuple[bool, int]], Activity] | None:
        found = self._activities.get(activity_id)
        if found is None:
            activity = await self.repository.get(activity_id)
            if activity is None:
                return None
            lottery = await LotteryRepository(self.engine).read(activity)  # its prizes, if a lottery
            prizes = lottery.prizes if lottery is not None else []
            found = self._activities[activity_id] = (activity.tz, prize_values(prizes), activity)
        return found

    async def _variant_values(self, activity: Activity, variant: str) -> dict[int, tuple[bool, int]]:
        """Prize values as an A/B variant overrides them (a coupon's face value...)."""
        found = self._variants.get((activity.id, variant))
        if found is None:
            lottery = await LotteryRepository(self.engine).read(activity)
            experiment = lottery.experiment if lottery is not None else None
            if lottery is None or experiment is None or variant not in {v.name for v in experiment.variants}:
                return self._activities[activity.id][1]
            found = self._variants[(activity.id, variant)] = prize_values(variant_lottery(lottery, variant).prizes)
        return found

    async def _draw(self, fields: dict[str, str]) -> Facts:
        kind, at_ms = fields.get("kind", "draw"), int(fields["drawn_at_ms"])
        activity_id = int(fields["activity_id"]) if "activity_id" in fields else None
        facts = Facts(at_ms, None if kind == "grant" else fields["user_id"], activity_id=activity_id)
        if kind != "grant":
            facts.counts.update(actions=1, draws=1)
        prize_id = int(fields["prize_id"])
        facts.prize = (prize_id, 0)
        return facts

    async def _points(self, fields: dict[str, str]) -> Facts | None:
        delta = int(fields["delta"])
        facts = Facts(int(fields["at_ms"]), None, activity_id=int(fields.get("activity_id") or 0) or None)
        if fields.get("reason") == "refund":  # a cost given back: less spent
            facts.counts["points_spent"] = -delta
        else:
            facts.counts["points_spent" if delta < 0 else "points_granted"] = abs(delta)
        return facts

    async def _checkin(self, fields: dict[str, str]) -> Facts:
        kind = fields.get("kind", "signin")  # mark.lua leaves out the default
        facts = Facts(int(fields["at_ms"]), fields["user_id"])
        facts.counts.update({"actions": 1, "signins" if kind == "signin" else "makeups": 1})
        facts.detail = ("streak", fields["streak"], 1, 0)
        return facts

    async def _assist_start(self, fields: dict[str, str]) -> Facts:
        _remember(self._seen, f"i:{fields['initiative_id']}", fields["started_at_ms"])
        facts = Facts(int(fields["started_at_ms"]), fields["initiator"])
        facts.counts.update(actions=1, initiatives=1)
        return facts

    async def _assist_help(self, fields: dict[str, str]) -> Facts:
        facts = Facts(int(fields["at_ms"]), fields["helper"])
        facts.counts.update(actions=1, helps=1, helpers_new=1)  # helpers_new: counted with first_timers only
        if fields.get("completed") == "1":
            facts.counts["completions"] = 1
            started = await self._started_at(fields["initiative_id"])
            took = max(facts.at_ms - started, 0) if started is not None else 0
            facts.detail = ("assist_completed", fields.get("number", ""), 1, took)
        return facts

    async def _assist_outcome(self, fields: dict[str, str]) -> Facts | None:
        if fields.get("outcome") != "expired":
            return None
        facts = Facts(int(fields["at_ms"]), None)
        facts.counts["assist_expiries"] = 1
        return facts

    async def _reservation(self, fields: dict[str, str]) -> Facts:
        _remember(self._seen, f"r:{fields['code']}", fields.get("store", ""))
        facts = Facts(int(fields["created_at_ms"]), fields["user_id"])
        facts.counts.update(actions=1, reservations=1)
        facts.detail = ("store_reserved", fields.get("store", ""), 1, 0)
        return facts

    async def _reservation_change(self, fields: dict[str, str]) -> Facts | None:
        status = fields["status"]
        column = {"redeemed": "redemptions", "cancelled": "cancellations", "expired": "reservation_expiries"}
        if status not in column:
            return None
        facts = Facts(int(fields["at_ms"]), None)
        facts.counts[column[status]] = 1
        if status == "cancelled":
            facts.counts["actions"] = 1
        facts.detail = (f"store_{status}", await self._store_of(fields["code"]), 1, 0)
        return facts

    async def _continued(self, activity_id: int, day: str, variant: str, member: str) -> list[Row]:
        """Cohort rows: a member signing in on `day` continues the cohorts of the days 1, 7 and 30
        before it that it signed in on (read from the per-day participants set)."""
        then = {k: (date.fromisoformat(day) - timedelta(days=k)).isoformat() for k in COHORT_DAYS}
        wanted = {f"p:{activity_id}:{d}:{ALL}:{ALL}:{variant}:{member}": k for k, d in then.items()}
        column = increment_guards.c.guard
        async with self.engine.connect() as conn:
            found = (await conn.execute(sa.select(column).where(column.in_(list(wanted))))).scalars().all()
        rows: list[Row] = []
        for guard in found:
            k = wanted[guard]
            key = {"activity_id": activity_id, "day": then[k], "variant": variant, "kind": f"d{k}", "item": ""}
            rows.append((db.details, increment_row(db.details, f"c{k}:{guard}", key, {"count": 1})))
        return rows

    async def _started_at(self, initiative_id: str) -> int | None:
        from assist.db import assist_initiatives as table

        if (seen := self._seen.get(f"i:{initiative_id}")) is not None:  # maybe not committed yet
            return int(seen)

        query = sa.select(table.c.started_at_ms).where(table.c.initiative_id == initiative_id)
        async with self.engine.connect() as conn:
            found = (await conn.execute(query)).scalar_one_or_none()
        return None if found is None else int(found)

    async def _store_of(self, code: str) -> str:
        from reservation.db import reservations as table

        if (seen := self._seen.get(f"r:{code}")) is not None:  # maybe not committed yet
            return seen

        async with self.engine.connect() as conn:
            found = (await conn.execute(sa.select(table.c.store).where(table.c.code == code))).scalar_one_or_none()
        return "" if found is None else str(found)


_SEEN_MAX = 100_000
_MAX_DEPTH = 1000


def _remember(seen: dict[str, str], key: str, value: str) -> None:
    seen[key] = value
    if len(seen) > _SEEN_MAX:
        del seen[next(iter(seen))]


def prize_values(prizes: Sequence[Prize]) -> dict[int, tuple[bool, int]]:
    """Prize id -> (is it the consolation prize, its value in CNY cents)."""
    return {p.id: (p.is_consolation, int(Decimal(p.value_cny) * 100)) for p in prizes}


def rows_of(activity_id: int, entry: str, day: str, fields: dict[str, str], facts: Facts) -> list[Row]:
    """The guarded counter rows of one entry (pure: the property tests call it directly)."""
    channel, source, variant = channel_of(fields), fields.get("source", "")[:64], fields.get("variant", "")[:16]
    rows: list[Row] = []
    for ch, src in ((channel, source), (ALL, ALL)):
        key = {"activity_id": activity_id, "day": day, "channel": ch, "source": src, "variant": variant}
        tag = f"{ch}:{src}:{variant}"
        counts = {k: v for k, v in facts.counts.items() if k != "helpers_new"}
        if counts:
            rows.append((db.daily, increment_row(db.daily, f"e:{entry}", key, counts, claim=entry)))
        if facts.member is not None:
            member = facts.member
            rows.append(
                (db.daily, increment_row(db.daily, f"p:{activity_id}:{day}:{tag}:{member}", key, {"participants": 1}))
            )
            first = {"first_timers": 1, "helpers_new": facts.counts.get("helpers_new", 0)}
            rows.append((db.daily, increment_row(db.daily, f"f:{activity_id}:{tag}:{member}", key, first)))
            if facts.counts.get("wins"):
                guard = f"w:{activity_id}:{tag}:{member}"
                rows.append((db.daily, increment_row(db.daily, guard, key, {"winners": 1})))
    if facts.prize is not None:
        key = {"activity_id": activity_id, "day": day, "variant": variant, "prize_id": facts.prize[0]}
        amounts = {"wins": 1, "cost_cents": facts.prize[1]}
        rows.append((db.prizes, increment_row(db.prizes, f"e:{entry}", key, amounts, claim=entry)))
    if facts.detail is not None:
        kind, item, count, total_ms = facts.detail
        key = {"activity_id": activity_id, "day": day, "variant": variant, "kind": kind, "item": item[:64]}
        amounts = {"count": count, "total_ms": total_ms}
        rows.append((db.details, increment_row(db.details, f"e:{entry}", key, amounts, claim=entry)))
    return rows
