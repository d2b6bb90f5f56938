"""Fairness you can prove (issue 18): live config versions, their public history, and the
verification of draws once the seed is revealed. Beside `DrawService` (lottery/service.py), which
draws with the derived numbers and the version in effect."""

from __future__ import annotations

import asyncio
import logging
import weakref

import msgspec
import sqlalchemy as sa
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import db as kernel_db
from activities.clock import to_ms
from activities.errors import OutcomeUnknown, conflict, not_found
from activities.model import Activity
from lottery import db
from lottery.model import ConfigVersion, Lottery
from lottery.repository import DrawRow, LotteryRepository
from lottery.service import DrawService
from lottery.verify import Check, DrawCheck, Report, Seen, StockAdded, replay, report, table_at
from lottery.versions import NewVersion, changed, terms_of
from lottery.versions_db import add_version, freeze, frozen_versions
from lottery.views import VersionView, version_view

log = logging.getLogger("promo.lottery")


class Versions(msgspec.Struct):
    """The history of a lottery's disclosed odds: every frozen version with its effective time."""

    activity_id: int
    current_version: int
    versions: list[VersionView]


class Weight(msgspec.Struct):
    prize_id: int
    weight: int


class DrawVerification(msgspec.Struct):
    activity_id: int
    draw_id: str
    result: str  # "verified" | "differs"
    verified: bool
    seed: str  # hex: sha256(seed) must be the commitment disclosed since the publication
    commitment: str
    seed_matches_commitment: bool
    config_version: int
    weights: list[Weight]  # the weight table of its version, in table order
    checks: list[Check]
    seen: Seen | None


async def audit_trail(
    engine: AsyncEngine, repository: LotteryRepository, activity_id: int
) -> tuple[list[DrawRow], list[StockAdded]]:
    """Every row handed out from the lottery (draws and grants) and the stock added to it."""
    draws = db.draws
    query = sa.select(*[draws.c[name] for name in DrawRow.__struct_fields__]).where(draws.c.activity_id == activity_id)
    async with engine.connect() as conn:
        rows = [DrawRow(**row._mapping) for row in (await conn.execute(query)).all()]
    actions = kernel_db.operator_actions
    query = sa.select(actions.c.detail, actions.c.at_ms).where(
        actions.c.activity_id == activity_id, actions.c.action == "add_stock"
    )
    async with engine.connect() as conn:
        found = (await conn.execute(query)).all()
    added = [StockAdded(int(d["prize_id"]), int(d["units"]), int(at)) for d, at in found]
    return rows, added


Replayed = dict[str, tuple[DrawRow, DrawCheck]]
# Per worker: the replay of each ended lottery asked about, with the rows it covered.
_REPLAYS: weakref.WeakKeyDictionary[DrawService, dict[int, tuple[int, Replayed]]] = weakref.WeakKeyDictionary()
_FLIGHTS: dict[tuple[DrawService, int], asyncio.Future[Replayed]] = {}


async def _count_rows(engine: AsyncEngine, activity_id: int) -> int:
    query = sa.select(sa.func.count()).where(db.draws.c.activity_id == activity_id)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


def revealed(activity: Activity) -> bool:
    """A lottery's seed is public once the activity has ended for good (status `ended`, which
    nothing reopens; a window that has only run out may still be extended, so it reveals nothing)."""
    return activity.status == "ended"


