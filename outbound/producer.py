"""The outbox rows of a grant, written by the audit writer in the transaction that writes the
grant itself (`AuditWriter(producers=...)`): a fulfilment record when the prize needs the outside
world, and the webhook events (`fulfilment.requested`, `prize.won`). Both have unique keys (the
grant id, the event id), so a second delivery of the stream entry adds nothing.

A goods prize's `fulfilment.requested` waits for the member's address (`PUT /me/prizes/{grant}/address`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities import db
from activities.audit_rows import Row
from outbound.db import fulfilments, webhook_events
from outbound.model import OutboundConfig, iso_utc


@dataclass(frozen=True)
class PrizeInfo:
    type: str
    name: str
    value_cny: str


def event_row(
    event_id: str,
    type_: str,
    *,
    ref: str,
    at_ms: int,
    user_id: str | None = None,
    activity_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A webhook_events row (every row of the table with the same keys: the writer's executemany)."""
    return {
        "event_id": event_id,
        "type": type_,
        "user_id": user_id,
        "activity_id": activity_id,
        "ref": ref,
        "data": data,
        "state": "new",
        "created_at_ms": at_ms,
        "not_before_ms": at_ms,
        "lease_until_ms": 0,
        "lease_owner": "",
    }


def prize_data(grant_id: str, activity_id: int, user_id: str, prize_id: int, prize: PrizeInfo, at_ms: int) -> Any:
    return {
        "grant_id": grant_id,
        "activity_id": activity_id,
        "member": user_id,
        "prize": {"id": prize_id, "name": prize.name, "type": prize.type, "value_cny": prize.value_cny},
        "won_at": iso_utc(at_ms),
    }


class GrantProducer:
    """Turns draw events (draws, draws paid with a chance, grants of a sign-in reward) into outbox rows."""

    def __init__(self, engine: AsyncEngine, config: OutboundConfig) -> None:
        self.engine = engine
        self.config = config
        self._prizes: dict[int, PrizeInfo] = {}  # a prize's type and name never change

    async def __call__(self, activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
        if fields.get("type") != "draw" or activity_id is None:
            return []
        prize_id = int(fields["prize_id"])
        prize = self._prizes.get(prize_id) or await self._load(prize_id)
        if prize is None or prize.type == "thanks":
            return []
        grant_id, user_id, at_ms = fields["draw_id"], fields["user_id"], int(fields["drawn_at_ms"])
        data = prize_data(grant_id, activity_id, user_id, prize_id, prize, at_ms)
        rows: list[Row] = [
            (
                webhook_events,
                event_row(
                    f"msg_won_{grant_id}",
                    "prize.won",
                    ref=grant_id,
                    at_ms=at_ms,
                    user_id=user_id,
                    activity_id=activity_id,
                    data=data,
                ),
            )
        ]
        if prize.type not in self.config.external_types:
            return rows
        rows.append(
            (
                fulfilments,
                {
                    "grant_id": grant_id,
                    "activity_id": activity_id,
                    "user_id": user_id,
                    "prize_id": prize_id,
                    "prize_type": prize.type,
                    "prize_name": prize.name,
                    "status": "pending",
                    "code": None,
                    "address": None,
                    "address_version": 0,
                    "won_at_ms": at_ms,
                    "updated_at_ms": at_ms,
                },
            )
        )
        if prize.type != "goods":  # goods: once the member has given an address
            event = event_row(
                f"msg_ful_{grant_id}",
                "fulfilment.requested",
                ref=grant_id,
                at_ms=at_ms,
                user_id=user_id,
                activity_id=activity_id,
                data=data,
            )
            rows.append((webhook_events, event))
        return rows

    async def _load(self, prize_id: int) -> PrizeInfo | None:
        query = sa.select(db.prizes.c.type, db.prizes.c.name, db.prizes.c.value_cny).where(db.prizes.c.id == prize_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        info = PrizeInfo(type=str(row.type), name=str(row.name), value_cny=f"{row.value_cny:.2f}")
        self._prizes[prize_id] = info
        return info
