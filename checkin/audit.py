"""The SQL rows of a "checkin" stream event (a sign-in or a make-up): the marked day, and one
row per reward it earned. Pure: the service hands the activity's rules when rewards need them."""

from __future__ import annotations

from typing import Any

from activities.audit import Row
from activities.channels import origin_columns
from activities.rewards import ChancesReward, CouponReward, PointsReward, Reward
from checkin.cycles import reward_indexes
from checkin.db import checkin_rewards, checkins
from checkin.model import CheckinRules
from checkin.rewards import reward_ref


def mark_rows(activity_id: int, entry_id: str, fields: dict[str, str], rules: CheckinRules | None) -> list[Row]:
    """The rows of one event; `rules` is needed only when the mark earned rewards."""
    mark_id, user_id, at_ms = fields["mark_id"], fields["user_id"], int(fields["at_ms"])
    indexes = reward_indexes(fields["rewards"])
    rows: list[Row] = [
        (
            checkins,
            {
                "mark_id": mark_id,
                "activity_id": activity_id,
                "user_id": user_id,
                "day": fields["day"],
                "kind": fields.get("kind", "signin"),  # mark.lua leaves out the default
                "cycle_start": fields["cycle_start"],
                "streak": int(fields["streak"]),
                "cumulative": int(fields["cumulative"]),
                "rewards": ",".join(map(str, indexes)),
                "at_ms": at_ms,
                "stream_id": entry_id,
                **origin_columns(fields),
            },
        )
    ]
    if indexes:
        if rules is None:
            raise ValueError(f"checkin event {entry_id} earned rewards: its rules are needed")
        for index in indexes:
            reward = rules.rewards()[index][2]
            rows.append((checkin_rewards, reward_row(mark_id, activity_id, user_id, index, reward, rules, at_ms)))
    return rows


def has_rewards(fields: dict[str, str]) -> bool:
    return bool(reward_indexes(fields["rewards"]))


def reward_row(
    mark_id: str, activity_id: int, user_id: str, index: int, reward: Reward, rules: CheckinRules, at_ms: int
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ref": reward_ref(mark_id, index),
        "mark_id": mark_id,
        "activity_id": activity_id,
        "user_id": user_id,
        "reward_index": index,
        "type": type(reward).__struct_config__.tag,
        "amount": None,
        "coupon": None,
        "lottery_id": None,
        "prize_id": None,
        "at_ms": at_ms,
    }
    if isinstance(reward, PointsReward):
        row["amount"] = reward.points
    elif isinstance(reward, CouponReward):
        row["coupon"] = reward.coupon
    elif isinstance(reward, ChancesReward):
        row |= {"amount": reward.chances, "lottery_id": rules.linked_lottery_id}
    else:
        row |= {"prize_id": reward.prize_id, "lottery_id": rules.linked_lottery_id}
    return row
