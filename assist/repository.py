"""SQL access of friend assist activities: what a rebuild, a view of a closed initiative, the
counters and the reconciler read (the audit writer inserts the rows)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import db
from activities.pages import Key
from assist.db import assist_counts, assist_helps, assist_initiatives, assist_open, assist_outcomes


class InitiativeRow(msgspec.Struct, kw_only=True):
    initiative_id: str
    activity_id: int
    initiator: str
    needed: int
    started_at_ms: int
    deadline_ms: int
    price_cents: int | None
    floor_cents: int | None
    cuts: str | None
    seed: int | None


class HelpRow(msgspec.Struct, kw_only=True):
    help_id: str
    activity_id: int
    initiative_id: str
    helper: str
    kind: str
    number: int
    cut_cents: int | None
    price_after_cents: int | None
    device_id: str | None
    ip: str | None
    day: str
    helper_reward: bool
    at_ms: int


class AssistTotals(msgspec.Struct):
    initiatives: int
    helps: int
    completed: int
    expired: int
    helper_rewards: int


class AssistRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def totals(self, activity_id: int) -> AssistTotals:
        """The activity's totals (assist_counts, kept by triggers: migration 0022)."""
        t = assist_counts
        query = sa.select(t.c.kind, t.c.n).where(t.c.activity_id == activity_id)
        async with self.engine.connect() as conn:
            found = {str(kind): int(n) for kind, n in (await conn.execute(query)).all()}
        return AssistTotals(
            *(found.get(k, 0) for k in ("initiatives", "helps", "completed", "expired", "helper_rewards"))
        )

    async def open_deadlines(self, activity_id: int) -> dict[str, int]:
        """initiative id -> deadline of the initiatives with no outcome (assist_open: at most the
        prize's stock of them)."""
        query = sa.select(assist_open.c.initiative_id, assist_open.c.deadline_ms).where(
            assist_open.c.activity_id == activity_id
        )
        async with self.engine.connect() as conn:
            return {str(i): int(d) for i, d in (await conn.execute(query)).all()}

    async def member(self, activity_id: int, user_id: str, day: date) -> tuple[int, str, int, str, int]:
        """A member's initiatives started, its open one (""), its helps, the initiative it counted
        for as an invitee (""), its helps on `day`: three indexed queries."""
        started = sa.select(sa.func.count()).where(
            assist_initiatives.c.activity_id == activity_id, assist_initiatives.c.initiator == user_id
        )
        open_one = (
            sa.select(assist_open.c.initiative_id)
            .where(assist_open.c.activity_id == activity_id, assist_open.c.initiator == user_id)
            .order_by(assist_open.c.deadline_ms.desc())
            .limit(1)
        )
        helps = sa.select(assist_helps.c.kind, assist_helps.c.initiative_id, assist_helps.c.day).where(
            assist_helps.c.activity_id == activity_id, assist_helps.c.helper == user_id
        )
        async with self.engine.connect() as conn:
            initiated = int((await conn.execute(started)).scalar_one())
            open_id = (await conn.execute(open_one)).scalar_one_or_none()
            rows = (await conn.execute(helps)).all()
        invited = next((str(i) for kind, i, _ in rows if kind == "invite"), "")
        that_day = sum(1 for *_, d in rows if d == day.isoformat())
        return initiated, str(open_id or ""), len(rows), invited, that_day

    async def helps_of_device(self, activity_id: int, column: str, value: str, day: date) -> int:
        """Helps on `day` from a device (`column` device_id) or an address (ip): an indexed count."""
        col = assist_helps.c[column]
        query = sa.select(sa.func.count()).where(
            assist_helps.c.activity_id == activity_id, col == value, assist_helps.c.day == day.isoformat()
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def totals_grouped(self, activity_id: int) -> AssistTotals:
        """The same as `totals`, counted from the rows themselves (tests check the aggregates by it)."""
        initiatives = sa.select(sa.func.count()).where(assist_initiatives.c.activity_id == activity_id)
        helps = sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(sa.cast(assist_helps.c.helper_reward, sa.Integer)), 0)
        )
        helps = helps.where(assist_helps.c.activity_id == activity_id)
        outcomes = (
            sa.select(assist_outcomes.c.outcome, sa.func.count())
            .where(assist_outcomes.c.activity_id == activity_id)
            .group_by(assist_outcomes.c.outcome)
        )
        async with self.engine.connect() as conn:
            started = int((await conn.execute(initiatives)).scalar_one())
            help_count, rewarded = (await conn.execute(helps)).one()
            by_outcome = {str(o): int(n) for o, n in (await conn.execute(outcomes)).all()}
        return AssistTotals(
            initiatives=started,
            helps=int(help_count),
            completed=by_outcome.get("completed", 0),
            expired=by_outcome.get("expired", 0),
            helper_rewards=int(rewarded),
        )

    async def initiatives_by_user(self, activity_id: int) -> dict[str, int]:
        query = (
            sa.select(assist_initiatives.c.initiator, sa.func.count())
            .where(assist_initiatives.c.activity_id == activity_id)
            .group_by(assist_initiatives.c.initiator)
        )
        async with self.engine.connect() as conn:
            return {str(u): int(n) for u, n in (await conn.execute(query)).all()}

    async def initiatives_of(
        self, activity_id: int, initiator: str, limit: int, after: Key | None
    ) -> list[tuple[int, str, int]]:
        """(row id, initiative id, started at ms) of a member's initiatives, newest first, `limit`
        of them strictly after the keyset `after` = (started_at_ms, id) (activities/pages.py)."""
        t = assist_initiatives
        query = sa.select(t.c.id, t.c.initiative_id, t.c.started_at_ms).where(
            t.c.activity_id == activity_id, t.c.initiator == initiator
        )
        if after is not None:
            started, row_id = after
            query = query.where(
                sa.or_(t.c.started_at_ms < started, sa.and_(t.c.started_at_ms == started, t.c.id < row_id))
            )
        query = query.order_by(t.c.started_at_ms.desc(), t.c.id.desc()).limit(limit)
        async with self.engine.connect() as conn:
            return [(int(i), str(iid), int(at)) for i, iid, at in (await conn.execute(query)).all()]

    async def open_initiatives(self, activity_id: int) -> list[InitiativeRow]:
        """Initiatives with no outcome yet."""
        closed = sa.exists().where(assist_outcomes.c.initiative_id == assist_initiatives.c.initiative_id)
        query = sa.select(*[assist_initiatives.c[n] for n in InitiativeRow.__struct_fields__]).where(
            assist_initiatives.c.activity_id == activity_id, ~closed
        )
        async with self.engine.connect() as conn:
            return [InitiativeRow(**row._mapping) for row in (await conn.execute(query)).all()]

    async def initiative(self, initiative_id: str) -> tuple[InitiativeRow, str | None, list[HelpRow]] | None:
        """An initiative, its outcome (None while open) and its helps, in order."""
        query = sa.select(*[assist_initiatives.c[n] for n in InitiativeRow.__struct_fields__]).where(
            assist_initiatives.c.initiative_id == initiative_id
        )
        outcome = sa.select(assist_outcomes.c.outcome).where(assist_outcomes.c.initiative_id == initiative_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            found = (await conn.execute(outcome)).scalar_one_or_none()
        return InitiativeRow(**row._mapping), found, await self.helps_of([initiative_id])

    async def helps_of(self, initiative_ids: Sequence[str]) -> list[HelpRow]:
        if not initiative_ids:
            return []
        query = (
            sa.select(*[assist_helps.c[n] for n in HelpRow.__struct_fields__])
            .where(assist_helps.c.initiative_id.in_(initiative_ids))
            .order_by(assist_helps.c.initiative_id, assist_helps.c.number)
        )
        async with self.engine.connect() as conn:
            return [HelpRow(**row._mapping) for row in (await conn.execute(query)).all()]

    async def helpers(self, activity_id: int) -> dict[str, int]:
        """Helps per helper (and invitee) in the activity so far."""
        query = (
            sa.select(assist_helps.c.helper, sa.func.count())
            .where(assist_helps.c.activity_id == activity_id)
            .group_by(assist_helps.c.helper)
        )
        async with self.engine.connect() as conn:
            return {str(h): int(n) for h, n in (await conn.execute(query)).all()}

    async def invitees(self, activity_id: int) -> dict[str, str]:
        query = sa.select(assist_helps.c.helper, assist_helps.c.initiative_id).where(
            assist_helps.c.activity_id == activity_id, assist_helps.c.kind == "invite"
        )
        async with self.engine.connect() as conn:
            return {str(h): str(i) for h, i in (await conn.execute(query)).all()}

    async def day_counts(self, activity_id: int, day: date) -> tuple[Counter[str], Counter[str], Counter[str]]:
        """Helps on a local day per helper (friend or invitee), per device and per address."""
        query = sa.select(assist_helps.c.helper, assist_helps.c.device_id, assist_helps.c.ip).where(
            assist_helps.c.activity_id == activity_id, assist_helps.c.day == day.isoformat()
        )
        helpers: Counter[str] = Counter()
        devices: Counter[str] = Counter()
        addresses: Counter[str] = Counter()
        async with self.engine.connect() as conn:
            for helper, device, ip in (await conn.execute(query)).all():
                helpers[helper] += 1
                if device:
                    devices[device] += 1
                if ip:
                    addresses[ip] += 1
        return helpers, devices, addresses

    async def undelivered_helper_rewards(self, since_ms: int, before_ms: int) -> list[HelpRow]:
        """Helps in [since_ms, before_ms) that earned a points helper reward not in the ledger
        (the caller knows which activities reward with points)."""
        credited = sa.exists().where(db.points_ledger.c.ref == sa.literal("as:") + assist_helps.c.help_id)
        query = (
            sa.select(*[assist_helps.c[n] for n in HelpRow.__struct_fields__])
            .where(
                assist_helps.c.helper_reward.is_(True),
                assist_helps.c.at_ms >= since_ms,
                assist_helps.c.at_ms < before_ms,
                ~credited,
            )
            .limit(1000)
        )
        async with self.engine.connect() as conn:
            return [HelpRow(**row._mapping) for row in (await conn.execute(query)).all()]
