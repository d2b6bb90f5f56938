"""The pre-launch simulator: a lottery's cost, stock-outs and fairness, by Monte-Carlo, before launch.

Pure (numpy; no web, no database). Given a lottery (`SimConfig`, from a `Lottery` or an
`LotterySpec`) and a traffic model (`Traffic`), `simulate` runs many campaigns at once and
`lottery/simulate_report.py` summarises them. The engine's rules are followed as `lottery/odds.py`
and `draw.lua` apply them:

- the pick: prize i owns the random numbers r with ``r * total // 2**32`` in its slice of the
  weights, so its probability is that count over 2**32 (`pick_probabilities`), exactly;
- a picked prize that is out of stock, out of today's stock or at the member's cap falls back to
  the consolation prize (which never runs out); nothing else's odds change;
- per-member daily and total limits refuse draws (a refused draw counts for nothing); the global
  daily cap refuses the day's draws after the first `global_daily`, in arrival order.

How it is computed (and what is approximated):

1. Members. Each member has an activity level (gamma, mean 1, shape `spread`; 0 = all alike) and
   tries Poisson(draws_per_day x level x share of the day inside the window) draws a day (or a
   fixed number). The member limits are applied member by member, day by day: exact.
2. Campaigns. A campaign's accepted draws per day are the sum over its members. Exact (every member
   simulated) while runs x members x days <= `EXACT_BUDGET`; above it, the sum of that many
   independent members is drawn from the normal law with the members' mean and day-by-day
   covariance (estimated from `SAMPLE_MEMBERS` simulated members): with 10**5 members the error is
   far below the Monte-Carlo noise.
3. Hours. Each day's draws are spread over its hours by the arrival curve (multinomial); the
   global daily cap keeps the first `global_daily` of the day, hour by hour: exact at hour grain.
4. Picks and stock. Each hour's draws pick prizes (multinomial, the exact odds). Stock and daily
   stock are then consumed in hour order: the first picks of a prize win while units are
   left, which is exactly what sequential draws do. A stock-out time is placed inside its hour at
   the expected position of the last unit's pick (k/(n+1) of the hour): hour-exact, minute-approximate.
5. Per-member caps. A capped prize's picks are thinned, hour by hour, by the share of them made by
   members still under their cap, read off a curve of that share against the units granted so
   far (`simulate_caps.cap_curves`, from the members' draw counts). The curve is exact when availability thins
   every member's picks alike; it ignores that a member's picks cluster in time (a heavy member's
   second pick the same hour). A cap above `MAX_MODELLED_CAP` is taken as never reached.
6. Members' view (win rate per decile, share winning anything): the member sample, its draws thinned
   by the global cap's share, each pick granted with its campaign day's availability, then capped.

7. Pity and unlock tiers (per member: a draw's number, the consolations before it) make each day's
   pick probabilities: `lottery/simulate_rules.py` plays the sampled members' draws in order.

Not modelled: draw chances handed out by other activities (every draw is a member's own, within the
limits), paused days, stock added during the campaign, and the global cap's effect on a member's
total limit (a draw refused by the global cap still counts against the member's total here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import numpy.typing as npt

from activities.errors import invalid
from lottery.model import Lottery, LotterySpec
from lottery.odds import RAND_RANGE
from lottery.pacing import ReleasePlan
from lottery.simulate_caps import cap_curves
from lottery.simulate_rules import mean_probs, rule_probs

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

MAX_DAYS = 366  # a longer window is simulated over its first year
EXACT_BUDGET = 20_000_000  # member-days simulated one by one before switching to the normal law
SAMPLE_MEMBERS = 20_000  # members simulated for the member statistics and the normal law
MAX_CELLS = 50_000_000  # runs x days x 24 x prizes: beyond this a request is refused (about 10 s of work)
DEFAULT_RUNS = 1000  # fewer when a long window with many prizes would pass MAX_CELLS
UNLIMITED = np.iinfo(np.int64).max // 4

# Arrival by local hour, a typical Chinese consumer app: quiet at night, lunch and evening peaks.
DEFAULT_HOURLY: tuple[float, ...] = (
    1.5, 0.8, 0.5, 0.3, 0.3, 0.5, 1.2, 2.5, 3.5, 4.0, 4.5, 5.0,
    6.5, 5.5, 4.5, 4.2, 4.2, 4.5, 5.2, 6.0, 7.5, 8.0, 6.5, 3.5,
)  # fmt: skip

Rate = Annotated[float, msgspec.Meta(ge=0, le=1000)]
HourWeight = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]


class Traffic(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who comes and how often. Every field has a default; bounded so a request stays affordable."""

    members: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 100_000
    runs: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None  # default DEFAULT_RUNS, within MAX_CELLS
    draws_per_day: Rate = 1.0  # mean draws a member tries per full day
    distribution: Literal["poisson", "fixed"] = "poisson"  # fixed: every member tries exactly that many
    spread: Annotated[float, msgspec.Meta(ge=0, le=100)] = 1.0  # gamma shape of members' activity; 0 = alike
    hourly: Annotated[list[HourWeight], msgspec.Meta(min_length=24, max_length=24)] | None = None
    days: Annotated[int, msgspec.Meta(ge=1, le=MAX_DAYS)] | None = None  # default: the window's days
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | None = None


