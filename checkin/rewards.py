"""Delivering a sign-in's rewards that live outside its activity: points in a wallet shard,
chances and prizes in the linked lottery's slot. Each delivery is its own script, applied once
per reference "ck:<mark_id>:<reward index>", so a second delivery of the same reward is harmless:
a replay delivers again, and `CheckinService.reconcile` completes what failed."""

from __future__ import annotations

import logging

from activities.model import Activity
from activities.points import PointsService
from activities.rewards import ChancesReward, CouponReward, PointsReward
from checkin.model import CheckinRules
from checkin.schemas import RewardGranted
from lottery.service import DrawService

log = logging.getLogger("promo.checkin")

# A replay this recent delivers its rewards again (each once per reference): the first request
# may have died between the mark and the deliveries. Older ones are left to `reconcile`.
REDELIVER_WITHIN_MS = 3600 * 1000


def reward_ref(mark_id: str, index: int) -> str:
    return f"ck:{mark_id}:{index}"


class RewardDelivery:
    def __init__(self, points: PointsService, draws: DrawService) -> None:
        self.points = points
        self.draws = draws

    async def deliver(
        self, activity: Activity, rules: CheckinRules, user_id: str, mark_id: str, index: int, deliver: bool
    ) -> RewardGranted:
        """Reward `index` of a mark, delivered (once per reference) unless `deliver` is false."""
        rule, at, reward = rules.rewards()[index]
        granted = RewardGranted(rule, at, reward, "granted")
        if not deliver or isinstance(reward, CouponReward):
            return granted  # coupons are issued by the brand's CRM from the audit trail
        ref = reward_ref(mark_id, index)
        try:
            if isinstance(reward, PointsReward):
                await self.points.credit(user_id, reward.points, ref, "checkin_reward", activity.id)
            elif isinstance(reward, ChancesReward):
                assert rules.linked_lottery_id is not None
                await self.draws.credit_chances(rules.linked_lottery_id, user_id, reward.chances, ref, "checkin_reward")
            else:
                assert rules.linked_lottery_id is not None
                prize = await self.draws.grant_prize(rules.linked_lottery_id, user_id, reward.prize_id, ref)
                granted.prize, granted.fallback = prize.prize, prize.fallback
        except Exception:  # the mark stands; `reconcile` completes the delivery
            log.exception("reward %s not delivered yet; the reconciler will", ref)
            granted.status = "pending"
        return granted
