"""Every Redis key name of the platform, in one place (as arq does).

All keys of one activity share the hash tag ``{act:<id>}`` so that each Lua script touches a
single Redis Cluster slot.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date

AUDIT_GROUP = "audit"  # the consumer group of the SQL audit writer on every activity stream


def tag(activity_id: int) -> str:
    return f"{{act:{activity_id}}}"


@dataclass(frozen=True)
class ActivityKeys:
    activity_id: int

    @property
    def _p(self) -> str:
        return tag(self.activity_id)

    @property
    def state(self) -> str:
        """Hash: status, window, limits, prize table (JSON), draws_total. Absent = not loaded."""
        return f"{self._p}:state"

    @property
    def stock(self) -> str:
        """Hash prize_id -> units left, for prizes with a limited stock (an assist activity:
        "prize" and "helper" -> units left)."""
        return f"{self._p}:stock"

    @property
    def granted(self) -> str:
        """Hash prize_id -> units granted since the start, for every prize."""
        return f"{self._p}:granted"

    @property
    def user_total(self) -> str:
        """Hash user_id -> draws (or reservations held) since the start."""
        return f"{self._p}:user_total"

    @property
    def user_prize(self) -> str:
        """Hash "user_id|prize_id" -> wins, for prizes with a per-user cap."""
        return f"{self._p}:user_prize"

    def user_day(self, day: date) -> str:
        """Hash user_id -> draws (or helps) on that local day. Expires after the day."""
        return f"{self._p}:user_day:{day.isoformat()}"

    def day(self, day: date) -> str:
        """Hash "draws" -> draws that day, prize_id -> units granted that day. Expires after the day."""
        return f"{self._p}:day:{day.isoformat()}"

    def idempotency(self, user_id: str, key: str) -> str:
        """String "<fingerprint> <draw fields...>" of a finished draw, kept for a day."""
        return f"{self._p}:idem:{user_id}:{key}"

    @property
    def chances(self) -> str:
        """Hash user_id -> draw chances left (a lottery's; granted by sign-in rewards and the like)."""
        return f"{self._p}:chances"

    def grant_ref(self, ref: str) -> str:
        """String "<grant_id> <prize_id> <picked_prize_id>": a prize granted from the pool for `ref`."""
        return f"{self._p}:gref:{ref}"

    def chance_ref(self, ref: str) -> str:
        """Marker: the draw chances of `ref` were credited."""
        return f"{self._p}:cref:{ref}"

    def cycle(self, start: date) -> str:
        """Hash of a sign-in cycle: user_id -> marks of the cycle's days, "user_id|offset" -> the
        outcome of that day's sign-in or make-up. Expires a day after the cycle."""
        return f"{self._p}:cycle:{start.isoformat()}"

    # --- friend assist (助力): initiatives and the helps they collect -------------------------

    def initiative(self, initiative_id: str) -> str:
        """Hash of an initiative: initiator, status, needed, helps, deadline_ms, bargain price and
        cuts; "h:<helper>" -> "<number> <cut> <at_ms>" for each help. Expires once closed."""
        return f"{self._p}:init:{initiative_id}"

    @property
    def open_initiatives(self) -> str:
        """Hash user_id -> the id of the member's open initiative."""
        return f"{self._p}:open"

    @property
    def initiators(self) -> str:
        """Hash user_id -> initiatives the member has started."""
        return f"{self._p}:initiators"

    @property
    def deadlines(self) -> str:
        """Sorted set of what a sweep closes when its time comes, by deadline (ms): open
        initiatives, reservations not redeemed by the end of their day."""
        return f"{self._p}:deadlines"

    @property
    def helped(self) -> str:
        """Hash helper -> helps in the activity so far (a first help may earn the helper reward)."""
        return f"{self._p}:helped"

    @property
    def invitees(self) -> str:
        """Hash invitee -> the initiative the invitee counted for (an invitee counts once)."""
        return f"{self._p}:invitees"

    def device_day(self, day: date) -> str:
        """Hash device_id -> helps from that device on that local day."""
        return f"{self._p}:device_day:{day.isoformat()}"

    def ip_day(self, day: date) -> str:
        """Hash ip -> helps from that address on that local day."""
        return f"{self._p}:ip_day:{day.isoformat()}"

    # --- hot-item reservations (热门商品预约) ------------------------------------------------

    @property
    def pools(self) -> str:
        """Hash "<date>|<store or all>" -> units left to reserve."""
        return f"{self._p}:pool"

    def reservation(self, code: str) -> str:
        """Hash of a reservation: user_id, date, store, pool, status, cancel_until_ms..."""
        return f"{self._p}:rsv:{code}"

    def member_reservations(self, user_id: str) -> str:
        """Set of the codes of a member's reservations."""
        return f"{self._p}:mine:{user_id}"

    @property
    def user_dates(self) -> str:
        """Hash "user_id|date" -> reservations the member holds for that date (not cancelled)."""
        return f"{self._p}:user_date"

    @property
    def reservation_stats(self) -> str:
        """Hash "<date>|<store>|<reserved, cancelled, redeemed or expired>" -> reservations."""
        return f"{self._p}:rstats"

    @property
    def events(self) -> str:
        """Stream of every state change, consumed by the SQL audit writer."""
        return f"{self._p}:events"

    @property
    def epoch(self) -> str:
        """String: the id of the load that built the live state (set with it). Missing while SQL
        says the activity was loaded before: Redis lost its state (see activities/recovery.py)."""
        return f"{self._p}:epoch"

    @property
    def loading(self) -> str:
        """String lock "<token>" (SET NX PX) held by the one process rebuilding the state."""
        return f"{self._p}:loading"

    @property
    def all_static(self) -> list[str]:
        """Keys a rebuild deletes before loading (day keys and idempotency keys are set, not deleted)."""
        return [self.state, self.stock, self.granted, self.user_total, self.user_prize, self.chances]


# Member points wallets live in a fixed number of shards, each its own hash tag, so that the
# wallet script touches one slot and the audit writer follows a fixed set of streams.
WALLET_SHARDS = 16


def wallet_shard(user_id: str) -> int:
    return zlib.crc32(user_id.encode()) % WALLET_SHARDS


@dataclass(frozen=True)
class WalletKeys:
    shard: int

    @classmethod
    def of(cls, user_id: str) -> WalletKeys:
        return cls(wallet_shard(user_id))

    @property
    def _p(self) -> str:
        return f"{{pts:{self.shard}}}"

    @property
    def balances(self) -> str:
        """Hash user_id -> points balance. Absent (with `loaded`) = rebuild the shard from SQL."""
        return f"{self._p}:balances"

    @property
    def loaded(self) -> str:
        """Marker set when the shard's balances were loaded from SQL."""
        return f"{self._p}:loaded"

    def entry(self, ref: str) -> str:
        """String: the outcome of the wallet change with this reference (idempotency), kept a week."""
        return f"{self._p}:ref:{ref}"

    @property
    def events(self) -> str:
        """Stream of wallet changes, consumed by the SQL audit writer."""
        return f"{self._p}:events"


@dataclass(frozen=True)
class ViewKeys:
    """Public page views of an activity (analytics/store.py), per local day; in the activity's slot."""

    activity_id: int

    def visitors(self, day: str, channel: str) -> str:
        """HyperLogLog of the visitor ids that viewed the page that day through `channel`."""
        return f"{tag(self.activity_id)}:uv:{day}:{channel}"

    def views(self, day: str) -> str:
        """Hash channel -> page views that day."""
        return f"{tag(self.activity_id)}:views:{day}"