@dataclass(frozen=True)
class SimPrize:
    id: int
    name: str
    weight: int
    stock: int | None
    daily_stock: int | None
    per_user_cap: int | None
    value_cny: float
    points: int
    consolation: bool
    unlock_after: int = 0  # unlock tier (lottery/simulate_rules.py); 0: from the first draw
    pity: bool = False  # one of the pity rule's prizes
    release: ReleasePlan | None = None  # paced release (lottery/pacing.py, simulated by lottery/simulate_paced.py)


@dataclass(frozen=True)
class SimConfig:
    prizes: tuple[SimPrize, ...]
    per_user_daily: int | None
    per_user_total: int | None
    global_daily: int | None
    points_cost: int
    starts_at: datetime
    ends_at: datetime
    timezone: str
    pity_after: int = 0  # the pity rule (lottery/simulate_rules.py); 0: none
    budget_cny: Decimal | None = None  # the activity's budget (lottery/pacing.py)

    @classmethod
    def of_activity(cls, activity: Lottery) -> SimConfig:
        prizes = tuple(
            SimPrize(p.id, p.name, p.weight, p.stock, p.daily_stock, p.per_user_cap, float(p.value_cny),
                     p.points or 0, p.is_consolation, p.unlock_after_draws or 0, p.pity, p.release)
            for p in activity.prizes
        )  # fmt: skip
        config = cls._with(prizes, activity.limits, activity.points_cost, activity)
        return replace(config, pity_after=activity.pity_after or 0)

    @classmethod
    def of_spec(cls, spec: LotterySpec) -> SimConfig:
        prizes = tuple(
            SimPrize(i + 1, p.name, p.weight, p.stock, p.daily_stock, p.per_user_cap, float(p.value_cny),
                     p.points or 0, p.type == "thanks", p.unlock_after_draws or 0,
                     spec.pity is not None and i in spec.pity.prizes, p.release)
            for i, p in enumerate(spec.prizes)
        )  # fmt: skip
        config = cls._with(prizes, spec.limits, spec.points_cost, spec)
        return replace(config, pity_after=spec.pity.after if spec.pity else 0)

    @classmethod
    def _with(cls, prizes: tuple[SimPrize, ...], limits: object, cost: int, src: Lottery | LotterySpec) -> SimConfig:
        return cls(
            prizes=prizes,
            per_user_daily=getattr(limits, "per_user_daily", None),
            per_user_total=getattr(limits, "per_user_total", None),
            global_daily=getattr(limits, "global_daily", None),
            points_cost=cost,
            starts_at=src.starts_at,
            ends_at=src.ends_at,
            timezone=src.timezone,
            budget_cny=src.budget_cny,
        )


