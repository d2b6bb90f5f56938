"""Members loaded lazily after a rebuild (issue 17: a cold rebuild that does not grow with the
campaign).

A rebuild writes only the activity's counters (lottery/snapshot.py). If SQL holds anything of
the lottery's members (draws, grants, chance changes), the load records a token in the state
hash (`lazy`), and every script that reads or changes a member's state (draw.lua, grant.lua,
chances.lua) first checks the member's marker in the `members` hash: absent, it answers
`member_not_loaded`, and `MemberLoader.load` reads that member from SQL (two small indexed
queries), writes it with member.lua (only if the same load is still live and the member is
still not loaded), then the script runs again. A member's state in Redis is thus always what
SQL had at the load plus what that member did since, as with an eager rebuild:

- `user_total`: draws that count against the limits; `user_day` of today; `user_prize` of the
  capped prizes (draws and grants alike); `chances` (the ledger's sum); `pity` (its consolation
  draws since its last other prize, when the lottery has a pity rule);
- the idempotency records of the member's draws of the last PROMO_IDEMPOTENCY_TTL_S (a replay
  after a flush answers the first draw, as before), and the references of its grants and chance
  credits of the last week (a reward is never granted twice).
"""

from __future__ import annotations

from datetime import date

from activities.clock import Clock, day_end_ms, local_day
from activities.flights import SingleFlight
from activities.service import DAY_KEY_GRACE_MS, IDEMPOTENCY_TTL_S, REFERENCE_TTL_S
from lottery.model import Lottery
from lottery.repository import LotteryRepository
from lottery.snapshot import MemberState
from lottery.store import DrawStore, done_ttl_ms


async def read_member(repo: LotteryRepository, activity: Lottery, user_id: str, now_ms: int) -> MemberState:
    state = MemberState()
    today = local_day(now_ms, activity.tz).isoformat()
    capped = {p.id for p in activity.prizes if p.per_user_cap}
    idempotency_since = now_ms - IDEMPOTENCY_TTL_S * 1000
    references_since = now_ms - REFERENCE_TTL_S * 1000
    consolation = activity.consolation.id if activity.pity_after else None
    for row in await repo.member_draws(activity.id, user_id):
        if consolation is not None and row.kind != "grant":  # repository.consolation_streaks, for one member
            state.pity_streak = state.pity_streak + 1 if row.prize_id == consolation else 0
        if row.prize_id in capped:
            state.user_prize[row.prize_id] = state.user_prize.get(row.prize_id, 0) + 1
        if row.kind == "draw":
            state.user_total += 1
            state.user_today += row.day == today
        if row.kind == "grant":
            if row.drawn_at_ms >= references_since:
                ttl_s = max(1, (row.drawn_at_ms - references_since) // 1000)
                record = f"{row.draw_id} {row.prize_id} {row.picked_prize_id}"
                state.grant_refs.append((row.idempotency_key, record, ttl_s))
        elif row.drawn_at_ms >= idempotency_since:
            fields = (
                row.fingerprint,
                row.draw_id,
                row.prize_id,
                row.picked_prize_id,
                -1 if row.left_today is None else row.left_today,
                -1 if row.left_total is None else row.left_total,
                row.drawn_at_ms,
                row.kind,
            )
            day = date.fromisoformat(row.day)
            ttl_ms = max(1000, done_ttl_ms(now_ms, day, IDEMPOTENCY_TTL_S, activity.tz))
            state.idempotency.append((day, row.idempotency_key, " ".join(str(v) for v in fields), ttl_ms))
    for ref, delta, at_ms in await repo.member_chances(activity.id, user_id):
        state.chances += delta
        if delta > 0 and at_ms >= references_since:
            state.chance_refs.append((ref, REFERENCE_TTL_S))
    return state


class MemberLoader:
    """Loads members on their first request after a rebuild; one load per member at a time in
    this process (the others wait for it); member.lua makes concurrent loads across processes
    harmless (the first wins, the others change nothing)."""

    def __init__(self, repository: LotteryRepository, store: DrawStore, clock: Clock) -> None:
        self.repository = repository
        self.store = store
        self.clock = clock
        self._flights: SingleFlight[tuple[int, str], str] = SingleFlight()

    async def load(self, activity: Lottery, user_id: str) -> str:
        """ok (loaded now) | loaded (already) | stale (the activity was rebuilt meanwhile, or is
        not loaded: the caller's next script call says what to do)."""
        key = (activity.id, user_id)
        return await self._flights.run(key, lambda: self._load(activity, user_id))

    async def _load(self, activity: Lottery, user_id: str) -> str:
        token = await self.store.lazy_token(activity.id, user_id)  # before reading SQL: the load it reads for
        if token is None or token == "0":
            return "stale"
        now_ms = self.clock.now_ms()
        state = await read_member(self.repository, activity, user_id, now_ms)
        day = local_day(now_ms, activity.tz)
        day_ttl_ms = day_end_ms(day, activity.tz) + DAY_KEY_GRACE_MS - now_ms
        return await self.store.load_member(activity.id, user_id, token, day, day_ttl_ms, state)
