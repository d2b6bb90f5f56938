"""Stream entries -> SQL rows: the kernel's handlers (draw, chances, points) of the audit writer
(`activities.audit`); gameplays register theirs for their own event types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import sqlalchemy as sa

from activities import db
from activities.keys import wallet_shard
from activities.repository import DrawRow, PointsRow

Row = tuple[sa.Table, dict[str, Any]]
# (activity id of the stream or None for a wallet stream, entry id, fields) -> the rows to write
EventHandler = Callable[[int | None, str, dict[str, str]], Awaitable[list[Row]]]


def draw_row(activity_id: int, entry_id: str, fields: dict[str, str]) -> DrawRow:
    left_today, left_total = int(fields["left_today"]), int(fields["left_total"])
    return DrawRow(
        draw_id=fields["draw_id"],
        kind=fields.get("kind", "draw"),
        activity_id=activity_id,
        user_id=fields["user_id"],
        prize_id=int(fields["prize_id"]),
        picked_prize_id=int(fields["picked_prize_id"]),
        rand=int(fields["rand"]),
        day=fields["day"],
        drawn_at_ms=int(fields["drawn_at_ms"]),
        idempotency_key=fields["idempotency_key"],
        fingerprint=fields["fingerprint"],
        left_today=None if left_today < 0 else left_today,
        left_total=None if left_total < 0 else left_total,
        stream_id=entry_id,
        channel=fields.get("channel"),
        source=fields.get("source"),
        variant=fields.get("variant"),
    )


def points_row(entry_id: str, fields: dict[str, str]) -> PointsRow:
    activity_id = int(fields["activity_id"])
    return PointsRow(
        ref=fields["ref"],
        user_id=fields["user_id"],
        shard=wallet_shard(fields["user_id"]),
        delta=int(fields["delta"]),
        balance_after=int(fields["balance"]),
        reason=fields["reason"],
        activity_id=activity_id or None,
        at_ms=int(fields["at_ms"]),
        stream_id=entry_id,
    )


async def _draw_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    """A draw, a draw paid with a chance (which also spends the chance), or a grant. The row is
    built as a dict directly (the writer's hot path), with the columns of `DrawRow`."""
    if activity_id is None:
        raise ValueError(f"draw event {entry_id} outside an activity stream")
    left_today, left_total = int(fields["left_today"]), int(fields["left_total"])
    kind = fields.get("kind", "draw")
    drawn_at_ms = int(fields["drawn_at_ms"])
    row: dict[str, Any] = {
        "draw_id": fields["draw_id"],
        "kind": kind,
        "activity_id": activity_id,
        "user_id": fields["user_id"],
        "prize_id": int(fields["prize_id"]),
        "picked_prize_id": int(fields["picked_prize_id"]),
        "rand": int(fields["rand"]),
        "day": fields["day"],
        "drawn_at_ms": drawn_at_ms,
        "idempotency_key": fields["idempotency_key"],
        "fingerprint": fields["fingerprint"],
        "left_today": None if left_today < 0 else left_today,
        "left_total": None if left_total < 0 else left_total,
        "stream_id": entry_id,
        "channel": fields.get("channel"),  # analytics: where the draw came from, its A/B variant
        "source": fields.get("source"),
        "variant": fields.get("variant"),
    }
    rows: list[Row] = [(db.draws, row)]
    if kind == "chance":
        user_id, draw_id = row["user_id"], row["draw_id"]
        rows.append(
            (db.chance_ledger, _chance_row(activity_id, f"use:{draw_id}", user_id, -1, "draw", entry_id, drawn_at_ms))
        )
    return rows


async def _chances_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    if activity_id is None:
        raise ValueError(f"chances event {entry_id} outside an activity stream")
    row = _chance_row(
        activity_id,
        fields["ref"],
        fields["user_id"],
        int(fields["delta"]),
        fields["reason"],
        entry_id,
        int(fields["at_ms"]),
    )
    return [(db.chance_ledger, row)]


def _chance_row(
    activity_id: int, ref: str, user_id: str, delta: int, reason: str, entry_id: str, at_ms: int
) -> dict[str, Any]:
    return {
        "ref": ref,
        "activity_id": activity_id,
        "user_id": user_id,
        "delta": delta,
        "reason": reason,
        "at_ms": at_ms,
        "stream_id": entry_id,
    }


async def _points_rows(_activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    return [(db.points_ledger, msgspec.structs.asdict(points_row(entry_id, fields)))]


KERNEL_HANDLERS: dict[str, EventHandler] = {"draw": _draw_rows, "chances": _chances_rows, "points": _points_rows}
