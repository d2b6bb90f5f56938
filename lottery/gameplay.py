"""The lottery (大转盘, 砸金蛋, 盲盒): one draw engine, three skins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activities.gameplay import Gameplay, GameplayService, Kernel, ViewSection
from activities.model import Activity
from lottery import db
from lottery.admin import ActivityCounters
from lottery.back_office import of_member
from lottery.model import LOTTERY_TYPES, Limits, LotterySpec, variant_view
from lottery.repository import LotteryRepository
from lottery.seeds import Seeds, seed_key
from lottery.service import DrawService
from lottery.store import DrawStore
from lottery.views import BudgetView, PityView, PrizeView, VersionView, lottery_view


def build(kernel: Kernel) -> GameplayService:
    repository = LotteryRepository(kernel.engine)
    seeds = Seeds(kernel.engine, seed_key(kernel.settings.var_dir))
    return DrawService(kernel.activities, DrawStore(kernel.batcher), repository, kernel.points, kernel.clock, seeds)


async def load_view(service: GameplayService, activity: Activity, operator: bool) -> Activity:
    """The lottery behind an activity's view (its prizes, limits and points cost)."""
    assert isinstance(service, DrawService)
    return await service.view_of(activity, operator)


def routes() -> Sequence[Any]:
    from lottery.controllers import ROUTES
    from lottery.fairness_controllers import ROUTES as FAIRNESS

    return [*ROUTES, *FAIRNESS]


GAMEPLAY = Gameplay(
    name="lottery",
    types=tuple(sorted(LOTTERY_TYPES)),
    spec=LotterySpec,
    build=build,
    counters=ActivityCounters,
    summary="Wheel, golden egg and blind box draws (大转盘, 砸金蛋, 盲盒): odds, stock, chances",
    routes=routes,
    tables=(db.prizes, db.draws, db.chance_ledger, db.config_versions, db.lottery_seeds),
    audit_ids={"draw": db.draws.c.draw_id},  # draws, chance draws, grants
    view=ViewSection(
        fields=[
            ("limits", Limits | None, None),
            ("points_cost", int, 0),
            ("prizes", list[PrizeView], []),
            ("odds_rule", str | None, None),  # how the odds and the fallback work
            ("pity", PityView | None, None),  # the pity rule (保底), disclosed
            # issue 18: the version in effect, the announced ones, the commitment, after the end the seed
            ("config_version", int | None, None),
            ("upcoming_versions", list[VersionView] | None, None),
            ("commitment", str | None, None),
            ("seed", str | None, None),
            ("budget", BudgetView | None, None),  # that a budget exists (its amount: operators only)
            ("stock_buckets", int | None, None),  # bucketed stock (lottery/buckets.py): operators only
        ],
        read=lottery_view,
        load=load_view,
        variant=variant_view,  # an A/B variant's odds
    ),
    member=of_member,
)
