"""Sign-in activities: what operators send, the rules it must satisfy, the rules the script runs.

An activity of type "checkin" carries the kernel's fields (name, window, time zone, audience)
and `checkin`: its cycle, its rewards (daily, by streak, by cumulative count in the cycle), its
make-up rule (补签) and optionally the lottery whose pool and draws its rewards may come from
(签到抽奖化 / 签到盲盒化). The `checkin` part is stored as the activity's `config`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import msgspec

from activities.errors import invalid
from activities.model import Activity, ActivityBase, Positive
from activities.rewards import ChancesReward, PrizeReward, Reward
from checkin.streak import CycleKind, Thresholds

MAX_ROLLING_DAYS = 366
MAX_CYCLE_DAYS = {"weekly": 7, "monthly": 31}  # a rolling cycle is as long as it says
RewardRule = Literal["daily", "streak", "cumulative"]  # with every sign-in, by streak, by count


class Cycle(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: CycleKind
    days: Annotated[int, msgspec.Meta(ge=2, le=MAX_ROLLING_DAYS)] | None = None  # rolling cycles only

    @property
    def max_length(self) -> int:
        return self.days or MAX_CYCLE_DAYS[self.kind]


class StreakReward(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    days: Positive  # consecutive days
    reward: Reward


class CumulativeReward(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    count: Positive  # days signed in (or made up) in the cycle
    reward: Reward


class Makeup(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    per_cycle: Annotated[int, msgspec.Meta(ge=1, le=31)]
    max_days_back: Positive
    points_cost: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0


class CheckinRules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    cycle: Cycle
    daily_reward: Reward | None = None
    streak_rewards: Annotated[list[StreakReward], msgspec.Meta(max_length=MAX_ROLLING_DAYS)] = msgspec.field(
        default_factory=list
    )
    cumulative_rewards: Annotated[list[CumulativeReward], msgspec.Meta(max_length=MAX_ROLLING_DAYS)] = msgspec.field(
        default_factory=list
    )
    makeup: Makeup | None = None
    linked_lottery_id: Positive | None = None

    def rewards(self) -> list[tuple[RewardRule, int, Reward]]:
        """Every reward with its rule and threshold; a reward's index in this list is its id."""
        listed: list[tuple[RewardRule, int, Reward]] = []
        if self.daily_reward is not None:
            listed.append(("daily", 1, self.daily_reward))
        listed += [("streak", r.days, r.reward) for r in self.streak_rewards]
        listed += [("cumulative", r.count, r.reward) for r in self.cumulative_rewards]
        return listed

    def thresholds(self) -> Thresholds:
        rewards = self.rewards()
        daily = 0 if self.daily_reward is not None else None
        return Thresholds(
            daily=daily,
            streak=sorted((at, i) for i, (rule, at, _) in enumerate(rewards) if rule == "streak"),
            cumulative=sorted((at, i) for i, (rule, at, _) in enumerate(rewards) if rule == "cumulative"),
        )

    def script_terms(self) -> str:
        """The rules as `mark.lua` reads them (the state's `terms`)."""
        return script_terms(self.thresholds(), self.makeup.per_cycle if self.makeup else 0)


def script_terms(thresholds: Thresholds, makeups: int) -> str:
    """The rules as "<daily> <make-ups> <streak> <cumulative>": the daily reward's index or -1,
    the make-ups a cycle allows, "days:index,..." and "count:index,..." by ascending threshold
    ("-": none)."""

    def listed(pairs: Sequence[tuple[int, int]]) -> str:
        return ",".join(f"{at}:{index}" for at, index in sorted(pairs)) or "-"

    daily = -1 if thresholds.daily is None else thresholds.daily
    return f"{daily} {makeups} {listed(thresholds.streak)} {listed(thresholds.cumulative)}"


class CheckinSpec(ActivityBase, kw_only=True):
    type: Literal["checkin"]
    checkin: CheckinRules


def rules_of(activity: Activity) -> CheckinRules:
    return msgspec.convert(activity.config, CheckinRules)


def config_of(rules: CheckinRules) -> dict[str, Any]:
    config: dict[str, Any] = msgspec.to_builtins(rules)
    return config


def validate_rules(rules: CheckinRules) -> None:
    """The rules a schema cannot express. Rules about the linked lottery need SQL: the service
    checks those (see CheckinService.create)."""
    cycle = rules.cycle
    if (cycle.kind == "rolling") != (cycle.days is not None):
        raise invalid(
            "cycle_days_invalid", "cycle.days is required for a rolling cycle, and only for it", field="cycle"
        )
    if not rules.rewards():
        raise invalid("no_rewards", "a sign-in activity needs at least one reward", field="checkin")
    for name, values in (
        ("streak_rewards", [r.days for r in rules.streak_rewards]),
        ("cumulative_rewards", [r.count for r in rules.cumulative_rewards]),
    ):
        if len(set(values)) != len(values):
            raise invalid("reward_threshold_repeated", f"two {name} have the same threshold", field=name)
        if any(value > cycle.max_length for value in values):
            raise invalid(
                "reward_unreachable",
                f"a threshold of {name} is beyond the {cycle.max_length} days of the cycle",
                field=name,
            )
    if rules.makeup and rules.makeup.max_days_back >= cycle.max_length:
        raise invalid(
            "makeup_days_back_invalid",
            f"makeup.max_days_back must be below the {cycle.max_length} days of the cycle",
            field="makeup",
        )
    linked = any(isinstance(reward, PrizeReward | ChancesReward) for _, _, reward in rules.rewards())
    if linked and rules.linked_lottery_id is None:
        raise invalid(
            "linked_lottery_required",
            "prize and chances rewards come from a lottery: set linked_lottery_id",
            field="linked_lottery_id",
        )
