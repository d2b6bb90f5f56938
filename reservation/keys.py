"""Hot-item reservations' own Redis keys (热门商品预约), under the activity's hash tag
(activities/keys.py keeps the keys every gameplay shares: state, per-member totals, deadlines,
the stream...)."""

from __future__ import annotations

from dataclasses import dataclass

from activities.keys import ActivityKeys


@dataclass(frozen=True)
class ReservationKeys(ActivityKeys):
    @property
    def pools(self) -> str:
        """Hash "<date>|<store or all>" -> units left to reserve."""
        return self.key("pool")

    def reservation(self, code: str) -> str:
        """Hash of a reservation: user_id, date, store, pool, status, cancel_until_ms..."""
        return self.key("rsv", code)

    def member_reservations(self, user_id: str) -> str:
        """Set of the codes of a member's reservations."""
        return self.key("mine", user_id)

    @property
    def user_dates(self) -> str:
        """Hash "user_id|date" -> reservations the member holds for that date (not cancelled)."""
        return self.key("user_date")

    @property
    def reservation_stats(self) -> str:
        """Hash "<date>|<store>|<reserved, cancelled, redeemed or expired>" -> reservations."""
        return self.key("rstats")

    @property
    def members(self) -> str:
        """Hash user_id -> 1: the members loaded from SQL since a lazy rebuild (reservation/members.py)."""
        return self.key("members")
