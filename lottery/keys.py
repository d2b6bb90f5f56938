"""The lottery's Redis key names, beside the kernel's (activities/keys.py): every key of a lottery
carries its activity's hash tag, so each draw, grant and chance script touches one slot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from activities.keys import ActivityKeys


@dataclass(frozen=True)
class LotteryKeys(ActivityKeys):
    """The kernel's keys of the activity (state, events, epoch, loading) and the lottery's own."""

    @property
    def stock(self) -> str:
        """Hash prize_id -> units left, for prizes with a limited stock."""
        return f"{self._p}:stock"

    @property
    def user_total(self) -> str:
        """Hash user_id -> draws since the start (those that count against the limits)."""
        return f"{self._p}:user_total"

    def user_day(self, day: date) -> str:
        """Hash user_id -> draws on that local day. Expires a day after the day."""
        return f"{self._p}:user_day:{day.isoformat()}"

    def day(self, day: date) -> str:
        """Hash "draws" -> draws that day, prize_id -> units granted that day. Expires a day after the day."""
        return f"{self._p}:day:{day.isoformat()}"

    def idempotency(self, user_id: str, key: str) -> str:
        """String "<fingerprint> <draw fields...>" of a finished draw, kept for a day."""
        return f"{self._p}:idem:{user_id}:{key}"

    @property
    def granted(self) -> str:
        """Hash prize_id -> units granted since the start, for every prize."""
        return f"{self._p}:granted"

    @property
    def user_prize(self) -> str:
        """Hash "user_id|prize_id" -> wins, for prizes with a per-user cap."""
        return f"{self._p}:user_prize"

    @property
    def chances(self) -> str:
        """Hash user_id -> draw chances left (granted by sign-in rewards and the like)."""
        return f"{self._p}:chances"

    def grant_ref(self, ref: str) -> str:
        """String "<grant_id> <prize_id> <picked_prize_id>": a prize granted from the pool for `ref`."""
        return f"{self._p}:gref:{ref}"

    def chance_ref(self, ref: str) -> str:
        """Marker: the draw chances of `ref` were credited."""
        return f"{self._p}:cref:{ref}"

    @property
    def all_static(self) -> list[str]:
        """Keys a rebuild deletes before loading (day keys and idempotency keys are set, not deleted)."""
        return [self.state, self.stock, self.granted, self.user_total, self.user_prize, self.chances]
