"""Friend assist's own Redis keys (助力): initiatives and the helps they collect, under the
activity's hash tag (activities/keys.py keeps the keys every gameplay shares: state, stock,
per-member day counters, deadlines, the stream...)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from activities.keys import ActivityKeys


@dataclass(frozen=True)
class AssistKeys(ActivityKeys):
    def initiative(self, initiative_id: str) -> str:
        """Hash of an initiative: initiator, status, needed, helps, deadline_ms, bargain price and
        cuts; "h:<helper>" -> "<number> <cut> <at_ms>" for each help. Expires once closed."""
        return self.key("init", initiative_id)

    @property
    def open_initiatives(self) -> str:
        """Hash user_id -> the id of the member's open initiative."""
        return self.key("open")

    @property
    def initiators(self) -> str:
        """Hash user_id -> initiatives the member has started."""
        return self.key("initiators")

    @property
    def helped(self) -> str:
        """Hash helper -> helps in the activity so far (a first help may earn the helper reward)."""
        return self.key("helped")

    @property
    def invitees(self) -> str:
        """Hash invitee -> the initiative the invitee counted for (an invitee counts once)."""
        return self.key("invitees")

    def device_day(self, day: date) -> str:
        """Hash device_id -> helps from that device on that local day."""
        return self.key("device_day", day.isoformat())

    def ip_day(self, day: date) -> str:
        """Hash ip -> helps from that address on that local day."""
        return self.key("ip_day", day.isoformat())
