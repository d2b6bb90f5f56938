"""Stream entries -> SQL rows: the kernel's handler (points) of the audit writer
(`activities.audit`); gameplays register theirs for their own event types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import sqlalchemy as sa

from activities import db
from activities.keys import wallet_shard
from activities.repository import PointsRow

Row = tuple[sa.Table, dict[str, Any]]
# (activity id of the stream or None for a wallet stream, entry id, fields) -> the rows to write
EventHandler = Callable[[int | None, str, dict[str, str]], Awaitable[list[Row]]]


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


async def _points_rows(_activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    return [(db.points_ledger, msgspec.structs.asdict(points_row(entry_id, fields)))]


KERNEL_HANDLERS: dict[str, EventHandler] = {"points": _points_rows}
