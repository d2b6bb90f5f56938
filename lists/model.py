"""What operators send about audience lists and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from activities.model import Name

ListKind = Literal["allow", "deny"]
MAX_MEMBERS = 1_000_000  # members of one list (an upload, or a list after an append)
MAX_JSON_MEMBERS = 10_000  # members in a JSON body; larger lists are sent as CSV
MemberIds = Annotated[list[str], msgspec.Meta(max_length=MAX_JSON_MEMBERS)]


class ListSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A small list as JSON (`Content-Type: application/json`); a large one is sent as CSV with
    `?name=` and `?kind=`."""

    name: Name
    kind: ListKind
    members: MemberIds


class MembersBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Members to append or to replace the list's with, as JSON (or CSV, one id per line)."""

    members: MemberIds


class ListView(msgspec.Struct, kw_only=True):
    id: int
    name: str
    kind: ListKind
    size: int  # distinct members
    created_by: str
    created_at: datetime
    updated_at: datetime


class MembershipView(msgspec.Struct, kw_only=True):
    list_id: int
    member_id: str
    member: bool
