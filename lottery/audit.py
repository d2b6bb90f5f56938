"""The lottery's audit handlers: stream entries of its events ("draw": a draw, a draw paid with a
chance, a grant; "chances": a credit of draw chances) -> the rows the audit writer writes
(`DrawService.audit_handlers`)."""

from __future__ import annotations

from typing import Any

from activities.audit_rows import EventHandler, Row
from lottery import db
from lottery.repository import DrawRow


def draw_row(activity_id: int, entry_id: str, fields: dict[str, str]) -> DrawRow:
    left_today, left_total = int(fields.get("left_today", -1)), int(fields.get("left_total", -1))
    return DrawRow(
        draw_id=fields["draw_id"],
        kind=fields.get("kind", "draw"),
        activity_id=activity_id,
        user_id=fields["user_id"],
        prize_id=int(fields["prize_id"]),
        picked_prize_id=int(fields.get("picked_prize_id") or fields["prize_id"]),
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
        pity=fields.get("pity") == "1",
        config_version=int(fields["config_version"]) if "config_version" in fields else None,
        cost_fen=int(fields.get("cost_fen", 0)),
    )


async def _draw_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    """A draw, a draw paid with a chance (which also spends the chance), or a grant. The row is
    built as a dict directly (the writer's hot path), with the columns of `DrawRow`."""
    if activity_id is None:
        raise ValueError(f"draw event {entry_id} outside an activity stream")
    # draw.lua leaves the defaults out (issue 17: a lighter XADD): kind "draw", the prize picked
    # is the prize won, no limit left (-1).
    left_today, left_total = int(fields.get("left_today", -1)), int(fields.get("left_total", -1))
    kind = fields.get("kind", "draw")
    drawn_at_ms = int(fields["drawn_at_ms"])
    row: dict[str, Any] = {
        "draw_id": fields["draw_id"],
        "kind": kind,
        "activity_id": activity_id,
        "user_id": fields["user_id"],
        "prize_id": int(fields["prize_id"]),
        "picked_prize_id": int(fields.get("picked_prize_id") or fields["prize_id"]),
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
        "pity": fields.get("pity") == "1",  # won by the pity rule (lottery/odds.py)
        "config_version": int(fields["config_version"]) if "config_version" in fields else None,  # issue 18
        "cost_fen": int(fields.get("cost_fen", 0)),  # the budget spent (lottery/pacing.py)
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


HANDLERS: dict[str, EventHandler] = {"draw": _draw_rows, "chances": _chances_rows}