class Fairness:
    def __init__(self, draws: DrawService) -> None:
        self.draws = draws

    @property
    def engine(self) -> AsyncEngine:
        return self.draws.repository.engine

    async def history(self, activity: Activity) -> Versions:
        """The disclosed versions of a published lottery, announced ones included."""
        lottery = await self.draws.admin.read(activity)
        async with self.engine.connect() as conn:
            versions = await frozen_versions(conn, activity.id)
        if not versions:  # published before versions existed: its prizes are its only version
            versions = [
                ConfigVersion(version=0, effective_at_ms=to_ms(lottery.starts_at), prizes=terms_of(lottery.prizes))
            ]
        now_ms = self.draws.clock.now_ms()
        current = max((v.version for v in versions if v.effective_at_ms <= now_ms), default=versions[0].version)
        return Versions(
            activity_id=activity.id,
            current_version=current,
            versions=[version_view(lottery, v) for v in versions],
        )

    async def add_version(self, activity_id: int, change: NewVersion, operator_id: str) -> Versions:
        """A live change of odds or prize values: a new version effective at a future time,
        disclosed at once, logged; the draw script learns it now and applies it at its time."""
        lottery = await self.draws.admin.get(activity_id)
        if lottery.status == "draft":
            raise conflict("activity_not_live", "a draft is edited (PATCH), not versioned", status=lottery.status)
        if lottery.status == "ended":
            raise conflict("activity_ended", "the activity has ended")
        now_ms = self.draws.clock.now_ms()
        prizes, limits = changed(lottery, change, now_ms)
        if lottery.config_version == 0:  # published before versions: its prize table becomes one first
            await freeze(self.engine, activity_id, operator_id, now_ms)
        await add_version(
            self.engine, activity_id, prizes, limits, to_ms(change.effective_at), operator_id, now_ms, change.note
        )
        try:
            await self.draws.refresh_versions(activity_id)
        except (RedisError, OutcomeUnknown) as exc:  # the draw script's version check repairs it
            log.warning("activity %d: version in SQL, not yet in Redis (%s)", activity_id, exc)
        return await self.history(await self.draws.activities.get(activity_id))

    async def verification(self, activity: Activity, draw_id: str) -> DrawVerification:
        """One draw recomputed from the revealed seed (after the end; before: 409)."""
        if not revealed(activity):
            raise conflict(
                "seed_not_revealed",
                "the seed is revealed when the activity ends; draws are verifiable from then",
                status=activity.status,
            )
        lottery, seed = await self._lottery_and_seed(activity)
        found = (await self._replayed(activity.id, lottery, seed)).get(draw_id)
        if found is None:
            raise not_found("draw_not_found", f"no draw {draw_id} in activity {activity.id}")
        row, check = found
        version, _, prizes = table_at(lottery, row.variant or "", row.drawn_at_ms)
        assert lottery.commitment is not None
        return DrawVerification(
            activity_id=activity.id,
            draw_id=draw_id,
            result="verified" if check.verified else "differs",
            verified=check.verified,
            seed=seed.hex(),
            commitment=lottery.commitment,
            seed_matches_commitment=report(lottery, seed, []).seed_matches_commitment,
            config_version=version,
            weights=[Weight(prize_id=p.id, weight=p.weight) for p in prizes],
            checks=check.checks,
            seen=check.seen,
        )

    async def _replayed(self, activity_id: int, lottery: Lottery, seed: bytes) -> Replayed:
        """Every draw of an ended lottery replayed, once per worker (in a thread: it is seconds
        of CPU for a million draws) and again only when the audit trail grew (the writer may
        still have been writing the last draws when it ended): a public route's cost is one
        COUNT per request, whatever draw ids it is asked about."""
        replays = _REPLAYS.setdefault(self.draws, {})
        rows_now = await _count_rows(self.engine, activity_id)
        cached = replays.get(activity_id)
        if cached is not None and cached[0] == rows_now:
            return cached[1]
        flight = _FLIGHTS.get((self.draws, activity_id))
        if flight is None:

            async def run() -> Replayed:
                rows, added = await audit_trail(self.engine, self.draws.repository, activity_id)
                by_id = {r.draw_id: r for r in rows}
                checks = await asyncio.to_thread(lambda: list(replay(lottery, seed, rows, added)))
                replayed = {c.draw_id: (by_id[c.draw_id], c) for c in checks}
                replays[activity_id] = (len(rows), replayed)
                return replayed

            flight = asyncio.ensure_future(run())
            _FLIGHTS[(self.draws, activity_id)] = flight
            flight.add_done_callback(lambda _: _FLIGHTS.pop((self.draws, activity_id), None))
        return await asyncio.shield(flight)

    async def report(self, activity: Activity) -> Report:
        """Every draw recomputed (an operator's check: the seed need not be revealed yet)."""
        lottery, seed = await self._lottery_and_seed(activity)
        rows, added = await audit_trail(self.engine, self.draws.repository, activity.id)
        return report(lottery, seed, rows, added)

    async def _lottery_and_seed(self, activity: Activity) -> tuple[Lottery, bytes]:
        lottery = await self.draws.admin.read(activity)
        seed = None if self.draws.seeds is None else await self.draws.seeds.seed(activity.id)
        if seed is None or lottery.commitment is None:
            raise conflict("not_verifiable", "this lottery has no seed (published before commit-reveal draws)")
        return lottery, seed
