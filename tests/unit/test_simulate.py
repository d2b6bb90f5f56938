"""The pre-launch simulator's model (lottery/simulate.py): answers known in closed form, and
agreement with the engine's own rules (lottery/odds.py) applied draw by draw."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from activities.errors import PromoError
from lottery.odds import RAND_RANGE, Availability, PrizeRule, decide, pick
from lottery.pacing import Periods, ReleasePlan, counter_field
from lottery.simulate import SimConfig, SimPrize, Traffic, pick_probabilities, simulate
from lottery.simulate_report import render, summarise

TZ = ZoneInfo("Asia/Shanghai")


def config(*prizes: SimPrize, days: int = 30, **limits: int | None) -> SimConfig:
    return SimConfig(
        prizes=prizes,
        per_user_daily=limits.get("per_user_daily"),
        per_user_total=limits.get("per_user_total"),
        global_daily=limits.get("global_daily"),
        points_cost=int(limits.get("points_cost") or 0),
        starts_at=datetime(2026, 6, 1, tzinfo=TZ),
        ends_at=datetime(2026, 6, 1 + days, tzinfo=TZ) if days < 30 else datetime(2026, 7, 1, tzinfo=TZ),
        timezone="Asia/Shanghai",
    )


def prize(
    id: int,
    weight: int,
    stock: int | None = None,
    value: float = 0.0,
    daily: int | None = None,
    cap: int | None = None,
    points: int = 0,
) -> SimPrize:
    return SimPrize(id, f"p{id}", weight, stock, daily, cap, value, points, consolation=stock is None)


def thanks(id: int, weight: int) -> SimPrize:
    return prize(id, weight)


@pytest.mark.parametrize("weights", [[1, 2], [10, 290, 700], [3, 0, 5, 7], [1, 2**21 - 2]])
def test_pick_probabilities_are_the_engines_slices(weights: list[int]) -> None:
    """Each slice starts at the first random number `odds.pick` maps into it."""
    probs = pick_probabilities(weights)
    assert probs.sum() == pytest.approx(1.0, abs=1e-15)
    rules = [PrizeRule(id=i, weight=w) for i, w in enumerate(weights)]
    first = 0
    for index, p in enumerate(probs):
        count = round(p * RAND_RANGE)
        if count:
            assert pick(rules, first).id == index
            assert pick(rules, first + count - 1).id == index
            if first:
                assert pick(rules, first - 1).id != index
        first += count
    assert first == RAND_RANGE


def test_without_stock_limits_the_win_rate_is_the_odds() -> None:
    cfg = config(prize(1, 1, stock=10**9, value=2.0), thanks(2, 3), days=1)
    sim = summarise(simulate(cfg, Traffic(members=2000, runs=200, draws_per_day=5, seed=1)))
    rate = sim.prizes[0].units.mean / sim.draws.mean
    assert rate == pytest.approx(0.25, abs=0.003)
    assert sim.cost_cny.mean == pytest.approx(sim.prizes[0].units.mean * 2.0)
    assert sim.prizes[0].stock_out is not None and sim.prizes[0].stock_out.share_of_runs == 0
    assert len(sim.deciles) == 10
    assert all(d.win_rate == pytest.approx(0.25, abs=0.1) for d in sim.deciles)  # no decile is favoured
    assert sim.deciles[-1].win_rate == pytest.approx(0.25, abs=0.02)  # the busiest decile: many draws


def test_stock_runs_out_under_huge_traffic_and_costs_exactly_the_stock() -> None:
    cfg = config(prize(1, 50, stock=100, value=30.0), thanks(2, 50), days=3)
    sim = summarise(simulate(cfg, Traffic(members=100_000, runs=300, seed=2)))
    assert sim.prizes[0].units.p5 == sim.prizes[0].units.p95 == 100
    assert sim.cost_cny.p5 == sim.cost_cny.p95 == 3000.0
    out = sim.prizes[0].stock_out
    assert out is not None and out.share_of_runs == 1.0
    assert out.p10 is not None and out.median is not None and out.p90 is not None
    assert datetime(2026, 6, 1, tzinfo=TZ) <= out.p10 <= out.median <= out.p90 < datetime(2026, 6, 2, tzinfo=TZ)
    assert sim.method == "normal"  # 300 x 100,000 members: their sum drawn from its normal law


def test_limits_exactly() -> None:
    """Fixed traffic: every member tries 5 a day; 3 a day, 7 in all are allowed; 1,000 a day overall."""
    cfg = config(thanks(1, 1), days=3, per_user_daily=3, per_user_total=7)
    runs = simulate(cfg, Traffic(members=100, runs=5, draws_per_day=5, distribution="fixed", seed=3))
    assert (runs.draws == np.array([300, 300, 100])).all()
    capped = config(thanks(1, 1), days=2, per_user_daily=3, global_daily=250)
    runs = simulate(capped, Traffic(members=100, runs=5, draws_per_day=5, distribution="fixed", seed=3))
    assert (runs.draws == 250).all()


def test_daily_stock_and_points_economy() -> None:
    cfg = config(prize(1, 1, stock=10**6, daily=10, points=50), thanks(2, 1), days=4, points_cost=5)
    sim = summarise(simulate(cfg, Traffic(members=10_000, runs=50, seed=4)))
    assert sim.prizes[0].units.p5 == sim.prizes[0].units.p95 == 40
    assert sim.points.granted.mean == 2000
    assert sim.points.spent.mean == pytest.approx(sim.draws.mean * 5)


def _reference(cfg: SimConfig, members: int, per_day: int, days: int, seed: int) -> Counter[int]:
    """One campaign drawn one draw at a time with the engine's rules (odds.decide)."""
    rng = random.Random(seed)
    rules = [
        PrizeRule(p.id, p.weight, p.stock is not None, p.daily_stock or 0, p.per_user_cap or 0, p.consolation)
        for p in cfg.prizes
    ]
    stock = {p.id: p.stock or 0 for p in cfg.prizes}
    wins: dict[tuple[int, int], int] = Counter()
    total: Counter[int] = Counter()
    for _ in range(days):
        queue = [m for m in range(members) for _ in range(per_day)]
        rng.shuffle(queue)
        today: Counter[int] = Counter()
        member_today: Counter[int] = Counter()
        accepted = 0
        for member in queue:
            if cfg.per_user_daily and member_today[member] >= cfg.per_user_daily:
                continue
            if cfg.global_daily and accepted >= cfg.global_daily:
                continue
            mine = {p: n for (m, p), n in wins.items() if m == member}
            state = Availability(stock_left=stock, granted_today=today, user_wins=mine)
            _, won = decide(rules, rng.getrandbits(32), state)
            stock[won.id] -= 1
            today[won.id] += 1
            wins[(member, won.id)] += 1
            total[won.id] += 1
            member_today[member] += 1
            accepted += 1
    return total


