"""The outbox rows of a grant, written by the audit writer in the transaction that writes the
grant itself (`AuditWriter(producers=...)`), derived from the rows of the grant about to be
written: a fulfilment record when the prize needs the outside world, and the webhook events
(`fulfilment.requested`, `prize.won`). Both have unique keys (the grant id, the event id), so a
second delivery of the stream entry adds nothing.

Grants: a lottery's `draws` rows (draws, draws paid with a chance, prizes granted by a sign-in
reward) and sign-in coupon rewards (`checkin_rewards` of type coupon). A goods prize's
`fulfilment.requested` waits for the member's address (`PUT /me/prizes/{grant}/address`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.audit_rows import Row
from checkin.db import checkin_rewards
from lottery import db as lottery_db
from outbound.db import fulfilments, webhook_endpoints, webhook_events
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
        "data": msgspec.json.encode(data).decode() if data is not None else None,
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


@dataclass(frozen=True)
class Grant:
    grant_id: str
    activity_id: int
    user_id: str
    prize_id: int  # 0: not a lottery prize (a sign-in coupon reward)
    prize: PrizeInfo
    at_ms: int


class GrantProducer:
    def __init__(self, engine: AsyncEngine, config: OutboundConfig, refresh_s: float = 5.0) -> None:
        self.engine = engine
        self.config = config
        self.refresh_s = refresh_s
        self._prizes: dict[int, PrizeInfo] = {}  # a prize's type and name never change
        self._subscribed: frozenset[str] = frozenset()
        self._subscribed_at = -1e9

    async def __call__(
        self, activity_id: int | None, entry_id: str, fields: dict[str, str], rows: list[Row]
    ) -> list[Row]:
        out: list[Row] = []
        if time.monotonic() - self._subscribed_at >= self.refresh_s and any(
            table is lottery_db.draws or table is checkin_rewards for table, _ in rows
        ):
            await self._refresh_subscriptions()
        for table, row in rows:
            if table is lottery_db.draws:
                prize = self._prizes.get(row["prize_id"]) or await self._load(row["prize_id"])
                if prize is not None and prize.type != "thanks":
                    grant = Grant(
                        row["draw_id"], row["activity_id"], row["user_id"], row["prize_id"], prize, row["drawn_at_ms"]
                    )
                    out += self.rows(grant)
            elif table is checkin_rewards and row["type"] == "coupon":
                coupon = PrizeInfo(type="coupon", name=str(row["coupon"]), value_cny="0.00")
                out += self.rows(Grant(row["ref"], row["activity_id"], row["user_id"], 0, coupon, row["at_ms"]))
        return out

    def rows(self, grant: Grant) -> list[Row]:
        data = prize_data(grant.grant_id, grant.activity_id, grant.user_id, grant.prize_id, grant.prize, grant.at_ms)

        def event(event_id: str, type_: str) -> dict[str, Any]:
            return event_row(
                event_id,
                type_,
                ref=grant.grant_id,
                at_ms=grant.at_ms,
                user_id=grant.user_id,
                activity_id=grant.activity_id,
                data=data,
            )

        # A notification nobody subscribes to would be dropped: not written at all (the writer's
        # hot path). Fulfilment rows always are: the member's prize list, a CRM endpoint added later.
        rows: list[Row] = []
        if "prize.won" in self._subscribed:
            rows.append((webhook_events, event(f"msg_won_{grant.grant_id}", "prize.won")))
        if grant.prize.type not in self.config.external_types:
            return rows
        record = {
            "grant_id": grant.grant_id,
            "activity_id": grant.activity_id,
            "user_id": grant.user_id,
            "prize_id": grant.prize_id,
            "prize_type": grant.prize.type,
            "prize_name": grant.prize.name,
            "status": "pending",
            "code": None,
            "address": None,
            "address_version": 0,
            "won_at_ms": grant.at_ms,
            "updated_at_ms": grant.at_ms,
        }
        rows.append((fulfilments, record))
        if grant.prize.type != "goods":  # goods: once the member has given an address
            rows.append((webhook_events, event(f"msg_ful_{grant.grant_id}", "fulfilment.requested")))
        return rows

    async def _refresh_subscriptions(self) -> None:
        """The event types some enabled endpoint subscribes to (every `refresh_s`)."""
        t = webhook_endpoints
        async with self.engine.connect() as conn:
            found = (await conn.execute(sa.select(t.c.event_types).where(t.c.enabled == sa.true()))).all()
        self._subscribed = frozenset(type_ for (types,) in found for type_ in types)
        self._subscribed_at = time.monotonic()

    async def _load(self, prize_id: int) -> PrizeInfo | None:
        query = sa.select(lottery_db.prizes.c.type, lottery_db.prizes.c.name, lottery_db.prizes.c.value_cny).where(
            lottery_db.prizes.c.id == prize_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        info = PrizeInfo(type=str(row.type), name=str(row.name), value_cny=f"{row.value_cny:.2f}")
        self._prizes[prize_id] = info
        return info
