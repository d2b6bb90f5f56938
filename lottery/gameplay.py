"""The lottery (大转盘, 砸金蛋, 盲盒): one draw engine, three skins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activities import db
from activities.gameplay import Gameplay, GameplayService, Kernel, ViewSection
from activities.model import LOTTERY_TYPES, ActivitySpec, Limits
from activities.service import ActivityCounters
from lottery.service import DrawService
from lottery.store import DrawStore
from lottery.views import PrizeView, lottery_view


def build(kernel: Kernel) -> GameplayService:
    return DrawService(kernel.activities, DrawStore(kernel.batcher), kernel.repository, kernel.points, kernel.clock)


def routes() -> Sequence[Any]:
    from lottery.controllers import ROUTES
    from lottery.simulation_controller import simulate_activity

    return [*ROUTES, simulate_activity]


GAMEPLAY = Gameplay(
    name="lottery",
    types=tuple(sorted(LOTTERY_TYPES)),
    spec=ActivitySpec,
    build=build,
    counters=ActivityCounters,
    summary="Wheel, golden egg and blind box draws (大转盘, 砸金蛋, 盲盒): odds, stock, chances",
    routes=routes,
    tables=(db.prizes, db.draws, db.chance_ledger),
    audit_ids={"draw": db.draws.c.draw_id},  # draws, chance draws, grants
    view=ViewSection(
        fields=[
            ("limits", Limits | None, None),
            ("points_cost", int, 0),
            ("prizes", list[PrizeView], []),
            ("odds_rule", str | None, None),  # how the odds and the fallback work
        ],
        read=lottery_view,
    ),
)
