"""Config versions and the draw replay (issue 18): the pure rules, no Redis, no SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import msgspec
import pytest

from activities.errors import PromoError
from activities.model import Activity, Audience
from lottery.fairness import derive_rand
from lottery.model import ConfigVersion, Limits, Lottery, Prize, PrizeTerms
from lottery.odds import PrizeRule, pick
from lottery.repository import DrawRow
from lottery.verify import StockAdded, report, table_at
from lottery.versions import NewVersion, PrizeChange, changed, draw_table, lottery_at, next_versions_field, number_at

T0 = 1_780_000_000_000
SEED = bytes(range(32))


def _lottery(later: list[ConfigVersion] | None = None) -> Lottery:
    activity = Activity(
        id=7,
        type="wheel",
        name="w",
        status="live",
        starts_at=datetime(2026, 5, 1, tzinfo=UTC),
        ends_at=datetime(2026, 7, 1, tzinfo=UTC),
        timezone="Asia/Shanghai",
        skin=None,
        audience=Audience(),
    )
    prizes = [
        Prize(id=1, name="Phone", type="goods", weight=10, stock=1, daily_stock=None, per_user_cap=None,
              value_cny=Decimal(999)),
        Prize(id=2, name="Coupon", type="coupon", weight=290, stock=100, daily_stock=None, per_user_cap=1,
              value_cny=Decimal(10)),
        Prize(id=3, name="Thanks", type="thanks", weight=700, stock=None, daily_stock=None, per_user_cap=None,
              value_cny=Decimal(0)),
    ]  # fmt: skip
    lottery = Lottery.of(activity, Limits(), 0, prizes)
    lottery.config_version, lottery.later_versions = 1, later or []
    lottery.commitment = "c"
    return lottery


def _v2(at_ms: int) -> ConfigVersion:
    terms = [
        PrizeTerms(id=1, name="Phone", weight=0, value_cny=Decimal(999)),
        PrizeTerms(id=2, name="Coupon", weight=500, value_cny=Decimal(20)),
        PrizeTerms(id=3, name="Thanks", weight=500, value_cny=Decimal(0)),
    ]
    return ConfigVersion(version=2, effective_at_ms=at_ms, prizes=terms)


def test_a_version_applies_from_its_time_exactly() -> None:
    lottery = _lottery([_v2(T0)])
    assert number_at(lottery, T0 - 1) == 1 and number_at(lottery, T0) == 2
    before, after = lottery_at(lottery, T0 - 1), lottery_at(lottery, T0)
    assert [p.weight for p in before.prizes] == [10, 290, 700]
    assert [p.weight for p in after.prizes] == [0, 500, 500] and after.prize(2).value_cny == 20
    assert draw_table(lottery, "", T0 - 1) == (1, 1000, "") and draw_table(lottery, "", T0) == (2, 1000, "")
    assert msgspec.json.decode(next_versions_field(lottery)) == [{"v": 2, "at": T0, "w": [0, 500, 500], "l": [0, 0, 0]}]


def test_a_change_is_checked_whole() -> None:
    lottery = _lottery()
    at = datetime.fromtimestamp((T0 + 60_000) / 1000, UTC)

    def change(*prizes: PrizeChange, when: datetime = at) -> list[PrizeTerms]:
        terms, limits = changed(lottery, NewVersion(effective_at=when, prizes=list(prizes)), T0)
        assert limits == lottery.limits  # unchanged unless the change names them
        return terms

    terms = change(PrizeChange(id=2, weight=0, value_cny=Decimal("12.5")))
    assert [(t.weight, t.value_cny) for t in terms] == [(10, 999), (0, Decimal("12.50")), (700, 0)]
    for prizes, when, code in [
        ((PrizeChange(id=1, weight=0),), datetime.fromtimestamp(T0 / 1000, UTC), "effective_at_not_future"),
        ((PrizeChange(id=9, weight=1),), at, "prize_not_in_activity"),
        ((PrizeChange(id=1, weight=1), PrizeChange(id=1, weight=2)), at, "prize_not_in_activity"),
        ((PrizeChange(id=1, weight=0), PrizeChange(id=2, weight=0), PrizeChange(id=3, weight=0)), at,
         "weights_all_zero"),
        ((PrizeChange(id=1, value_cny=Decimal(50_001)),), at, "prize_value_too_high"),
        ((PrizeChange(id=1, points=5),), at, "points_amount_mismatch"),
        ((), at, "version_empty"),
    ]:  # fmt: skip
        with pytest.raises(PromoError) as error:
            change(*prizes, when=when)
        assert error.value.code == code


def _row(n: int, at_ms: int, version: int, lottery: Lottery, user: str = "u", stream_ms: int | None = None) -> DrawRow:
    draw_id = f"d{n}"
    _, total, prizes = table_at(lottery, "", at_ms)
    rand = derive_rand(SEED, draw_id, total)
    picked = pick([_rule(p) for p in prizes], rand)
    return DrawRow(
        draw_id=draw_id, kind="draw", activity_id=7, user_id=user, prize_id=picked.id, picked_prize_id=picked.id,
        rand=rand, day="2026-06-01", drawn_at_ms=at_ms, idempotency_key=f"k{n}", fingerprint="f",
        left_today=None, left_total=None, stream_id=f"{stream_ms or at_ms}-{n}", config_version=version,
    )  # fmt: skip


def _rule(p: Prize) -> PrizeRule:
    return PrizeRule(id=p.id, weight=p.weight, limited=p.stock is not None, consolation=p.is_consolation)


def test_the_replay_finds_a_change_to_any_recorded_field() -> None:
    lottery = _lottery([_v2(T0 + 50)])
    rows = [_row(n, T0 + n, 1 if n < 50 else 2, lottery, user=f"u{n}") for n in range(100)]
    # the rows above ignore stock and caps: keep only those that are what the engine would have done
    clean = report(lottery, SEED, rows)
    assert clean.seed_matches_commitment is False  # "c" is no commitment of SEED
    unavailable = {d.draw_id for d in clean.differing}
    kept = [r for r in rows if r.draw_id not in unavailable]
    assert report(lottery, SEED, kept).verified == len(kept) > 50
    tampered = msgspec.structs.replace(kept[3], rand=kept[3].rand ^ 1)
    again = report(lottery, SEED, [tampered, *kept[:3], *kept[4:]])
    assert [(d.draw_id, [c.name for c in d.checks if not c.ok]) for d in again.differing] == [
        (kept[3].draw_id, ["rand"])
    ]


def test_stock_added_counts_from_after_its_time() -> None:
    lottery = _lottery()  # the phone: 1 unit now in SQL, of which 1 was added at T0 + 10
    phone = next(
        n for n in range(10_000) if pick([_rule(p) for p in lottery.prizes], derive_rand(SEED, f"d{n}", 1000)).id == 1
    )
    row = _row(phone, T0 + 5, 1, lottery)
    fell_back = msgspec.structs.replace(row, prize_id=3)  # no phone yet at T0 + 5: the consolation
    added = [StockAdded(prize_id=1, units=1, at_ms=T0 + 10)]
    assert report(lottery, SEED, [fell_back], added).verified == 1
    assert report(lottery, SEED, [row], added).verified == 0
    late = msgspec.structs.replace(row, drawn_at_ms=T0 + 11, stream_id=f"{T0 + 11}-0")
    assert report(lottery, SEED, [late], added).verified == 1
