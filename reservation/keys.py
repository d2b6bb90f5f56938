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

    def member(self, user_id: str) -> str:
        """Hash of a member's part (issue 17: one key per member, read with one HMGET by
        reserve.lua): "c:<code>" -> 1 for each of its reservations; "k:<Idempotency-Key>" ->
        "<fingerprint> <code> <at_ms>" of each reservation it made; "d:<date>" -> reservations it
        holds for the date (not cancelled); "t" -> it holds in all; "L" -> the token of the lazy
        rebuild that loaded it from SQL (reservation/members.py). Expires with its last reservation."""
        return self.key("member", user_id)

    @property
    def reservation_stats(self) -> str:
        """Hash "<date>|<store>|<reserved, cancelled, redeemed or expired>" -> reservations."""
        return self.key("rstats")
