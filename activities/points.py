"""Member points wallets: grants, draw costs, refunds. Each change is one Lua script on the
member's wallet shard, applied once per reference and streamed to the SQL ledger."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from activities import listing
from activities.clock import Clock
from activities.errors import Kind, PromoError
from activities.keys import wallet_shard
from activities.pages import Page, cut, decode_cursor
from activities.repository import ActivityRepository, PointsRow
from activities.store import AuditBacklog, WalletReply, WalletStore

_LOAD_ATTEMPTS = 3
RECONCILE_AFTER_MS = 5 * 60 * 1000  # older than this, a half-done change is completed or undone


class Balance(msgspec.Struct):
    user_id: str
    balance: int


class PointsEntry(msgspec.Struct):
    """A line of a member's points ledger, as the member sees it."""

    delta: int  # + credited, - spent
    balance_after: int
    reason: str  # operator_grant | draw_cost | refund | prize | checkin_reward | makeup_cost ...
    activity_id: int | None
    at: datetime  # RFC 3339, UTC (points are not tied to one activity's zone)


def _entry(row: PointsRow) -> PointsEntry:
    return PointsEntry(
        delta=row.delta,
        balance_after=row.balance_after,
        reason=row.reason,
        activity_id=row.activity_id,
        at=datetime.fromtimestamp(row.at_ms / 1000, UTC),
    )


def draw_cost_ref(draw_id: str) -> str:
    return f"draw:{draw_id}"  # the reconciler strips "draw:" to find the draw


def refund_ref(ref: str) -> str:
    return f"refund:{ref}"


def prize_ref(draw_id: str) -> str:
    return f"prize:{draw_id}"


class PointsService:
    def __init__(self, store: WalletStore, repository: ActivityRepository, clock: Clock) -> None:
        self.store = store
        self.repository = repository
        self.clock = clock

    async def balance(self, user_id: str) -> int:
        for _ in range(_LOAD_ATTEMPTS):
            balance = await self.store.balance(user_id)
            if balance is not None:
                return balance
            await self._load_shard(user_id)
        raise _loading()

    async def credit(self, user_id: str, amount: int, ref: str, reason: str, activity_id: int = 0) -> WalletReply:
        if amount <= 0:
            raise PromoError(Kind.INVALID, "amount_not_positive", "amount must be a positive number of points")
        return await self._apply(user_id, amount, ref, reason, activity_id)

    async def debit(self, user_id: str, amount: int, ref: str, reason: str, activity_id: int = 0) -> WalletReply:
        reply = await self._apply(user_id, -amount, ref, reason, activity_id)
        if reply.kind == "insufficient":
            raise PromoError(
                Kind.CONFLICT,
                "points_insufficient",
                f"this needs {amount} points; you have {reply.balance}",
                needed=amount,
                balance=reply.balance,
            )
        return reply

    async def refund(self, user_id: str, amount: int, debit_ref: str, activity_id: int = 0) -> WalletReply:
        """Give back a debit, once; a refund of a debit that never happened does nothing."""
        return await self._apply(user_id, amount, refund_ref(debit_ref), "refund", activity_id, refund_of=debit_ref)

    async def credit_prize(self, user_id: str, points: int, draw_id: str, activity_id: int) -> WalletReply:
        """Credit a won "points" prize, once per draw."""
        return await self.credit(user_id, points, prize_ref(draw_id), "prize", activity_id)

    async def refund_orphan_costs(self, reason: str, prefix: str, event_id: sa.Column[Any]) -> int:
        """Refund costs of `reason` whose state change never reached SQL (see orphan_costs)."""
        orphans = await self.repository.orphan_costs(reason, prefix, event_id, self.clock.now_ms() - RECONCILE_AFTER_MS)
        for row in orphans:
            await self.refund(row.user_id, -row.delta, row.ref, row.activity_id or 0)
        return len(orphans)

    async def history(self, user_id: str, limit: int, cursor: str | None = None) -> Page[PointsEntry]:
        """The member's ledger, newest first, a page at a time (activities/pages.py)."""
        after = decode_cursor(cursor, (int, int))
        rows = await listing.points_history(self.repository.engine, user_id, limit + 1, after)
        kept, next_cursor = cut(rows, limit, lambda pair: (pair[1].at_ms, pair[0]))
        return Page(items=[_entry(row) for _, row in kept], next_cursor=next_cursor)

    async def _apply(
        self, user_id: str, delta: int, ref: str, reason: str, activity_id: int, refund_of: str | None = None
    ) -> WalletReply:
        # The same reference for another change (another amount or reason) is refused, not
        # replayed: a reused Idempotency-Key of a grant is a 422 like a draw's.
        fingerprint = hashlib.sha256(f"{delta}:{reason}".encode()).hexdigest()[:16]
        for _ in range(_LOAD_ATTEMPTS):
            reply = await self.store.apply(
                user_id,
                delta,
                ref,
                reason,
                self.clock.now_ms(),
                activity_id=activity_id,
                refund_of=refund_of,
                fingerprint=fingerprint,
            )
            if reply.kind == "mismatch":
                raise PromoError(
                    Kind.INVALID, "idempotency_key_reused", "this Idempotency-Key was used for a different request"
                )
            if reply.kind != "not_loaded":
                return reply
            await self._load_shard(user_id)
        raise _loading()

    async def _load_shard(self, user_id: str) -> None:
        shard = wallet_shard(user_id)

        async def read_balances() -> dict[str, int]:
            return await self.repository.balances_of_shard(shard)

        try:
            await self.store.load(shard, read_balances)
        except AuditBacklog as exc:
            raise _loading() from exc


def _loading() -> PromoError:
    return PromoError(Kind.UNAVAILABLE, "wallet_loading", "points are being loaded; retry shortly")
