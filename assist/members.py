"""Assist members and initiatives loaded lazily after a rebuild (issue 17), as
lottery/members.py does for lotteries: the rebuild writes the activity's counters and the open
initiatives' deadlines only (assist/rebuild.py). Then

- start.lua answers `member_not_loaded` for a member not yet in the `members` hash, help.lua
  for a helper not loaded, or a device or address not yet counted for the rebuild's day (when
  the activity caps them): `AssistMembers.load` reads the member (initiatives started, its open
  one, its helps, the initiative it counted for as an invitee, its helps that day) and the day's
  helps of the device and address from SQL (indexed queries) and writes them with member.lua;
- help.lua and expire.lua answer `initiative_not_loaded` for an initiative Redis does not hold:
  `load_initiative` reads it with its helps from SQL and writes it with initiative.lua (an open
  one until it closes, a closed one for as long as a closed one stays).

Each write happens only if the same load is still live and the thing is not loaded yet: a
member's, an initiative's, a device's state in Redis is what SQL had at the rebuild plus what
happened since (nothing can happen to it before it is loaded)."""

from __future__ import annotations

from activities.clock import Clock, day_end_ms
from activities.flights import SingleFlight
from activities.model import Activity
from activities.service import DAY_KEY_GRACE_MS
from assist.initiatives import from_sql, redis_fields
from assist.repository import AssistRepository
from assist.store import CLOSED_TTL_S, AssistStore, MemberAssists


class AssistMembers:
    """One load per member at a time in this process; the scripts make concurrent loads across
    processes harmless (the first wins, the others change nothing)."""

    def __init__(self, repository: AssistRepository, store: AssistStore, clock: Clock) -> None:
        self.repository = repository
        self.store = store
        self.clock = clock
        self._flights: SingleFlight[tuple[int, str, str, str], str] = SingleFlight()

    async def load(self, activity: Activity, user_id: str, device: str = "", ip: str = "") -> str:
        """ok | loaded (already) | stale (rebuilt meanwhile, or not lazy: the caller's next
        script call says what to do)."""
        key = (activity.id, user_id, device, ip)
        return await self._flights.run(key, lambda: self._load(activity, user_id, device, ip))

    async def _load(self, activity: Activity, user_id: str, device: str, ip: str) -> str:
        lazy = await self.store.lazy(activity.id)  # before reading SQL: the load it reads for
        if lazy is None:
            return "stale"
        token, day = lazy
        repo = self.repository
        initiated, open_id, helps, invited, that_day = await repo.member(activity.id, user_id, day)
        member = MemberAssists(
            initiated=initiated,
            open_initiative=open_id,
            helps=helps,
            invited_for=invited,
            helps_that_day=that_day,
            device=(device, await repo.helps_of_device(activity.id, "device_id", device, day)) if device else ("", 0),
            ip=(ip, await repo.helps_of_device(activity.id, "ip", ip, day)) if ip else ("", 0),
        )
        day_ttl_ms = day_end_ms(day, activity.tz) + DAY_KEY_GRACE_MS - self.clock.now_ms()
        return await self.store.load_member(activity.id, user_id, token, day, day_ttl_ms, member)

    async def load_initiative(self, activity: Activity, initiative_id: str) -> str:
        """ok | loaded | stale, as `load`; unknown: SQL has no such initiative in the activity."""
        lazy = await self.store.lazy(activity.id)
        if lazy is None:
            return "stale"
        stored = await self.repository.initiative(initiative_id)
        if stored is None or stored[0].activity_id != activity.id:
            return "unknown"
        row, outcome, helps = stored
        fields = redis_fields(from_sql(row, outcome, helps))
        keep_s = 0 if outcome is None else CLOSED_TTL_S
        return await self.store.load_initiative(activity.id, initiative_id, lazy[0], keep_s, fields)
