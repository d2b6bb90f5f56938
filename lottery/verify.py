"""Verifying draws (issue 18): replay a lottery's audit trail and recompute every draw.

For each draw, in audit order (its stream entry id: the order Redis ran the scripts in), from the
revealed seed: the config version in effect at the draw's time, the derived number
(fairness.derive_rand of the seed, the draw id and that version's total weight), the prize it
picks, and, from the stock state the draws before it left (units granted in total and that day,
the member's wins of the prize, the stock added by then), the prize won: through lottery/odds.py's
`decide`, the Python mirror of draw.lua (pity and unlock tiers included: the member's draws so
far and consecutive consolation draws are replayed too). Each is compared with what the record
says: "verified", or the checks that differ. Pure: the caller reads the rows (lottery/fairness_service.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import msgspec

from lottery.fairness import derive_rand, matches
from lottery.model import Lottery, Prize
from lottery.odds import Availability, PrizeRule, decide, next_streak
from lottery.pacing import counter_field, periods, to_fen
from lottery.repository import DrawRow
from lottery.versions import draw_table, played_at


@dataclass(frozen=True)
class StockAdded:
    """An operator's stock addition (from the action log): units of a prize from `at_ms` on."""

    prize_id: int
    units: int
    at_ms: int


class Check(msgspec.Struct):
    name: str  # config_version | rand | picked_prize | prize
    recorded: str
    recomputed: str
    ok: bool


class Seen(msgspec.Struct):
    """The state of the picked prize the draw saw, as the audit order has it."""

    prize_id: int
    stock_left: int | None  # None: unlimited
    granted_today: int
    member_wins: int


class DrawCheck(msgspec.Struct):
    draw_id: str
    kind: str
    drawn_at_ms: int
    verified: bool
    checks: list[Check]
    seen: Seen | None = None


class Report(msgspec.Struct):
    activity_id: int
    commitment: str | None
    seed_matches_commitment: bool
    draws: int
    verified: int
    differing: list[DrawCheck]

    @property
    def ok(self) -> bool:
        return self.seed_matches_commitment and self.verified == self.draws


def audit_order(row: DrawRow) -> tuple[int, int]:
    ms, _, seq = row.stream_id.partition("-")
    return int(ms), int(seq or 0)


def _rules(prizes: Sequence[Prize]) -> list[PrizeRule]:
    return [
        PrizeRule(
            id=p.id,
            weight=p.weight,
            limited=p.stock is not None,
            daily_stock=p.daily_stock or 0,
            per_user_cap=p.per_user_cap or 0,
            consolation=p.is_consolation,
            unlock_after=p.unlock_after_draws or 0,
            pity=p.pity,
            value_fen=to_fen(p.value_cny),  # paced release and budget (lottery/pacing.py)
            release=p.release,
        )
        for p in prizes
    ]


def table_at(lottery: Lottery, variant: str, at_ms: int) -> tuple[int, int, list[Prize]]:
    """(config version, total weight, prize table) a draw at `at_ms` by a member of `variant` used."""
    version, total, _ = draw_table(lottery, variant, at_ms)
    return version, total, played_at(lottery, variant, at_ms).prizes


