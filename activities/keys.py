"""The Redis key names every gameplay shares (as arq does): an activity's state, stream, load
epoch and lock, its shared counters; the points wallets. A gameplay's own keys live in its folder
(`lottery/keys.py`, `checkin/keys.py`...), in a subclass of `ActivityKeys` built on
`ActivityKeys.key` (or on `tag`).

All keys of one activity share the hash tag ``{act:<id>}`` so that each Lua script touches a
single Redis Cluster slot.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from datetime import date

from redis.crc import key_slot

AUDIT_GROUP = "audit"  # the consumer group of the SQL audit writer on every activity stream


def tag(activity_id: int, bucket: int = 0) -> str:
    """The hash tag of an activity's keys: ``{act:<id>}``, or ``{act:<id>:b<bucket>~<n>}`` for
    the bucket's own copy of the live state of an activity spread over several slots (a
    lottery's bucketed stock, lottery/buckets.py); bucket 0 is the activity's own tag."""
    return _bucket_tag(activity_id, bucket) if bucket else f"{{act:{activity_id}}}"


_SLOTS = 16384  # Redis Cluster hash slots


@functools.lru_cache(maxsize=16384)
def _bucket_tag(activity_id: int, bucket: int) -> str:
    """Bucket `bucket`'s tag, its `n` the first whose slot lies within 1/32 of the slot space
    after the point a van der Corput sequence gives it (bucket 1 half way round from bucket 0's
    slot, 2 and 3 at a quarter and three quarters, 4..7 at the eighths...): whatever their number,
    the buckets' slots spread evenly over the slot space, so over the nodes of a cluster (whose
    nodes hold ranges of slots) rather than wherever a hash lands them."""
    reversed_bits, rest, scale = 0.0, bucket, 0.5
    while rest:
        reversed_bits += (rest & 1) * scale
        rest, scale = rest >> 1, scale / 2
    start = (key_slot(tag(activity_id).encode()) + int(reversed_bits * _SLOTS)) % _SLOTS
    for n in range(100_000):
        found = f"{{act:{activity_id}:b{bucket}~{n}}}"
        if (key_slot(found.encode()) - start) % _SLOTS < _SLOTS // 32:
            return found
    return f"{{act:{activity_id}:b{bucket}}}"  # unreachable in practice (about 32 tries)


def bucket_of(user_id: str, buckets: int) -> int:
    """The bucket of a member in an activity spread over `buckets` slots: crc32(user_id) mod
    buckets (stable across processes and restarts; 0 when the activity has one bucket)."""
    return zlib.crc32(user_id.encode()) % buckets if buckets > 1 else 0


@dataclass(frozen=True)
class ActivityKeys:
    activity_id: int
    bucket: int = 0  # the bucket's copy of the live state (tag); 0: the activity's own

    @property
    def _p(self) -> str:
        return tag(self.activity_id, self.bucket)

    def key(self, *parts: str) -> str:
        """A key of this activity (its hash tag, then `parts` joined by ":"), for the key
        modules of the gameplays, which subclass this class with their own names
        (`checkin/keys.py`): `ActivityKeys(7).key("cycle", "2026-03-02")` is
        "{act:7}:cycle:2026-03-02"."""
        return ":".join((self._p, *parts))

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
    def user_total(self) -> str:
        """Hash user_id -> draws (or reservations held) since the start."""
        return f"{self._p}:user_total"

    def user_day(self, day: date) -> str:
        """Hash user_id -> draws (or helps) on that local day. Expires after the day."""
        return f"{self._p}:user_day:{day.isoformat()}"

    def day(self, day: date) -> str:
        """Hash "draws" -> draws that day, prize_id -> units granted that day. Expires after the day."""
        return f"{self._p}:day:{day.isoformat()}"

    def idempotency(self, user_id: str, key: str) -> str:
        """String "<fingerprint> <fields...>" of a finished request (a draw, a reservation),
        kept for a day."""
        return f"{self._p}:idem:{user_id}:{key}"

    @property
    def deadlines(self) -> str:
        """Sorted set of what a sweep closes when its time comes, by deadline (ms): open
        initiatives, reservations not redeemed by the end of their day."""
        return f"{self._p}:deadlines"

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


@dataclass(frozen=True)
class ListKeys:
    """An audience list's members (lists/store.py), under its own hash tag: one slot per list."""

    list_id: int

    @property
    def _p(self) -> str:
        return f"{{list:{self.list_id}}}"

    @property
    def members(self) -> str:
        """Set of the list's member ids, plus LOADED (the empty string, never a member id): present
        once the set was loaded from SQL. Absent = rebuild it from SQL (a flushed Redis)."""
        return f"{self._p}:members"

    def staging(self, token: str) -> str:
        """Set being filled (an upload, a replacement, a rebuild) before it is renamed onto `members`."""
        return f"{self._p}:staging:{token}"

    @property
    def lock(self) -> str:
        """String lock "<token>" (SET NX PX) held by the one process changing or rebuilding the list."""
        return f"{self._p}:lock"


LOADED = ""  # the marker member of every loaded list set (member ids are never empty)