def pick_probabilities(weights: list[int]) -> F64:
    """Exactly how often `odds.pick` picks each prize: the share of the 2**32 random numbers whose
    point ``r * total // 2**32`` falls in the prize's slice [a, b), i.e. ceil(b*2**32/T) - ceil(a*2**32/T)."""
    total = sum(weights)
    if total <= 0:
        raise invalid("weights_all_zero", "at least one prize needs a positive weight", field="prizes")
    edges = np.cumsum([0, *weights])
    firsts = [-((-int(edge) * RAND_RANGE) // total) for edge in edges]  # first r at or past each edge
    return np.diff(np.array(firsts, dtype=np.float64)) / RAND_RANGE


@dataclass(frozen=True)
class Calendar:
    """The simulated local days and the share of each of their hours inside the window."""

    days: list[datetime]  # local midnights
    inside: F64  # (days, 24) in [0, 1]


def calendar(config: SimConfig, days: int | None) -> Calendar:
    tz = ZoneInfo(config.timezone)
    start, end = config.starts_at.timestamp(), config.ends_at.timestamp()
    day = config.starts_at.astimezone(tz).date()
    last = (config.ends_at - timedelta(microseconds=1)).astimezone(tz).date()
    count = min((last - day).days + 1, days or MAX_DAYS, MAX_DAYS)
    midnights, rows = [], []
    for d in range(count):
        local = datetime.combine(day + timedelta(days=d), datetime.min.time(), tz)
        midnights.append(local)
        hours = [(local + timedelta(hours=h)).timestamp() for h in range(25)]
        rows.append([max(0.0, min(end, hours[h + 1]) - max(start, hours[h])) / 3600 for h in range(24)])
    return Calendar(midnights, np.clip(np.array(rows, dtype=np.float64), 0.0, 1.0))


def _split(rng: np.random.Generator, total: I64, probs: F64) -> I64:
    """Multinomial split of each count in `total` (any shape) over the last axis of `probs`
    (broadcast against total[..., None]) by conditional binomials: vectorised over every count."""
    probs = np.broadcast_to(probs, (*total.shape, probs.shape[-1]))
    out = np.zeros((*total.shape, probs.shape[-1]), dtype=np.int64)
    left, rest = total.astype(np.int64), probs.sum(axis=-1)
    for k in range(probs.shape[-1] - 1):
        share = np.divide(probs[..., k], rest, out=np.zeros_like(rest), where=rest > 0)
        out[..., k] = rng.binomial(left, np.clip(share, 0.0, 1.0))
        left = left - out[..., k]
        rest = rest - probs[..., k]
    out[..., -1] = left
    return out


def member_draws(rng: np.random.Generator, n: int, config: SimConfig, traffic: Traffic, day_share: F64) -> I64:
    """(n, days): the draws each of n members makes each day, within the per-member limits."""
    level = rng.gamma(traffic.spread, 1 / traffic.spread, n) if traffic.spread > 0 else np.ones(n)
    used = np.zeros(n, dtype=np.int64)
    out = np.zeros((n, len(day_share)), dtype=np.int64)
    for d, share in enumerate(day_share):
        mean = traffic.draws_per_day * share
        if traffic.distribution == "fixed":
            tries = np.floor(mean) + (rng.random(n) < mean - math.floor(mean))
        else:
            tries = rng.poisson(mean * level)
        tries = tries.astype(np.int64)
        if config.per_user_daily:
            tries = np.minimum(tries, config.per_user_daily)
        if config.per_user_total:
            tries = np.minimum(tries, config.per_user_total - used)
        out[:, d] = tries
        used += tries
    return out


@dataclass
class Runs:
    """What the campaigns did, run by run (R runs, D days, K prizes)."""

    config: SimConfig
    traffic: Traffic
    calendar: Calendar
    probs: F64  # (K,) exact pick probabilities
    draws: I64  # (R, D) accepted draws
    wins: I64  # (R, D, K) units granted
    stock_out_h: F64  # (R, K) hours from the first local midnight to the last unit (inf: never)
    member_draws: I64  # (S,) draws of each sampled member over the campaign
    member_wins: I64  # (S,) prizes other than the consolation won by each sampled member
    exact: bool
    budget_out_h: F64 | None = None  # (R,) hours to the budget's exhaustion (inf: never); None: no budget


def simulate(config: SimConfig, traffic: Traffic) -> Runs:
    prizes = config.prizes
    probs = pick_probabilities([p.weight for p in prizes])
    cal = calendar(config, traffic.days)
    n_days, n_prizes = len(cal.days), len(prizes)
    cells = n_days * 24 * n_prizes
    runs = traffic.runs or max(1, min(DEFAULT_RUNS, MAX_CELLS // cells))
    curve = np.array(traffic.hourly or DEFAULT_HOURLY, dtype=np.float64)
    traffic = msgspec.structs.replace(traffic, runs=runs, days=n_days, hourly=[float(w) for w in curve])  # as simulated
    assert traffic.runs is not None
    if traffic.runs * cells > MAX_CELLS:
        raise invalid(
            "simulation_too_large",
            f"runs x days x 24 x prizes must stay below {MAX_CELLS}: use fewer runs or days",
            field="runs",
        )
    if curve.sum() <= 0:
        raise invalid("hourly_all_zero", "the hourly arrival curve needs a positive weight", field="hourly")
    hour_weight = cal.inside * curve  # (D, 24)
    day_share = hour_weight.sum(axis=1) / curve.sum()  # a partial day gets its hours' share of a day
    rng = np.random.default_rng(traffic.seed)

    exact = traffic.runs * traffic.members * n_days <= EXACT_BUDGET
    if exact:
        chunk = max(1, 2_000_000 // (traffic.members * n_days))  # campaigns at a time: bounded memory
        parts, sample = [], np.zeros((0, n_days), dtype=np.int64)
        for first in range(0, traffic.runs, chunk):
            count = min(chunk, traffic.runs - first)
            paths = member_draws(rng, count * traffic.members, config, traffic, day_share)
            if not first:  # the member statistics: the first campaigns' own members
                sample = paths[:SAMPLE_MEMBERS].copy()
            parts.append(paths.reshape(count, traffic.members, n_days).sum(axis=1))
        daily = np.concatenate(parts)
        campaign = np.arange(len(sample)) // traffic.members
    else:
        sample = member_draws(rng, min(traffic.members, SAMPLE_MEMBERS), config, traffic, day_share)
        mean, cov = sample.mean(axis=0), np.atleast_2d(np.cov(sample, rowvar=False))
        normal = rng.multivariate_normal(traffic.members * mean, traffic.members * cov, traffic.runs, method="eigh")
        daily = np.clip(np.rint(normal), 0, None).astype(np.int64)
        campaign = np.arange(len(sample)) % min(traffic.runs, 20)  # spread over the first campaigns
    day_probs = rule_probs(rng, config, sample, probs)  # pity and unlock tiers: each day's odds
    outcome = probs if day_probs is None else mean_probs(day_probs, sample)
    caps = cap_curves(sample, outcome, prizes)  # lottery/simulate_caps.py

    day_weight = hour_weight.sum(axis=1, keepdims=True)
    hour_probs = hour_weight / np.where(day_weight > 0, day_weight, 1.0)
    arrivals = _split(rng, daily, hour_probs)  # (R, D, 24)
    if config.global_daily:
        arrivals = np.diff(np.minimum(np.cumsum(arrivals, axis=2), config.global_daily), axis=2, prepend=0)
    accepted = arrivals.sum(axis=2)
    picking = probs if day_probs is None else day_probs
    if config.budget_cny is not None or any(p.release for p in prizes):  # hour by hour (lottery/simulate_paced.py)
        from lottery.simulate_paced import consume_paced

        wins, granted_share, out_h, budget_out_h = consume_paced(
            rng, arrivals, picking, caps, traffic.members, config, cal
        )
    else:
        (wins, granted_share, out_h), budget_out_h = (
            _consume(rng, arrivals, picking, caps, traffic.members, prizes),
            None,
        )
    m_draws, m_wins = _members(rng, sample, campaign, accepted, daily, outcome, granted_share, prizes)
    return Runs(config, traffic, cal, probs, accepted, wins, out_h, m_draws, m_wins, exact, budget_out_h)


def _consume(
    rng: np.random.Generator,
    arrivals: I64,
    probs: F64,
    caps: dict[int, tuple[F64, F64]],
    members: int,
    prizes: tuple[SimPrize, ...],
) -> tuple[I64, F64, F64]:
    """Day by day, hour by hour in order: the first picks of a prize win while its stock and
    today's stock last (the prizes' stocks are independent: an unavailable pick goes to the
    consolation prize, which never runs out). `probs`: (K,) or, with pity or tiers, (D, K)."""
    runs, n_days, _ = arrivals.shape
    day_probs = np.broadcast_to(probs, (n_days, len(prizes)))
    n_prizes = len(prizes)
    stock = np.array([UNLIMITED if p.stock is None else p.stock for p in prizes], dtype=np.int64)
    daily = np.array([p.daily_stock if p.daily_stock is not None else UNLIMITED for p in prizes], dtype=np.int64)
    consolation = next(k for k, p in enumerate(prizes) if p.consolation)
    left = np.broadcast_to(stock, (runs, n_prizes)).copy()
    wins = np.zeros((runs, n_days, n_prizes), dtype=np.int64)
    picked = np.zeros((runs, n_days, n_prizes), dtype=np.int64)
    out_h = np.full((runs, n_prizes), np.inf)
    out_h[:, stock == 0] = 0.0  # none to begin with: out from the start
    granted = np.zeros((runs, n_prizes), dtype=np.int64)
    limited = stock < UNLIMITED
    for d in range(n_days):
        picks = _split(rng, arrivals[:, d, :], day_probs[d])  # (R, 24, K)
        fresh = picks.copy()  # picks by members under their cap
        limit = np.minimum(left, daily)  # units that may go today
        # Uncapped prizes, all hours at once: the first `limit` picks of the day win.
        won = np.diff(np.minimum(np.cumsum(fresh, axis=1), limit[:, None, :]), axis=1, prepend=0)
        # Capped prizes, hour by hour: who is under the cap follows the units granted so far.
        for k, (per_member, share) in caps.items():
            room, given = limit[:, k].copy(), granted[:, k].copy()
            for h in range(24):
                fresh[:, h, k] = rng.binomial(picks[:, h, k], np.interp(given / members, per_member, share))
                won[:, h, k] = np.minimum(fresh[:, h, k], room)
                room -= won[:, h, k]
                given += won[:, h, k]
        won[:, :, consolation] = 0
        # The hour the last unit went, and where in it: the expected position of that pick.
        so_far = np.cumsum(won, axis=1)
        hit = (so_far >= left[:, None, :]) & (left > 0)[:, None, :] & limited
        hour = hit.argmax(axis=1)  # (R, K): the first hour that reached the stock
        at = np.take_along_axis(so_far - won, hour[:, None, :], axis=1)[:, 0, :]
        picks_then = np.take_along_axis(fresh, hour[:, None, :], axis=1)[:, 0, :]
        position = (left - at) / (picks_then + 1)
        out_h = np.where(hit.any(axis=1) & np.isinf(out_h), d * 24 + hour + position, out_h)
        day_won = won.sum(axis=1)
        left -= day_won
        granted += day_won
        wins[:, d, :] = day_won
        picked[:, d, :] = fresh.sum(axis=1)
        wins[:, d, consolation] = arrivals[:, d, :].sum(axis=1) - day_won.sum(axis=1)
    share = np.divide(wins, picked, out=np.ones(wins.shape), where=picked > 0)
    return wins, share, out_h


def _members(
    rng: np.random.Generator,
    sample: I64,
    campaign: I64,
    accepted: I64,
    daily: I64,
    probs: F64,
    granted_share: F64,
    prizes: tuple[SimPrize, ...],
) -> tuple[I64, I64]:
    """Each sampled member lives in one of the first campaigns (`campaign`): draws thinned by that
    campaign's global cap, picks granted with its day's availability, then held to the member's cap."""
    keep = np.divide(accepted, daily, out=np.ones(accepted.shape), where=daily > 0)[campaign]
    draws = rng.binomial(sample, np.clip(keep, 0.0, 1.0))
    won = np.zeros(sample.shape[0], dtype=np.int64)
    for k, prize in enumerate(prizes):
        if prize.consolation or probs[k] == 0:
            continue
        got = rng.binomial(rng.binomial(draws, probs[k]), np.clip(granted_share[campaign, :, k], 0.0, 1.0))
        total = got.sum(axis=1)
        won += np.minimum(total, prize.per_user_cap) if prize.per_user_cap else total
    return draws.sum(axis=1), won
