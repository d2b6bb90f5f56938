"""Reservation members loaded lazily after a rebuild (issue 17), as lottery/members.py does for
lotteries: the rebuild writes the activity's counters only (reservation/rebuild.py); if SQL
holds reservations, reserve.lua answers `member_not_loaded` for a member not yet in the
`members` hash, and change.lua `code_not_loaded` for a code whose member is not (or a code Redis
does not hold). `ReservationMembers.load` reads that member's reservations from SQL (one indexed
query) and writes them with member.lua, only if the same load is still live and the member still
absent: what it holds per date and in all (its limits), its codes of the last days, the deadlines
of the reserved ones, and the idempotency records of the last day (a replay still replays)."""

from __future__ import annotations

from activities.clock import Clock
from activities.flights import SingleFlight
from activities.model import Activity
from reservation.rebuild import member_state
from reservation.repository import ReservationRepository
from reservation.store import ReservationStore


class ReservationMembers:
    """One load per member at a time in this process; member.lua makes concurrent loads across
    processes harmless (the first wins, the others change nothing)."""

    def __init__(self, repository: ReservationRepository, store: ReservationStore, clock: Clock) -> None:
        self.repository = repository
        self.store = store
        self.clock = clock
        self._flights: SingleFlight[tuple[int, str], str] = SingleFlight()

    async def load(self, activity: Activity, user_id: str) -> str:
        """ok (loaded now) | loaded (already) | stale (rebuilt meanwhile, or not loaded: the
        caller's next script call says what to do)."""
        key = (activity.id, user_id)
        return await self._flights.run(key, lambda: self._load(activity, user_id))

    async def load_code(self, activity: Activity, code: str) -> str:
        """Load the member of a reservation code: as `load`, or "unknown" if SQL has no such code."""
        owner = await self.repository.owner_of(activity.id, code)
        return "unknown" if owner is None else await self.load(activity, owner)

    async def _load(self, activity: Activity, user_id: str) -> str:
        token = await self.store.lazy_token(activity.id)  # before reading SQL: the load it reads for
        if token is None or token == "0":
            return "stale"
        now_ms = self.clock.now_ms()
        member = member_state(activity, await self.repository.of_member(activity.id, user_id), now_ms)
        return await self.store.load_member(activity.id, user_id, token, member)
