"""Friend assist activities (助力): what operators send, the rules it must satisfy, the rules the
scripts run.

An activity of type "assist" carries the kernel's fields and `assist`, one of three kinds:
- `collect`: an initiator needs `helps_needed` helps from friends within `hours` to win `prize`;
- `bargain` (砍价): each help cuts the price of `item`, reaching its floor price exactly at the
  last help needed (see assist/bargain.py); the initiator may then buy it at the floor price;
- `invite`: the initiator's invitees count when the host reports that they completed
  `target_action` (registration, first order) through the operator's event endpoint.

The prize (or item) stock is reserved when an initiative starts, so that no initiative that
completes ever finds it gone; an initiative that expires gives its unit back.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

from activities.errors import invalid
from activities.model import MAX_CNY, Activity, ActivityBase, Name
from activities.rewards import CouponCode, LocalReward
from assist.bargain import to_cents

AssistKind = Literal["collect", "bargain", "invite"]
TargetAction = Literal["registration", "first_order"]
Stock = Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
DailyCap = Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None


class AssistPrize(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What an initiator wins, recorded for the brand's CRM to hand out."""

    name: Name
    stock: Stock
    value_cny: Decimal = Decimal(0)
    coupon: CouponCode | None = None


class BargainItem(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    price_cny: Decimal
    floor_cny: Decimal
    stock: Stock


class HelperReward(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A small reward for a member's first help in the activity, while `stock` lasts."""

    reward: LocalReward
    stock: Stock


class AntiAbuse(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Caps per local day of the activity (none by default) and who may help."""

    helps_per_helper_daily: DailyCap = None
    helps_per_device_daily: DailyCap = None
    helps_per_ip_daily: DailyCap = None
    new_users_only: bool = False


class AssistRules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: AssistKind
    helps_needed: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    hours: Annotated[int, msgspec.Meta(ge=1, le=720)]  # an initiative's time, capped by the activity's end
    prize: AssistPrize | None = None  # collect, invite
    item: BargainItem | None = None  # bargain
    target_action: TargetAction | None = None  # invite
    helper_reward: HelperReward | None = None
    anti_abuse: AntiAbuse = msgspec.field(default_factory=AntiAbuse)
    initiatives_per_user: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1

    @property
    def stock(self) -> int:
        return self.item.stock if self.item else self.prize.stock if self.prize else 0

    @property
    def reward_name(self) -> str:
        return self.item.name if self.item else self.prize.name if self.prize else ""

    def script_rules(self) -> str:
        """The rules as the help and start scripts read them (0: no cap)."""
        caps = self.anti_abuse
        rules = {
            "helper_daily": caps.helps_per_helper_daily or 0,
            "device_daily": caps.helps_per_device_daily or 0,
            "ip_daily": caps.helps_per_ip_daily or 0,
            "new_only": int(caps.new_users_only),
            "per_user": self.initiatives_per_user,
        }
        return json.dumps(rules, separators=(",", ":"))


class AssistSpec(ActivityBase, kw_only=True):
    type: Literal["assist"]
    assist: AssistRules


def rules_of(activity: Activity) -> AssistRules:
    return msgspec.convert(activity.config, AssistRules)


def config_of(rules: AssistRules) -> dict[str, Any]:
    config: dict[str, Any] = msgspec.to_builtins(rules)
    return config


def validate_rules(rules: AssistRules) -> None:
    """The rules a schema cannot express; raises an `invalid` PromoError naming the first."""
    if (rules.kind == "bargain") != (rules.item is not None):
        raise invalid("item_required", "a bargain has an item, and only a bargain", field="assist.item")
    if (rules.kind != "bargain") != (rules.prize is not None):
        raise invalid("prize_required", "collect and invite activities have a prize", field="assist.prize")
    if (rules.kind == "invite") != (rules.target_action is not None):
        raise invalid("target_action_required", "an invite activity has a target_action, and only it", field="assist")
    if rules.prize and not (rules.prize.value_cny.is_finite() and 0 <= rules.prize.value_cny <= MAX_CNY):
        raise invalid("prize_value_invalid", "value_cny must be a non-negative amount", field="assist.prize")
    if rules.item:
        item = rules.item
        try:
            if not all(p.is_finite() and abs(p) <= MAX_CNY for p in (item.price_cny, item.floor_cny)):
                raise ValueError("amount out of range")
            price, floor = to_cents(item.price_cny), to_cents(item.floor_cny)
        except (ValueError, ArithmeticError) as exc:
            raise invalid(
                "price_invalid", "prices are amounts in CNY with at most two decimals", field="assist.item"
            ) from exc
        if not 0 <= floor < price:
            raise invalid(
                "price_invalid", "the floor price must be below the price, and not negative", field="assist.item"
            )
        if price - floor < rules.helps_needed:
            raise invalid(
                "discount_too_small",
                f"the discount must be at least one cent per help ({rules.helps_needed} helps)",
                field="assist.item",
            )