def replay(
    lottery: Lottery, seed: bytes, rows: Sequence[DrawRow], added: Sequence[StockAdded] = ()
) -> Iterator[DrawCheck]:
    """A check of every draw of `rows` (grants spend stock but are not drawn: not checked)."""
    later_additions: Counter[int] = Counter()  # units added after the current row (not yet there)
    for addition in added:
        later_additions[addition.prize_id] += addition.units
    pending = sorted(added, key=lambda a: a.at_ms)
    stock_total = {p.id: p.stock for p in lottery.prizes}
    granted: Counter[int] = Counter()
    granted_day: Counter[tuple[str, int]] = Counter()
    wins: Counter[tuple[str, int]] = Counter()
    user_draws: Counter[str] = Counter()  # draws that count against the limits (not chance draws)
    streaks: Counter[str] = Counter()  # consecutive consolation draws (the pity counter)
    pity_after = lottery.pity_after or 0
    # Paced release and budget (lottery/pacing.py): the pacing hash as the draw script saw it.
    budget = None if lottery.budget_cny is None else to_fen(lottery.budget_cny)
    plans = {p.id: p.release for p in lottery.prizes if p.release is not None}
    paced: Counter[str] = Counter()
    for row in sorted(rows, key=audit_order):
        at = periods(row.drawn_at_ms, lottery.starts_at, lottery.tz)
        # An addition is logged just before SQL commits it and Redis applies it: a draw in the
        # same millisecond is taken to have come first.
        while pending and pending[0].at_ms < row.drawn_at_ms:
            later_additions[pending[0].prize_id] -= pending.pop(0).units

        def left(prize_id: int) -> int:
            total = stock_total.get(prize_id)
            return 0 if total is None else total - later_additions[prize_id] - granted[prize_id]

        if row.kind != "grant":
            version, total, prizes = table_at(lottery, row.variant or "", row.drawn_at_ms)
            rules = _rules(prizes)
            state = Availability(
                stock_left={p.id: left(p.id) for p in prizes if p.stock is not None},
                granted_today={p.id: granted_day[(row.day, p.id)] for p in prizes},
                user_wins={p.id: wins[(row.user_id, p.id)] for p in prizes},
                user_draws=user_draws[row.user_id],
                streak=streaks[row.user_id],
                paced=paced,
                periods=at,
                budget_fen=budget,
            )
            rand = derive_rand(seed, row.draw_id, total)
            picked, won = decide(rules, rand, state, pity_after)
            checks = [
                _check("config_version", row.config_version, version),
                _check("rand", row.rand, rand),
                _check("picked_prize", row.picked_prize_id, picked.id),
                _bucketed(_check("prize", row.prize_id, won.id), lottery, picked, rules),
            ]
            seen = Seen(
                prize_id=picked.id,
                stock_left=state.stock_left.get(picked.id),
                granted_today=state.granted_today.get(picked.id, 0),
                member_wins=state.user_wins.get(picked.id, 0),
            )
            yield DrawCheck(
                draw_id=row.draw_id,
                kind=row.kind,
                drawn_at_ms=row.drawn_at_ms,
                verified=all(c.ok for c in checks),
                checks=checks,
                seen=seen,
            )
            if row.kind == "draw":
                user_draws[row.user_id] += 1
            if pity_after:
                recorded = next((r for r in rules if r.id == row.prize_id), won)
                streaks[row.user_id] = next_streak(streaks[row.user_id], recorded)
        if budget is not None:
            paced["spent"] += row.cost_fen
        if (plan := plans.get(row.prize_id)) is not None:
            paced[counter_field(row.prize_id, plan, at)] += 1
        granted[row.prize_id] += 1  # what the audit trail says was handed out
        granted_day[(row.day, row.prize_id)] += 1
        wins[(row.user_id, row.prize_id)] += 1


def _bucketed(check: Check, lottery: Lottery, picked: PrizeRule, rules: Sequence[PrizeRule]) -> Check:
    """Bucketed stock (lottery/buckets.py): the buckets' streams interleave in no order a replay
    can know, and a bucket may reach its share of a daily stock before the day's total: when the
    picked prize has a stock or a daily stock, its win and the fallback are both what the draw
    could have had (the stock's total is checked by the counters: granted never above it)."""
    if check.ok or lottery.buckets == 1 or not (picked.limited or picked.daily_stock):
        return check
    could = {str(picked.id), *(str(r.id) for r in rules if r.consolation)}
    return msgspec.structs.replace(check, ok=check.recorded in could)


def _check(name: str, recorded: object, recomputed: object) -> Check:
    return Check(name=name, recorded=str(recorded), recomputed=str(recomputed), ok=str(recorded) == str(recomputed))


def report(lottery: Lottery, seed: bytes, rows: Sequence[DrawRow], added: Sequence[StockAdded] = ()) -> Report:
    """Every draw of the lottery checked: how many verified, the ones that differ."""
    checks = list(replay(lottery, seed, rows, added))
    differing = [c for c in checks if not c.verified]
    return Report(
        activity_id=lottery.id,
        commitment=lottery.commitment,
        seed_matches_commitment=lottery.commitment is not None and matches(seed, lottery.commitment),
        draws=len(checks),
        verified=len(checks) - len(differing),
        differing=differing,
    )
