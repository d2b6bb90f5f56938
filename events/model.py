"""What the brand's systems send (`POST /events`) and what they get back, and operators' custom
event types."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec

MAX_BATCH = 1000  # events per request
MAX_ATTRIBUTES_BYTES = 4096  # an event's attributes, encoded as JSON
EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

# The types every brand may send; `order_paid` carries `amount` (CNY, a number >= 0) and may
# carry `items`. Operators declare more (`POST /operator/event-types`).
BUILTIN_TYPES: dict[str, str] = {
    "registered": "a member joined the brand (注册)",
    "order_paid": "an order was paid: attributes.amount (CNY) and optionally attributes.items (消费)",
    "profile_completed": "a member completed the profile (完善资料)",
    "shared": "a member shared something (分享)",
    "page_viewed": "a member viewed a page (浏览)",
    "reviewed": "a member wrote a review (评价)",
    "birthday": "a member's birthday (生日)",
}


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    """One event: `occurred_at` is RFC 3339 with an offset, at most 7 days old and at most 5
    minutes in the future."""

    event_id: str
    member_id: str
    type: str
    occurred_at: str
    attributes: dict[str, Any] = {}


class EventBatch(msgspec.Struct, forbid_unknown_fields=True):
    """Up to 1,000 events; refused whole (422, `details.index`) if any event is wrong."""

    events: list[EventIn]


class EventOutcome(msgspec.Struct):
    event_id: str
    new: bool  # false: this event id was accepted before (a replay, ignored)


class BatchResult(msgspec.Struct):
    accepted: int  # every event of the batch (new or replayed)
    new: int
    replayed: int
    events: list[EventOutcome]  # in the order sent


class EventTypeSpec(msgspec.Struct, forbid_unknown_fields=True):
    """A custom event type: a lower-case name (letters, digits, _), not a built-in one."""

    name: Annotated[str, msgspec.Meta(pattern=TYPE_NAME.pattern)]
    description: Annotated[str, msgspec.Meta(max_length=200)] = ""


class EventTypeView(msgspec.Struct):
    name: str
    description: str
    builtin: bool
