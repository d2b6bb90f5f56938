"""Bucketed stock (库存分桶, issue 17): one hot lottery spread over K Redis Cluster slots.

A lottery with `stock_buckets` K > 1 keeps K copies of its live state, each a full shard under
its own hash tag (`{act:42}` for bucket 0, `{act:42:b3~33}` for bucket 3: activities/keys.py
`tag`, which aims the buckets' slots evenly round the slot space), so K Redis cores serve it.
draw.lua (and grant.lua, chances.lua, member.lua) run unchanged on the keys of the member's
bucket, `bucket_of(user_id, K)` = crc32(user_id) mod K: a member lives in one bucket, so
everything per member stays exact (its limits, its caps, its chances, its idempotency records,
its pity streak).

What the activity has as a whole is split K ways at every load (remainders to the first buckets):
the stock left of each prize, and each activity-level cap (the global daily limit, a prize's
daily stock; a later config version's global daily limit). A split cap is never exceeded, but one
bucket may reach its share while the others still have some of theirs: a member of that bucket is
refused (or gets the consolation prize) a little before the activity's total is reached. Budgets
and release plans are not split: a lottery with either keeps one bucket (lottery/model.py).

Stock is not left to the split: when a draw picks a limited prize its bucket holds none of, and
the bucket does not know the prize is out everywhere (`out:<prize>` in its state), the script
answers `bucket_empty` having changed nothing; the store (lottery/store_buckets.py) then moves
units from the other buckets (take.lua: half of what a donor holds, rounded up; give.lua: adds
them) and draws again, or marks the prize out in that bucket when no donor had any. Totals stay
exact: a unit is in exactly one bucket or in transit, and every move is two atomic scripts. A
process that dies between the two loses the units in transit until the next rebuild from SQL
(undersold, never oversold); units taken under one load are never given under another (the
state's `load` token). add_stock adds to bucket 0, clears the `out` marks and spreads the new
units. Rebuilds, status and window changes, the operator's counters, the audit writer (one
stream per bucket) and `promo verify` go over every bucket.
"""

from __future__ import annotations

import msgspec

from activities.keys import bucket_of as bucket_of  # crc32(user_id) mod K (re-exported)
from lottery.model import Limits, Lottery
from lottery.snapshot import Snapshot
from lottery.versions import next_versions_field


def split(total: int, k: int) -> list[int]:
    """`total` in `k` shares, the remainder to the first ones: split(10, 4) == [3, 3, 2, 2]."""
    base, rest = divmod(max(total, 0), k)
    return [base + (1 if i < rest else 0) for i in range(k)]


def split_used(cap: int, used: int, k: int) -> list[int]:
    """Each bucket's count against its share of `cap` such that what is left in each bucket is
    its share of what is left of the cap, and the counts add up to `used` (beyond the cap: the
    excess counted in bucket 0)."""
    shares, left = split(cap, k), split(cap - used, k)
    counts = [share - rest for share, rest in zip(shares, left, strict=True)]
    counts[0] += max(used - cap, 0)
    return counts


def _limits(limits: Limits, b: int, k: int) -> Limits:
    if not limits.global_daily:
        return limits
    return msgspec.structs.replace(limits, global_daily=split(limits.global_daily, k)[b])


def bucket_lottery(lottery: Lottery, b: int, k: int) -> Lottery:
    """The lottery as bucket `b` of `k` runs it: its share of every activity-level cap."""
    if k == 1:
        return lottery
    prizes = [
        msgspec.structs.replace(p, daily_stock=split(p.daily_stock, k)[b]) if p.daily_stock else p
        for p in lottery.prizes
    ]
    versions = [
        msgspec.structs.replace(v, limits=_limits(v.limits or lottery.limits, b, k)) for v in lottery.later_versions
    ]
    return msgspec.structs.replace(
        lottery, limits=_limits(lottery.limits, b, k), prizes=prizes, later_versions=versions
    )


def bucket_snapshots(snapshot: Snapshot, k: int, token: str) -> list[Snapshot]:
    """The live state of each of the `k` buckets from the activity's `snapshot` (read from SQL):
    stock left and today's counts split against the shares of their caps, the totals since the
    start (draws, units granted) and the pacing counters in bucket 0."""
    lottery = snapshot.activity
    stock_left = snapshot.stock_left()
    stocks = {prize_id: split(left, k) for prize_id, left in stock_left.items()}
    daily = {p.id: p.daily_stock for p in lottery.prizes if p.daily_stock}
    today = {
        prize_id: split_used(daily[prize_id], units, k) if prize_id in daily else [units] + [0] * (k - 1)
        for prize_id, units in snapshot.granted_today.items()
    }
    cap = lottery.limits.global_daily
    draws_today = split_used(cap, snapshot.draws_today, k) if cap else [snapshot.draws_today] + [0] * (k - 1)
    found = []
    for b in range(k):
        first = b == 0
        found.append(
            Snapshot(
                activity=bucket_lottery(lottery, b, k),
                day=snapshot.day,
                day_ttl_ms=snapshot.day_ttl_ms,
                draws_total=snapshot.draws_total if first else 0,
                draws_today=draws_today[b],
                granted=dict(snapshot.granted) if first else {},
                granted_today={prize_id: counts[b] for prize_id, counts in today.items() if counts[b]},
                lazy=snapshot.lazy,
                spent_fen=snapshot.spent_fen if first else 0,
                paced=dict(snapshot.paced) if first else {},
                periods=snapshot.periods,
                stock_split={prize_id: shares[b] for prize_id, shares in stocks.items()},
                state_extra={"buckets": k, "load": token},
            )
        )
    return found


def versions_of(lottery: Lottery, k: int) -> list[str]:
    """Each bucket's `next_versions` (the later versions' global daily limit split)."""
    return [next_versions_field(bucket_lottery(lottery, b, k)) for b in range(k)]
