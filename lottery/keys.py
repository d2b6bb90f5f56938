"""The lottery's Redis key names, beside the kernel's (activities/keys.py): every key of a lottery
carries its activity's hash tag, so each draw, grant and chance script touches one slot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from activities.keys import ActivityKeys


@dataclass(frozen=True)
class LotteryKeys(ActivityKeys):
    """The kernel's keys of the activity (state, stock, per-member and per-day counters,
    idempotency, events, epoch, loading) and the lottery's own."""

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

    @property
    def pity(self) -> str:
        """Hash user_id -> the member's consecutive consolation draws (the pity rule's counter)."""
        return f"{self._p}:pity"

    @property
    def members(self) -> str:
        """Hash user_id -> 1: the members loaded from SQL since a lazy rebuild (lottery/members.py)."""
        return f"{self._p}:members"

    @property
    def pacing(self) -> str:
        """Hash of paced release and budget counters: "spent" -> fen spent, "r:<prize>" and
        "r:<prize>:<period>" -> units counted against a release plan (lottery/pacing.py)."""
        return f"{self._p}:pacing"

    def draws_done(self, day: date) -> str:
        """Hash "<user_id> <idempotency key>" -> the record of a draw made that local day (draw.lua
        KEYS[8]): one hash per day, expiring once, PROMO_IDEMPOTENCY_TTL_S after the day's end."""
        return f"{self._p}:done:{day.isoformat()}"

    def grant_ref(self, ref: str) -> str:
        """String "<grant_id> <prize_id> <picked_prize_id>": a prize granted from the pool for `ref`."""
        return f"{self._p}:gref:{ref}"

    def chance_ref(self, ref: str) -> str:
        """Marker: the draw chances of `ref` were credited."""
        return f"{self._p}:cref:{ref}"

    @property
    def all_static(self) -> list[str]:
        """Keys a rebuild deletes before loading (day keys and idempotency keys are set, not deleted)."""
        return [
            *(self.state, self.stock, self.granted, self.user_total, self.user_prize, self.chances),
            *(self.pity, self.members, self.pacing),
        ]
