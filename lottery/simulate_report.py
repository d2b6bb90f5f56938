"""What a simulation says, as a JSON-ready struct (`summarise`) and as text (`render`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import numpy as np
import numpy.typing as npt

from activities.errors import Kind, PromoError
from lottery.model import LOTTERY_TYPES, Lottery
from lottery.simulate import Runs, SimConfig, Traffic, simulate


class Band(msgspec.Struct):
    """Over the simulated campaigns: the mean and the 5th, 50th and 95th percentiles."""

    mean: float
    p5: float
    p50: float
    p95: float


class StockOut(msgspec.Struct):
    share_of_runs: float  # share of the campaigns in which the prize ran out
    p10: datetime | None  # None: in fewer than 10 % (50 %, 90 %) of the campaigns it ran out
    median: datetime | None
    p90: datetime | None


class PrizeOutcome(msgspec.Struct):
    id: int
    name: str
    odds: float  # exact probability of being picked
    value_cny: float
    stock: int | None
    units: Band  # units granted over the campaign
    cost_cny: Band
    stock_out: StockOut | None  # None: unlimited stock


class DayOutcome(msgspec.Struct):
    day: str
    draws: float  # mean accepted draws
    cost_mean_cny: float
    cost_p95_cny: float


class Decile(msgspec.Struct):
    decile: int  # 1: the members who drew least ... 10: most
    draws_mean: float
    win_rate: float  # prizes other than the consolation won per draw
    share_winning: float  # share of the decile's members who won at least one such prize


class Points(msgspec.Struct):
    spent: Band  # points paid for draws (points_cost x draws)
    granted: Band  # points credited by "points" prizes
    net: Band  # granted - spent: negative means the activity takes in more points than it gives


class Simulation(msgspec.Struct):
    runs: int
    members: int
    days: int
    traffic: Traffic  # the traffic model simulated, defaults filled in
    method: str  # exact: every member simulated | normal: the members' sum drawn from its normal law
    draws: Band  # accepted draws over the campaign
    cost_cny: Band  # total cost of the prizes granted
    cost_per_day_cny: Band  # the campaign's cost divided by its days
    peak_day_cost_p95_cny: float  # the costliest day's P95
    prizes: list[PrizeOutcome]
    per_day: list[DayOutcome]
    share_winning: float  # share of all members who won at least one prize other than the consolation
    share_drawing: float  # share of all members who drew at least once
    deciles: list[Decile]  # members who drew, by how much they drew
    points: Points
    notes: list[str]
    budget_cny: float | None = None  # the activity's budget (lottery/pacing.py): the cost never exceeds it
    budget_out: StockOut | None = None  # when the budget ran out (less left than the cheapest prize with a value)


def simulate_lottery(activity: Lottery, traffic: Traffic) -> Simulation:
    """The simulation of a lottery activity (409 `wrong_activity_type` for another gameplay)."""
    if activity.type not in LOTTERY_TYPES:
        raise PromoError(
            Kind.CONFLICT, "wrong_activity_type", f"activity {activity.id} is a {activity.type}, not a lottery"
        )
    return summarise(simulate(SimConfig.of_activity(activity), traffic))


def _band(values: npt.NDArray[np.float64] | npt.NDArray[np.int64]) -> Band:
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    return Band(mean=round(float(np.mean(values)), 4), p5=float(p5), p50=float(p50), p95=float(p95))


def _stock_out(hours: npt.NDArray[np.float64], start: datetime) -> StockOut:
    def at(q: float) -> datetime | None:
        value = float(np.percentile(hours, q, method="nearest"))  # inf (never) sorts last
        return None if not np.isfinite(value) else (start + timedelta(hours=value)).replace(microsecond=0)

    return StockOut(share_of_runs=float(np.isfinite(hours).mean()), p10=at(10), median=at(50), p90=at(90))


def summarise(runs: Runs) -> Simulation:
    config, traffic = runs.config, runs.traffic
    values = np.array([p.value_cny for p in config.prizes])
    points = np.array([p.points for p in config.prizes], dtype=np.float64)
    cost_day = runs.wins @ values  # (R, D)
    units = runs.wins.sum(axis=1)  # (R, K)
    start = runs.calendar.days[0]
    n_days = len(runs.calendar.days)
    prizes = [
        PrizeOutcome(
            id=p.id,
            name=p.name,
            odds=float(runs.probs[k]),
            value_cny=p.value_cny,
            stock=p.stock,
            units=_band(units[:, k]),
            cost_cny=_band(units[:, k] * p.value_cny),
            stock_out=None if p.stock is None else _stock_out(runs.stock_out_h[:, k], start),
        )
        for k, p in enumerate(config.prizes)
    ]
    per_day = [
        DayOutcome(
            day=day.date().isoformat(),
            draws=float(runs.draws[:, d].mean()),
            cost_mean_cny=round(float(cost_day[:, d].mean()), 2),
            cost_p95_cny=float(np.percentile(cost_day[:, d], 95)),
        )
        for d, day in enumerate(runs.calendar.days)
    ]
    spent = runs.draws.sum(axis=1) * float(config.points_cost)
    granted = units @ points
    sampled = len(runs.member_draws)
    return Simulation(
        runs=len(runs.draws),
        members=traffic.members,
        days=n_days,
        traffic=traffic,
        method="exact" if runs.exact else "normal",
        draws=_band(runs.draws.sum(axis=1)),
        cost_cny=_band(cost_day.sum(axis=1)),
        cost_per_day_cny=_band(cost_day.sum(axis=1) / n_days),
        peak_day_cost_p95_cny=max((d.cost_p95_cny for d in per_day), default=0.0),
        prizes=prizes,
        per_day=per_day,
        share_winning=float((runs.member_wins > 0).sum() / sampled),
        share_drawing=float((runs.member_draws > 0).sum() / sampled),
        deciles=_deciles(runs),
        points=Points(spent=_band(spent), granted=_band(granted), net=_band(granted - spent)),
        notes=[
            f"{len(runs.draws)} campaigns of {traffic.members} members over {n_days} days; member statistics from "
            f"{sampled} simulated members (drawn under each campaign's availability: they agree with the totals "
            "on average, not draw for draw)",
            "stock-out times are exact to the hour, placed inside it at the last unit's expected position",
            "draw chances from other activities, pauses and stock added later are not simulated",
        ],
        budget_cny=None if config.budget_cny is None else float(config.budget_cny),
        budget_out=None if runs.budget_out_h is None else _stock_out(runs.budget_out_h, start),
    )


def _deciles(runs: Runs) -> list[Decile]:
    drew = runs.member_draws > 0
    draws, wins = runs.member_draws[drew], runs.member_wins[drew]
    if not len(draws):
        return []
    order = np.lexsort((np.random.default_rng(0).random(len(draws)), draws))  # ties broken at random
    out = []
    for index, group in enumerate(np.array_split(order, 10), start=1):
        if not len(group):
            continue
        total = draws[group].sum()
        out.append(
            Decile(
                decile=index,
                draws_mean=round(float(draws[group].mean()), 3),
                win_rate=round(float(wins[group].sum() / total), 5) if total else 0.0,
                share_winning=round(float((wins[group] > 0).mean()), 5),
            )
        )
    return out


def _cny(value: float) -> str:
    return f"{value:,.0f}"


def _budget_line(sim: Simulation) -> list[str]:
    if sim.budget_cny is None or sim.budget_out is None:
        return []
    out = sim.budget_out
    when = f"; median {out.median:%m-%d %H:%M}" if out.median is not None else ""
    return [f"  budget (CNY) {_cny(sim.budget_cny)}: spent in full in {out.share_of_runs:.0%} of runs{when}"]


def render(sim: Simulation, title: str) -> str:
    """The report `promo simulate` prints."""
    lines = [
        f"Simulation of {title}: {sim.runs} campaigns x {sim.members:,} members x {sim.days} days ({sim.method})",
        f"  draws        mean {_cny(sim.draws.mean)}   P5 {_cny(sim.draws.p5)}   P95 {_cny(sim.draws.p95)}",
        f"  cost (CNY)   total mean {_cny(sim.cost_cny.mean)}  P95 {_cny(sim.cost_cny.p95)}   "
        f"per day mean {_cny(sim.cost_per_day_cny.mean)}  P95 {_cny(sim.cost_per_day_cny.p95)}   "
        f"costliest day P95 {_cny(sim.peak_day_cost_p95_cny)}",
        *_budget_line(sim),
        "",
        f"  {'prize':<20} {'odds':>8} {'value':>8} {'stock':>8} {'units mean':>11} {'P95':>8}  stock-out",
    ]
    for p in sim.prizes:
        out = "unlimited"
        if p.stock_out is not None:
            so = p.stock_out
            out = f"in {so.share_of_runs:.0%} of runs"
            if so.median is not None:
                out += f"; median {so.median:%m-%d %H:%M}"
            if so.p10 is not None:
                out += f" (P10 {so.p10:%m-%d %H:%M}"
                out += f", P90 {so.p90:%m-%d %H:%M})" if so.p90 is not None else ", P90 never)"
        stock = "-" if p.stock is None else str(p.stock)
        lines.append(
            f"  {p.name[:20]:<20} {p.odds:>8.4%} {p.value_cny:>8.2f} {stock:>8} {p.units.mean:>11,.1f} "
            f"{p.units.p95:>8,.0f}  {out}"
        )
    lines += [
        "",
        f"  members who drew: {sim.share_drawing:.1%}; who won a prize (not the consolation): {sim.share_winning:.1%}",
        "  win rate by decile of members who drew (1 = drew least):",
    ]
    lines += [
        f"    {d.decile:>2}: {d.draws_mean:>7.2f} draws, win rate {d.win_rate:.2%}, won something {d.share_winning:.1%}"
        for d in sim.deciles
    ]
    pts = sim.points
    lines += [
        f"  points: spent on draws mean {_cny(pts.spent.mean)}, granted by prizes mean {_cny(pts.granted.mean)}, "
        f"net {_cny(pts.net.mean)} (P5 {_cny(pts.net.p5)}, P95 {_cny(pts.net.p95)})",
    ]
    lines += [f"  note: {note}" for note in sim.notes]
    return "\n".join(lines)
