"""A helper reward in points, credited to the helper's wallet right after the help (another
slot), once per reference "as:<help_id>"; the reconciler (service.py) completes a credit that
was lost. A coupon reward is issued by the brand's CRM from the audit trail."""

from __future__ import annotations

import logging
from typing import Literal

from activities.points import PointsService
from activities.rewards import PointsReward
from assist.model import AssistRules

log = logging.getLogger("promo.assist")


def helper_reward_ref(help_id: str) -> str:
    return f"as:{help_id}"


async def deliver_helper_reward(
    points: PointsService, activity_id: int, rules: AssistRules, helper: str, help_id: str
) -> Literal["granted", "pending"]:
    assert rules.helper_reward is not None
    reward = rules.helper_reward.reward
    if not isinstance(reward, PointsReward):
        return "granted"  # a coupon: issued by the brand's CRM from the audit trail
    try:
        await points.credit(helper, reward.points, helper_reward_ref(help_id), "assist_helper_reward", activity_id)
    except Exception:  # the help stands; the reconciler credits it
        log.exception("helper reward of help %s not credited yet; the reconciler will", help_id)
        return "pending"
    return "granted"
