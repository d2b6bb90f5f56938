"""The event gift's own Redis keys (事件赠礼), under the activity's hash tag (activities/keys.py
keeps the keys every gameplay shares)."""

from __future__ import annotations

from dataclasses import dataclass

from activities.keys import ActivityKeys


@dataclass(frozen=True)
class GiftKeys(ActivityKeys):
    def gift_fired(self, event_id: str) -> str:
        """String "<gift_id>": this member event already fired the event gift (kept 8 days)."""
        return self.key("fired", event_id)
