"""Sign-in members loaded lazily after a rebuild (issue 17), as lottery/members.py does for
lotteries: the rebuild writes the activity's state and counters only; if SQL holds marks, the
mark script answers `member_not_loaded` for a member not yet in the `members` hash, and
`CheckinMembers.load` reads that member's marks of the current cycle (one indexed query) and
writes them with member.lua (only if the same load is still live and the member still absent).
A member who signed in today before the loss is still `day_already_signed` after it, a streak
and the make-ups of the cycle carry on."""

from __future__ import annotations

from activities.clock import Clock, local_day
from activities.flights import SingleFlight
from activities.model import Activity
from checkin.cycles import key_ttls_ms, period_of
from checkin.model import CheckinRules
from checkin.rebuild import member_cycle
from checkin.repository import CheckinRepository
from checkin.store import CheckinStore


class CheckinMembers:
    """One load per member at a time in this process; member.lua makes concurrent loads across
    processes harmless."""

    def __init__(self, repository: CheckinRepository, store: CheckinStore, clock: Clock) -> None:
        self.repository = repository
        self.store = store
        self.clock = clock
        self._flights: SingleFlight[tuple[int, str], str] = SingleFlight()

    async def load(self, activity: Activity, rules: CheckinRules, user_id: str) -> str:
        """ok | loaded (already) | stale (rebuilt meanwhile, or not loaded: the next script call says)."""
        key = (activity.id, user_id)
        return await self._flights.run(key, lambda: self._load(activity, rules, user_id))

    async def _load(self, activity: Activity, rules: CheckinRules, user_id: str) -> str:
        token = await self.store.lazy_token(activity.id)  # before reading SQL: the load it reads for
        if token is None or token == "0":
            return "stale"
        now_ms = self.clock.now_ms()
        today = local_day(now_ms, activity.tz)
        period = period_of(activity, rules, today)
        cycle_ttl_ms, _ = key_ttls_ms(activity, period, today, now_ms)
        member = await member_cycle(self.repository, activity.id, user_id, period)
        return await self.store.load_member(activity.id, user_id, token, period, cycle_ttl_ms, member)
