"""The lottery's shapes: what an operator sends (`LotterySpec`: limits and a prize pool), the
rules it must satisfy (`validate_spec`), and what we keep (`Lottery`: the kernel's `Activity`
with its limits, points cost and prizes, read by lottery/repository.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from activities.errors import invalid
from activities.experiment import RewardOverride
from activities.model import Activity, ActivityBase, Name, NonNegative, Positive, validate_common
from lottery.pacing import MAX_BUDGET_CNY, ReleasePlan

# Anti-Unfair Competition Law art. 10: a lottery prize may be worth at most 50,000 CNY.
TOP_PRIZE_MAX_CNY = Decimal(50_000)
# Weights are integers; their sum stays below 2**21 so that `u * total` with a 32-bit random u
# is exact in a double, which is what Lua computes with (see lottery/odds.py).
MAX_TOTAL_WEIGHT = 2**21 - 1
MAX_STOCK_BUCKETS = 16  # bucketed stock (lottery/buckets.py): at most this many Redis slots

LotteryType = Literal["wheel", "blind_box", "golden_egg"]  # one draw engine, three skins
LOTTERY_TYPES: frozenset[str] = frozenset(("wheel", "blind_box", "golden_egg"))
PrizeType = Literal["coupon", "points", "goods", "thanks"]


class PrizeSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    type: PrizeType
    weight: NonNegative
    stock: NonNegative | None = None  # total stock; None means unlimited (only for "thanks")
    daily_stock: NonNegative | None = None
    per_user_cap: Positive | None = None
    value_cny: Decimal = Decimal(0)
    points: Positive | None = None  # what a "points" prize credits to the member's wallet
    # Unlock tier: drawable from the member's Kth draw on (lottery/odds.py); None: from the first.
    unlock_after_draws: Positive | None = None
    release: ReleasePlan | None = None  # paced release (lottery/pacing.py); None: all stock at once


class PitySpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Pity (保底): after `after` consecutive consolation draws, a member's next draw wins one of
    `prizes` (positions in the spec's prize list, 0-based) by their relative weights."""

    after: Positive
    prizes: Annotated[list[NonNegative], msgspec.Meta(min_length=1, max_length=50)]


class Limits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    per_user_daily: Positive | None = None
    per_user_total: Positive | None = None
    global_daily: Positive | None = None


class LotterySpec(ActivityBase, kw_only=True):
    """A lottery: wheel, blind box or golden egg."""

    type: LotteryType
    limits: Limits = msgspec.field(default_factory=Limits)
    points_cost: NonNegative = 0
    prizes: Annotated[list[PrizeSpec], msgspec.Meta(max_length=50)]
    pity: PitySpec | None = None
    budget_cny: Decimal | None = None  # the activity's budget (lottery/pacing.py); None: no budget
    # Bucketed stock (库存分桶, lottery/buckets.py): the live state spreads over this many Redis
    # slots, a member drawing in the bucket of crc32(user_id); 1..MAX_STOCK_BUCKETS, fixed once
    # published. 1: one slot, as before.
    stock_buckets: Annotated[
        int,
        msgspec.Meta(
            description="Bucketed stock (库存分桶): the live state spreads over this many Redis slots (1 to 16, "
            "fixed once published); a member draws in the bucket of crc32(user_id) mod stock_buckets, stock "
            "falls over between buckets, activity-level caps are split (see the README)."
        ),
    ] = 1


def validate_spec(spec: LotterySpec) -> None:
    """Raise an `invalid` PromoError naming the first broken rule."""
    validate_common(spec)
    if not spec.prizes:
        raise invalid("no_prizes", "an activity needs at least one prize", field="prizes")
    if len(spec.prizes) > 50:
        raise invalid("too_many_prizes", "at most 50 prizes per activity", field="prizes")
    thanks = [p for p in spec.prizes if p.type == "thanks"]
    if len(thanks) != 1:
        raise invalid(
            "consolation_prize_required",
            'exactly one consolation prize (type "thanks") is required',
            field="prizes",
        )
    if thanks[0].stock is not None or thanks[0].daily_stock is not None or thanks[0].per_user_cap:
        raise invalid(
            "consolation_must_be_unlimited",
            "the consolation prize has unlimited stock and no caps",
            field="prizes",
        )
    for index, prize in enumerate(spec.prizes):
        if prize.type != "thanks" and prize.stock is None:
            raise invalid("stock_required", f"prize {prize.name!r} needs a total stock", field=f"prizes[{index}]")
        if (prize.type == "points") != (prize.points is not None):
            raise invalid(
                "points_amount_mismatch",
                'a "points" prize needs a points amount, and only a "points" prize has one',
                field=f"prizes[{index}].points",
            )
        if not prize.value_cny.is_finite() or prize.value_cny < 0:
            raise invalid(
                "prize_value_invalid", "value_cny must be a non-negative amount", field=f"prizes[{index}].value_cny"
            )
        if prize.value_cny > TOP_PRIZE_MAX_CNY:
            raise invalid(
                "prize_value_too_high",
                f"prize {prize.name!r} is worth more than {TOP_PRIZE_MAX_CNY} CNY",
                field=f"prizes[{index}].value_cny",
            )
    for index, prize in enumerate(spec.prizes):
        validate_release(prize.release, prize.type == "thanks", index)
    validate_budget(spec.budget_cny, thanks[0].value_cny)
    validate_buckets(spec)
    total = sum(p.weight for p in spec.prizes)
    if total == 0:
        raise invalid("weights_all_zero", "at least one prize needs a positive weight", field="prizes")
    if total > MAX_TOTAL_WEIGHT:
        raise invalid("weights_too_large", f"the weights must add up to at most {MAX_TOTAL_WEIGHT}", field="prizes")
    validate_rules(spec)


