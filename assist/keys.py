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

    @property
    def members(self) -> str:
        """Hash user_id -> 1: the members loaded from SQL since a lazy rebuild (assist/members.py)."""
        return self.key("members")

    def day_loaded(self, day: date) -> str:
        """Hash "d:<device_id>" / "i:<ip>" -> 1: the devices and addresses whose helps of the day
        of a lazy rebuild are loaded from SQL (assist/members.py). Expires after the day."""
        return self.key("day_loaded", day.isoformat())