def test_agrees_with_the_engines_rules_draw_by_draw() -> None:
    """Stock, daily stock, per-member caps and the global cap together: the simulator's mean units
    per prize match a draw-by-draw replay of odds.decide within a few standard errors."""
    cfg = config(
        prize(1, 5, stock=12, value=100.0),
        prize(2, 30, stock=1000, daily=45, cap=1, value=5.0),
        prize(3, 15, stock=10**6, cap=2, points=20),
        thanks(4, 50),
        days=2,
        per_user_daily=3,
        global_daily=500,
    )
    reference = [_reference(cfg, 120, 5, 2, seed) for seed in range(60)]
    runs = simulate(cfg, Traffic(members=120, runs=2000, draws_per_day=5, distribution="fixed", seed=5))
    units = runs.wins.sum(axis=1)
    for k, p in enumerate(cfg.prizes):
        observed = np.array([r[p.id] for r in reference], dtype=np.float64)
        error = np.hypot(observed.std() / np.sqrt(len(observed)), units[:, k].std() / np.sqrt(len(units)))
        assert abs(observed.mean() - units[:, k].mean()) <= 4 * error + 0.5, (
            p.name,
            observed.mean(),
            units[:, k].mean(),
        )


def test_bad_traffic_is_refused_with_a_code() -> None:
    cfg = config(thanks(1, 1), days=2)
    with pytest.raises(PromoError) as caught:
        simulate(cfg, Traffic(hourly=[0.0] * 24))
    assert caught.value.code == "hourly_all_zero"
    huge = replace(
        config(*[prize(i, 1, stock=5) for i in range(1, 50)], thanks(50, 1)), ends_at=datetime(2027, 7, 1, tzinfo=TZ)
    )
    with pytest.raises(PromoError) as caught:
        simulate(huge, Traffic(runs=10_000, days=366))  # refused before any work
    assert caught.value.code == "simulation_too_large"


def test_a_prize_without_stock_is_out_from_the_start() -> None:
    cfg = config(prize(1, 1, stock=0, value=10.0), thanks(2, 1), days=2)
    sim = summarise(simulate(cfg, Traffic(members=100, runs=10, seed=8)))
    out = sim.prizes[0].stock_out
    assert out is not None and out.share_of_runs == 1.0 and out.median == datetime(2026, 6, 1, tzinfo=TZ)
    assert sim.cost_cny.p95 == 0 and sim.traffic.runs == 10 and sim.traffic.days == 2


def test_report_renders() -> None:
    cfg = config(prize(1, 1, stock=5, value=10.0), thanks(2, 9), days=2)
    text = render(summarise(simulate(cfg, Traffic(members=500, runs=20, seed=6))), "demo")
    assert "cost (CNY)" in text and "decile" in text and "stock-out" in text


# --- paced release and budgets (lottery/simulate_paced.py) -------------------------------------