def validate_rules(spec: LotterySpec) -> None:
    """Pity and unlock tiers (lottery/odds.py): a pity rule names distinct non-consolation prizes
    of the list with a positive weight; a tier is for a prize other than the consolation, and within
    reach of the per-member total limit."""
    total_limit = spec.limits.per_user_total
    for index, prize in enumerate(spec.prizes):
        if prize.unlock_after_draws is None:
            continue
        field = f"prizes[{index}].unlock_after_draws"
        if prize.type == "thanks":
            raise invalid("unlock_on_consolation", "the consolation prize is always drawable", field=field)
        if total_limit and prize.unlock_after_draws > total_limit:
            raise invalid(
                "unlock_beyond_total_limit",
                f"prize {prize.name!r} unlocks after the per-member total limit of {total_limit} draws",
                field=field,
            )
    if spec.pity is None:
        return
    seen: set[int] = set()
    for index, position in enumerate(spec.pity.prizes):
        field = f"pity.prizes[{index}]"
        if position >= len(spec.prizes):
            raise invalid(
                "pity_prize_unknown", f"no prize at position {position} (positions count from 0)", field=field
            )
        prize = spec.prizes[position]
        if prize.type == "thanks":
            raise invalid(
                "pity_prize_consolation", "the pity rule guarantees a prize other than the consolation", field=field
            )
        if prize.weight == 0:
            raise invalid(
                "pity_prize_zero_weight", f"prize {prize.name!r} has weight 0: it cannot be picked", field=field
            )
        if position in seen:
            raise invalid("pity_prize_duplicate", f"prize position {position} is named twice", field=field)
        seen.add(position)


def validate_buckets(spec: LotterySpec) -> None:
    """Bucketed stock (lottery/buckets.py): 1..MAX_STOCK_BUCKETS buckets; each bucket gets a
    share of every activity-level cap, so a cap must give each bucket at least one; release
    plans and budgets are not split (yet): not with more than one bucket."""
    k = spec.stock_buckets
    if isinstance(k, bool) or not 1 <= k <= MAX_STOCK_BUCKETS:
        raise invalid("stock_buckets_invalid", f"stock_buckets must be 1 to {MAX_STOCK_BUCKETS}", field="stock_buckets")
    if k == 1:
        return
    caps = [("limits.global_daily", spec.limits.global_daily)]
    caps += [(f"prizes[{i}].daily_stock", p.daily_stock) for i, p in enumerate(spec.prizes)]
    for field, cap in caps:
        if cap is not None and cap < k:
            raise invalid(
                "stock_buckets_cap_too_small",
                f"{field} is split over the {k} buckets: it must be at least stock_buckets",
                field=field,
            )
    paced = spec.budget_cny is not None or any(p.release is not None for p in spec.prizes)
    if paced:
        raise invalid(
            "stock_buckets_unsupported",
            "a budget or a release plan is not split over buckets: use stock_buckets 1",
            field="stock_buckets",
        )


def validate_budget(budget: Decimal | None, consolation_value: Decimal) -> None:
    if budget is None:
        return
    if not budget.is_finite() or budget <= 0 or budget > MAX_BUDGET_CNY or budget != budget.quantize(Decimal("0.01")):
        raise invalid(
            "budget_invalid",
            f"budget_cny must be a positive amount of at most {MAX_BUDGET_CNY} CNY with at most 2 decimals",
            field="budget_cny",
        )
    if consolation_value != 0:
        raise invalid(
            "budget_consolation_value",
            "with a budget the consolation prize must be worth 0 CNY (it is what every unaffordable draw gets)",
            field="prizes",
        )


def validate_release(plan: ReleasePlan | None, consolation: bool, index: int) -> None:
    if plan is not None and consolation:
        raise invalid(
            "consolation_must_be_unlimited",
            "the consolation prize has unlimited stock and no caps (no release plan)",
            field=f"prizes[{index}].release",
        )


