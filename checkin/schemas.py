"""The sign-in API's request and response bodies: a make-up request; a sign-in or make-up, the
month calendar, the operator's counters. (The rules an operator sends are the domain model:
checkin/model.py.)"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec

from activities.channels import Origin
from activities.model import check_day
from activities.rewards import Reward
from checkin.model import RewardRule
from checkin.streak import DayStatus
from lottery.service import PrizeWon


class SigninBody(Origin, forbid_unknown_fields=True, kw_only=True):
    """Optional: where the sign-in came from (`channel`, `source`)."""


class MakeupBody(Origin, forbid_unknown_fields=True, kw_only=True):
    day: date  # the missed day, YYYY-MM-DD in the activity's time zone

    def __post_init__(self) -> None:
        check_day(self.day, "day")


class RewardView(msgspec.Struct):
    rule: RewardRule
    at: int  # streak days or cumulative count (1 for daily)
    reward: Reward


class RewardGranted(msgspec.Struct, omit_defaults=True):
    rule: RewardRule
    at: int
    reward: Reward
    status: Literal["granted", "pending"]  # pending: delivery will be completed shortly
    prize: PrizeWon | None = None  # prize rewards: what the member received
    fallback: bool = False  # the named prize was unavailable: the consolation prize instead


class MarkResult(msgspec.Struct):
    mark_id: str
    activity_id: int
    kind: str  # signin | makeup
    day: date
    streak: int  # consecutive days up to today (or yesterday, while today is not signed)
    cumulative: int  # days marked in the cycle
    rewards: list[RewardGranted]
    marked_at: datetime
    makeups_left: int | None  # in this cycle; None: no make-up sign-in
    replayed: bool = False


class CalendarDay(msgspec.Struct):
    date: date
    status: DayStatus
    is_today: bool = False
    can_make_up: bool = False
    rewards: list[RewardView] = msgspec.field(default_factory=list)


class NextRewardView(msgspec.Struct):
    rule: RewardRule
    at: int
    reward: Reward
    sign_ins_needed: int  # from today on, without a break
    reachable: bool  # enough days are left in the cycle


class Calendar(msgspec.Struct):
    activity_id: int
    month: str
    today: date
    cycle_start: date
    cycle_end: date  # the last day of the cycle
    streak: int
    cumulative: int
    signed_today: bool
    makeups_left: int | None
    makeup_cost: int | None
    days: list[CalendarDay]
    next_rewards: list[NextRewardView]


class CheckinCounters(msgspec.Struct):
    activity_id: int
    status: str
    loaded: bool
    day: str
    signins_total: int
    signins_today: int
    makeups_total: int
    makeups_today: int
    rewards_total: int
    signins_in_sql: int
    makeups_in_sql: int
    rewards_in_sql: int
    audit_backlog: int  # events in Redis not yet written to SQL
    quarantined: int = 0  # events the audit writer could not write (GET /operator/audit/quarantine)
