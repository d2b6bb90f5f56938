"""A/B experiments on an activity (any gameplay): variants with a share of the audience and an
override each (a lottery's odds, its points cost...); a member's variant is a stable hash of
(the experiment's salt, the member id), so a member always sees, and plays, the same variant.

The kernel holds the declaration and the assignment; a gameplay applies the overrides it knows
(its view section's `variant`: the activity as the member's variant sees it)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import msgspec

from activities.errors import invalid

if TYPE_CHECKING:
    from activities.model import Activity

_Name = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,16}$")]
_Count = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]


class RewardOverride(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """A prize's reward amounts as a variant gives them (beyond the odds)."""

    points: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)] | None = None  # a "points" prize's credit
    value_cny: Decimal | None = None  # the prize's value (a coupon's face value): what it costs


class Overrides(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """What a variant changes; nothing for a control that is "no change"."""

    weights: Annotated[list[_Count], msgspec.Meta(max_length=50)] | None = None  # a lottery's odds, in prize order
    points_cost: _Count | None = None  # a lottery's points per draw
    # a lottery's reward amounts, in prize order (null: the prize as declared)
    rewards: Annotated[list[RewardOverride | None], msgspec.Meta(max_length=50)] | None = None


class Variant(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: _Name
    share: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1  # of the audience, as integer weights
    overrides: Overrides = msgspec.field(default_factory=Overrides)


class Experiment(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    salt: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
    variants: Annotated[list[Variant], msgspec.Meta(min_length=2, max_length=10)]
    control: _Name | None = None  # the first variant by default

    @property
    def control_name(self) -> str:
        return self.control or self.variants[0].name

    @property
    def shares(self) -> list[tuple[str, int]]:
        return [(v.name, v.share) for v in self.variants]

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)


def validate_experiment(experiment: Experiment, prizes: int | None) -> None:
    """Variant names unique, the control one of them; odds overrides only on a lottery, one
    weight per prize and not all zero."""
    names = [v.name for v in experiment.variants]
    if len(set(names)) != len(names):
        raise invalid("experiment_invalid", "variant names must be unique", field="experiment.variants")
    if experiment.control is not None and experiment.control not in names:
        raise invalid("experiment_invalid", "the control must be one of the variants", field="experiment.control")
    for i, variant in enumerate(experiment.variants):
        weights = variant.overrides.weights
        field = f"experiment.variants[{i}].overrides"
        rewards = variant.overrides.rewards
        if (weights is not None or variant.overrides.points_cost is not None or rewards is not None) and prizes is None:
            raise invalid("experiment_invalid", "odds, points cost and reward overrides are a lottery's", field=field)
        if weights is not None and (len(weights) != prizes or not any(weights)):
            raise invalid("experiment_invalid", "weights: one per prize, not all zero", field=f"{field}.weights")
        if rewards is not None and len(rewards) != prizes:
            raise invalid("experiment_invalid", "rewards: one per prize (null: unchanged)", field=f"{field}.rewards")
        for k, reward in enumerate(rewards or ()):
            value = reward.value_cny if reward is not None else None
            if value is not None and (not value.is_finite() or value < 0 or value > 10_000_000):
                raise invalid("experiment_invalid", "value_cny: a non-negative amount", field=f"{field}.rewards[{k}]")


def bucket(salt: str, member: str) -> float:
    """A uniform number in [0, 1) fixed by (salt, member): the first 64 bits of SHA-256."""
    digest = hashlib.sha256(f"{salt}\x00{member}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(salt: str, member: str, shares: Sequence[tuple[str, int]]) -> str:
    """The variant of `member`: the slice of the cumulative shares its bucket falls in."""
    total = sum(share for _, share in shares)
    if total <= 0:
        raise ValueError("the shares must add up to more than 0")
    point = bucket(salt, member) * total
    running = 0
    for name, share in shares:
        running += share
        if point < running:
            return name
    return shares[-1][0]


def variant_of(activity: Activity, member: str) -> str:
    """The member's variant ("" when the activity runs no experiment)."""
    experiment = activity.experiment
    return assign(experiment.salt, member, experiment.shares) if experiment else ""