def test_a_release_plan_paces_the_stock_out() -> None:
    """100 units released 10 a day (no rollover) under heavy traffic: 10 a day, gone on day 10."""
    plan = ReleasePlan(per="day", units=10, rollover=False)
    cfg = config(replace(prize(1, 50, stock=100, value=30.0), release=plan), thanks(2, 50), days=20)
    runs = simulate(cfg, Traffic(members=10_000, runs=100, seed=5))
    assert (runs.wins[:, :10, 0] == 10).all() and (runs.wins[:, 10:, 0] == 0).all()
    sim = summarise(runs)
    out = sim.prizes[0].stock_out
    assert out is not None and out.share_of_runs == 1.0 and out.median is not None
    assert datetime(2026, 6, 10, tzinfo=TZ) <= out.median < datetime(2026, 6, 11, tzinfo=TZ)
    unpaced = summarise(simulate(replace(cfg, prizes=(prize(1, 50, stock=100, value=30.0), thanks(2, 50))),
                                 Traffic(members=10_000, runs=100, seed=5)))  # fmt: skip
    assert unpaced.prizes[0].stock_out is not None and unpaced.prizes[0].stock_out.median is not None
    assert unpaced.prizes[0].stock_out.median < datetime(2026, 6, 2, tzinfo=TZ)


def test_hourly_rollover_releases_what_quiet_hours_left() -> None:
    """3 an hour with rollover: by the end of day d at most 72 (d + 1) units, and traffic at
    night is low, so the evening peak catches up on what the night left."""
    plan = ReleasePlan(per="hour", units=3, rollover=True)
    cfg = config(replace(prize(1, 50, stock=10**6, value=1.0), release=plan), thanks(2, 50), days=3)
    runs = simulate(cfg, Traffic(members=20_000, runs=50, seed=6))
    assert (runs.wins[:, :, 0].cumsum(axis=1) <= 72 * np.arange(1, 4)).all()
    assert (runs.wins[:, :, 0].sum(axis=1) == 216).all()  # demand exceeds it: everything released goes
    no_rollover = ReleasePlan(per="hour", units=3, rollover=False)
    fixed = config(replace(prize(1, 50, stock=10**6, value=1.0), release=no_rollover), thanks(2, 50), days=3)
    quiet = Traffic(members=200, runs=50, seed=6)  # some hours see fewer than 3 picks: those units are lost
    assert (
        simulate(fixed, quiet).wins[:, :, 0].sum()
        < simulate(replace(fixed, prizes=cfg.prizes), quiet).wins[:, :, 0].sum()
    )


def test_the_budget_is_never_exceeded_and_its_end_is_reported() -> None:
    cfg = replace(
        config(prize(1, 30, stock=10**5, value=30.0), prize(2, 30, stock=10**5, value=7.5), thanks(3, 40), days=5),
        budget_cny=Decimal(5000),
    )
    runs = simulate(cfg, Traffic(members=5000, runs=200, seed=7))
    cost = runs.wins[:, :, 0].sum(axis=1) * 30.0 + runs.wins[:, :, 1].sum(axis=1) * 7.5
    assert (cost <= 5000).all() and (cost > 5000 - 7.5 - 30).all()  # spent to within a prize of it
    sim = summarise(runs)
    assert sim.cost_cny.p95 <= 5000 and sim.budget_cny == 5000
    assert sim.budget_out is not None and sim.budget_out.share_of_runs == 1.0
    assert sim.budget_out.median is not None and sim.budget_out.median < datetime(2026, 6, 2, tzinfo=TZ)
    assert "budget (CNY) 5,000" in render(sim, "budget")


def test_paced_and_budgeted_simulation_agrees_with_the_engines_rules() -> None:
    """A small campaign drawn one draw at a time with odds.decide (release counters, budget)
    against the simulator's mean: within a few standard errors."""
    plan = ReleasePlan(per="day", units=6, rollover=True)
    cfg = replace(
        config(replace(prize(1, 20, stock=1000, value=50.0), release=plan), prize(2, 30, stock=1000, value=5.0),
               thanks(3, 50), days=4),
        budget_cny=Decimal(1200),
    )  # fmt: skip
    sim = simulate(cfg, Traffic(members=40, runs=400, draws_per_day=2, distribution="fixed", seed=8))
    rules = [
        PrizeRule(1, 20, True, value_fen=5000, release=plan),
        PrizeRule(2, 30, True, value_fen=500),
        PrizeRule(3, 50, consolation=True),
    ]
    rng = random.Random(9)
    totals = []
    for _ in range(200):
        paced: Counter[str] = Counter()
        for day in range(4):
            for _ in range(80):
                state = Availability(stock_left={1: 1000, 2: 1000}, granted_today={}, user_wins={}, paced=paced,
                                     periods=Periods(0, day), budget_fen=120_000)  # fmt: skip
                _, won = decide(rules, rng.getrandbits(32), state)
                paced["spent"] += won.value_fen
                if won.release is not None:
                    paced[counter_field(won.id, won.release, state.periods)] += 1
        totals.append(paced["r:1"])
    assert float(np.mean(totals)) == pytest.approx(float(sim.wins[:, :, 0].sum(axis=1).mean()), rel=0.1)
    assert max(totals) <= 24 and (sim.wins[:, :, 0].sum(axis=1) <= 24).all()
