"""Where a member's action came from (analytics, issue 14): the `channel` (h5 | mini_program |
app | other) and an optional `source` (a campaign link code) every action body may carry.

Gameplay bodies inherit `Origin`; its two values travel as the last ARGVs of the action's Lua
script (`origin_args`), which streams them only when not empty, so the audit handler stores them
beside the event (NULL when not sent) and the rollups count the action by channel and source.
A channel outside the list is a 422 `invalid_body` naming the field, as for draws.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Channel = Literal["h5", "mini_program", "app", "other"]
Source = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:~-]{1,64}$")]


class Origin(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Optional context a front end sends with an action."""

    channel: Channel | None = None
    source: Source | None = None  # a campaign link code (analytics)


def origin_args(body: Origin | None) -> tuple[str, str]:
    """The (channel, source) ARGVs of a script: "" for what was not sent."""
    if body is None:
        return "", ""
    return body.channel or "", body.source or ""


def origin_columns(fields: dict[str, str]) -> dict[str, str | None]:
    """The `channel` and `source` columns of an event's SQL row (NULL when not sent)."""
    return {"channel": fields.get("channel") or None, "source": fields.get("source") or None}
