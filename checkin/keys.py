"""The sign-in's own Redis keys, under the activity's hash tag (activities/keys.py keeps the keys
every gameplay shares: state, day counters, the stream...)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from activities.keys import ActivityKeys


@dataclass(frozen=True)
class CheckinKeys(ActivityKeys):
    def cycle(self, start: date) -> str:
        """Hash of a sign-in cycle: user_id -> marks of the cycle's days, "user_id|offset" -> the
        outcome of that day's sign-in or make-up ("|load": a placeholder a load writes so the
        hash exists with its expiry). Expires a day after the cycle: set by the day's first mark
        (mark.lua) or by the load."""
        return self.key("cycle", start.isoformat())

    @property
    def members(self) -> str:
        """Hash user_id -> 1: the members loaded from SQL since a lazy rebuild (checkin/members.py)."""
        return self.key("members")
