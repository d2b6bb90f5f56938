"""Rewards an activity hands out, the same for every gameplay: points, coupons, and what comes
from a linked lottery (a prize of its pool, draw chances). Each is a JSON object tagged by "type"."""

from __future__ import annotations

from typing import Annotated

import msgspec

from activities.model import Name, Positive

CouponCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class PointsReward(msgspec.Struct, tag="points", tag_field="type", forbid_unknown_fields=True, kw_only=True):
    """Points credited to the member's wallet."""

    points: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class CouponReward(msgspec.Struct, tag="coupon", tag_field="type", forbid_unknown_fields=True, kw_only=True):
    """A coupon of the brand's CRM, recorded here for the CRM to issue."""

    coupon: CouponCode
    name: Name


class PrizeReward(msgspec.Struct, tag="prize", tag_field="type", forbid_unknown_fields=True, kw_only=True):
    """One unit of a prize of the linked lottery's pool, with the rules of a draw: its stock,
    daily stock and per-member cap apply, and when it is unavailable the member gets the pool's
    consolation prize instead."""

    prize_id: Positive


class ChancesReward(msgspec.Struct, tag="chances", tag_field="type", forbid_unknown_fields=True, kw_only=True):
    """Draw chances on the linked lottery; a draw uses one before anything else."""

    chances: Annotated[int, msgspec.Meta(ge=1, le=100)]


Reward = PointsReward | CouponReward | PrizeReward | ChancesReward
LocalReward = PointsReward | CouponReward  # needs no linked lottery