class Prize(msgspec.Struct, kw_only=True):
    id: int
    name: str
    type: PrizeType
    weight: int
    stock: int | None
    daily_stock: int | None
    per_user_cap: int | None
    value_cny: Decimal
    points: int | None = None
    unlock_after_draws: int | None = None  # unlock tier (lottery/odds.py)
    pity: bool = False  # one of the pity rule's prizes
    release: ReleasePlan | None = None

    @property
    def is_consolation(self) -> bool:
        return self.type == "thanks"


class PrizeTerms(msgspec.Struct, kw_only=True):
    """What a version sets of one prize: its weight (its odds) and its value."""

    id: int
    name: str
    weight: int
    value_cny: Decimal
    points: int | None = None


class ConfigVersion(msgspec.Struct, kw_only=True):
    version: int
    effective_at_ms: int
    prizes: list[PrizeTerms]
    limits: Limits | None = None  # None: the activity's (the version frozen at publication)


class Lottery(Activity, kw_only=True):
    """A lottery as we keep it: the kernel's activity, its limits, points cost and prizes."""

    limits: Limits
    points_cost: int
    prizes: list[Prize]
    pity_after: int | None = None  # pity: consecutive consolation draws before a guaranteed win
    # Fairness (issue 18, lottery/versions.py): the config version `prizes` is (frozen at
    # publication; 0: published before versions existed), the live changes after it, the seed's
    # commitment (None: no seed) and, once the activity has ended, the seed itself (hex).
    config_version: int = 0
    later_versions: list[ConfigVersion] = msgspec.field(default_factory=list)
    commitment: str | None = None
    seed: str | None = None
    budget_cny: Decimal | None = None  # lottery/pacing.py

    @classmethod
    def of(
        cls,
        activity: Activity,
        limits: Limits,
        points_cost: int,
        prizes: list[Prize],
        pity_after: int | None = None,
        budget_cny: Decimal | None = None,
    ) -> Lottery:
        shared: dict[str, Any] = {name: getattr(activity, name) for name in Activity.__struct_fields__}
        return cls(
            **shared,
            limits=limits,
            points_cost=points_cost,
            prizes=prizes,
            pity_after=pity_after,
            budget_cny=budget_cny,
        )

    @property
    def stock_buckets(self) -> int:
        """The spec's name of the kernel's `buckets` (lottery/buckets.py)."""
        return self.buckets

    @property
    def consolation(self) -> Prize:
        return next(p for p in self.prizes if p.is_consolation)

    @property
    def pity(self) -> PitySpec | None:
        """The pity rule as the spec states it (prizes by position), to edit, clone or show."""
        if not self.pity_after:
            return None
        return PitySpec(after=self.pity_after, prizes=[i for i, p in enumerate(self.prizes) if p.pity])

    @property
    def pity_prizes(self) -> list[Prize]:
        """The prizes a pity draw picks from (empty: no pity rule)."""
        return [p for p in self.prizes if p.pity] if self.pity_after else []

    def prize(self, prize_id: int) -> Prize:
        return next(p for p in self.prizes if p.id == prize_id)

    def odds(self) -> dict[int, float]:
        """The disclosed probability of each prize being picked (before any out-of-stock fallback)."""
        total = sum(p.weight for p in self.prizes)
        return {p.id: p.weight / total for p in self.prizes} if total else {}


def variant_view(activity: Activity, variant: str) -> Activity:
    """The view section's `variant`: the loaded lottery as its A/B `variant` sees it."""
    return variant_lottery(activity, variant) if isinstance(activity, Lottery) else activity


def variant_lottery(activity: Lottery, variant: str) -> Lottery:
    """The lottery as members of its A/B `variant` see and play it: odds, points cost and reward
    amounts (a points prize's credit, a prize's value) overridden."""
    if not variant or activity.experiment is None:
        return activity
    overrides = activity.experiment.variant(variant).overrides
    changes: dict[str, object] = {}
    prizes = activity.prizes
    if overrides.weights is not None and len(overrides.weights) == len(prizes):
        prizes = [msgspec.structs.replace(p, weight=w) for p, w in zip(prizes, overrides.weights, strict=True)]
    if overrides.rewards is not None and len(overrides.rewards) == len(prizes):
        prizes = [_rewarded(p, r) for p, r in zip(prizes, overrides.rewards, strict=True)]
    if prizes is not activity.prizes:
        changes["prizes"] = prizes
    if overrides.points_cost is not None:
        changes["points_cost"] = overrides.points_cost
    return msgspec.structs.replace(activity, **changes) if changes else activity


def _rewarded(prize: Prize, override: RewardOverride | None) -> Prize:
    if override is None:
        return prize
    changes: dict[str, object] = {}
    if override.points is not None and prize.type == "points":
        changes["points"] = override.points
    if override.value_cny is not None:
        changes["value_cny"] = override.value_cny
    return msgspec.structs.replace(prize, **changes) if changes else prize
