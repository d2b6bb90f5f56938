"""What the assist API answers and receives: an initiative, the progress a friend sees, a help,
a host's invite event, the operator's counters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from activities.auth import SUBJECT
from activities.channels import Origin
from activities.model import SAFE_TEXT, DeviceId
from activities.rewards import LocalReward

MemberId = Annotated[str, msgspec.Meta(pattern=SUBJECT.pattern)]


class HelperView(msgspec.Struct):
    helper: str
    number: int  # 1 for the first help...
    cut_cny: str | None  # bargain: how much this help took off
    at: datetime


class InitiativeView(msgspec.Struct):
    initiative_id: str
    activity_id: int
    kind: str  # collect | bargain | invite
    status: str  # open | completed (the prize is won) | expired
    initiator: str
    share_token: str  # give it to friends: GET /assists/{token}, POST /assists/{token}/helps
    helps: int
    needed: int
    started_at: datetime
    deadline: datetime
    reward: str  # the prize, or the bargain's item
    price_cny: str | None = None  # bargain: the price now
    floor_cny: str | None = None
    original_price_cny: str | None = None
    helpers: list[HelperView] | None = None  # the initiator's (and operators') view only
    replayed: bool = False  # a start that found the member's open initiative


class ProgressView(msgspec.Struct):
    """What anyone with the share link sees."""

    initiative_id: str
    activity_id: int
    activity_name: str
    kind: str
    status: str
    initiator: str  # masked: "u***1"
    helps: int
    needed: int
    deadline: datetime
    reward: str
    price_cny: str | None = None
    floor_cny: str | None = None
    original_price_cny: str | None = None


class StartBody(Origin, forbid_unknown_fields=True, kw_only=True):
    """Optional: where the start came from (`channel`, `source`)."""


class HelpBody(Origin, forbid_unknown_fields=True, kw_only=True):
    device_id: DeviceId | None = None
    # The member who shared the link the helper came through (the initiator, or a helper who
    # passed it on): the share tree of the assist report. Ignored unless one of those.
    via: MemberId | None = None


class HelpResult(msgspec.Struct, omit_defaults=True):
    help_id: str
    initiative_id: str
    number: int  # this help's number: the initiative has that many helps now
    needed: int
    completed: bool  # this help completed the initiative
    cut_cny: str | None = None
    price_cny: str | None = None
    helper_reward: LocalReward | None = None  # for a first help, while the helper rewards last
    helper_reward_status: Literal["granted", "pending"] | None = None


class InviteEvent(Origin, forbid_unknown_fields=True, kw_only=True):
    """The host reports an invitee's action (operator token); `channel` and `source`: where the
    invitee came from (analytics)."""

    share_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=SAFE_TEXT)]
    invitee_id: MemberId
    action: Literal["registration", "first_order"]
    device_id: DeviceId | None = None
    ip: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=SAFE_TEXT)] | None = None


class InviteResult(msgspec.Struct, omit_defaults=True):
    counted: bool
    reason: str | None = None
    help: HelpResult | None = None


class AssistCounters(msgspec.Struct):
    activity_id: int
    status: str
    loaded: bool
    stock: int
    stock_left: int  # neither reserved by an open initiative nor won
    initiatives_total: int
    open: int
    completed_total: int
    expired_total: int
    helps_total: int
    helper_rewards_total: int
    initiatives_in_sql: int
    completed_in_sql: int
    expired_in_sql: int
    helps_in_sql: int
    helper_rewards_in_sql: int
    audit_backlog: int
    quarantined: int = 0  # events the audit writer could not write (GET /operator/audit/quarantine)
