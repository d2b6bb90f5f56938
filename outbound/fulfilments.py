"""Fulfilment records: members' prize lists and delivery addresses; the CRM's confirmation
(issued, with its code); cancellation; operators' masked views and the logged reveal."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import db
from activities.clock import Clock, from_ms
from activities.errors import Kind, PromoError, conflict
from activities.pages import Page, cut, decode_cursor
from lottery import db as lottery_db
from outbound.crypto import Sealer, mask
from outbound.db import fulfilments, webhook_deliveries, webhook_events
from outbound.model import EDITABLE, Address, FulfilmentView, MyPrize, PrizeRef, iso_utc
from outbound.producer import PrizeInfo, event_row, prize_data

log = logging.getLogger("promo.outbound")

STATUS_FILTER = ("pending", "delivered", "issued", "failed", "cancelled")


def _not_found() -> PromoError:
    return PromoError(Kind.NOT_FOUND, "prize_grant_not_found", "no such prize of yours")


def _insert_event(conn: AsyncConnection, row: dict[str, Any]) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(webhook_events).values(row).on_conflict_do_nothing()


class Fulfilments:
    def __init__(self, engine: AsyncEngine, sealer: Sealer, clock: Clock) -> None:
        self.engine = engine
        self.sealer = sealer
        self.clock = clock

    def _query(self) -> sa.Select[Any]:
        f = fulfilments
        return sa.select(f, db.activities.c.timezone, lottery_db.prizes.c.value_cny).select_from(
            f.join(db.activities, db.activities.c.id == f.c.activity_id).outerjoin(
                lottery_db.prizes, lottery_db.prizes.c.id == f.c.prize_id
            )
        )

    async def find(self, grant_id: str) -> Any:
        async with self.engine.connect() as conn:
            row = (await conn.execute(self._query().where(fulfilments.c.grant_id == grant_id))).first()
        if row is None:
            raise PromoError(Kind.NOT_FOUND, "prize_grant_not_found", "no such fulfilment")
        return row

    async def find_mine(self, user_id: str, grant_id: str) -> Any:
        async with self.engine.connect() as conn:
            row = (await conn.execute(self._query().where(fulfilments.c.grant_id == grant_id))).first()
        if row is None or row.user_id != user_id:
            raise _not_found()
        return row

    async def mine(self, user_id: str, limit: int, cursor: str | None) -> Page[MyPrize]:
        """The member's prizes that need the outside world, newest first (a page)."""
        f = fulfilments
        after = decode_cursor(cursor, (int,))
        query = self._query().where(f.c.user_id == user_id).order_by(f.c.id.desc()).limit(limit + 1)
        if after is not None:
            query = query.where(f.c.id < after[0])
        async with self.engine.connect() as conn:
            rows = list((await conn.execute(query)).all())
        kept, next_cursor = cut(rows, limit, lambda row: (row.id,))
        return Page(items=[self._mine(row) for row in kept], next_cursor=next_cursor)

    def _mine(self, row: Any) -> MyPrize:
        goods = row.prize_type == "goods"
        return MyPrize(
            grant_id=row.grant_id,
            activity_id=row.activity_id,
            prize=PrizeRef(id=row.prize_id, name=row.prize_name, type=row.prize_type),
            status=row.status,
            won_at=from_ms(row.won_at_ms, ZoneInfo(row.timezone)).isoformat(timespec="milliseconds"),
            code=row.code if row.status == "issued" else None,
            address_required=goods and row.address is None and row.status in EDITABLE,
            address_editable=goods and row.status in EDITABLE,
            address=self.sealer.open_address(row.address) if row.address else None,
        )

    async def set_address(self, user_id: str, grant_id: str, address: Address) -> MyPrize:
        """Give or change the delivery address of a goods prize, until it is shipped (issued). The
        first one makes the `fulfilment.requested` event; a change, `fulfilment.address_changed`."""
        f = fulfilments
        now_ms = self.clock.now_ms()
        async with self.engine.begin() as conn:
            row = (await conn.execute(self._query().where(f.c.grant_id == grant_id))).first()
            if row is None or row.user_id != user_id:
                raise _not_found()
            if row.prize_type != "goods":
                raise conflict("address_not_needed", "only goods prizes are shipped to an address")
            if row.status not in EDITABLE:
                raise conflict("address_locked", f"the prize is {row.status}: its address can no longer change")
            version = row.address_version + 1
            update = (
                sa.update(f)
                .where(f.c.grant_id == grant_id, f.c.address_version == row.address_version)
                .values(address=self.sealer.seal_address(address), address_version=version, updated_at_ms=now_ms)
            )
            if (await conn.execute(update)).rowcount != 1:
                raise conflict("address_changed_meanwhile", "the address changed meanwhile; read it and try again")
            value = f"{row.value_cny:.2f}" if row.value_cny is not None else "0.00"
            info = PrizeInfo(type=row.prize_type, name=row.prize_name, value_cny=value)
            data = prize_data(grant_id, row.activity_id, user_id, row.prize_id, info, row.won_at_ms)
            first = version == 1
            event = event_row(
                f"msg_ful_{grant_id}" if first else f"msg_adr_{grant_id}_{version}",
                "fulfilment.requested" if first else "fulfilment.address_changed",
                ref=grant_id,
                at_ms=now_ms,
                user_id=user_id,
                activity_id=row.activity_id,
                data=data,
            )
            await conn.execute(_insert_event(conn, event))
            row = (await conn.execute(self._query().where(f.c.grant_id == grant_id))).one()
        return self._mine(row)

    async def list(self, status: str | None, limit: int, cursor: str | None) -> Page[FulfilmentView]:
        """Operators' list, newest first; addresses masked."""
        f = fulfilments
        after = decode_cursor(cursor, (int,))
        query = self._query().order_by(f.c.id.desc()).limit(limit + 1)
        if status is not None:
            query = query.where(f.c.status == status)
        if after is not None:
            query = query.where(f.c.id < after[0])
        async with self.engine.connect() as conn:
            rows = list((await conn.execute(query)).all())
        kept, next_cursor = cut(rows, limit, lambda row: (row.id,))
        return Page(items=[self._view(row, reveal=False) for row in kept], next_cursor=next_cursor)

    def _view(self, row: Any, reveal: bool) -> FulfilmentView:
        address = self.sealer.open_address(row.address) if row.address else None
        return FulfilmentView(
            grant_id=row.grant_id,
            activity_id=row.activity_id,
            user_id=row.user_id,
            prize=PrizeRef(id=row.prize_id, name=row.prize_name, type=row.prize_type),
            status=row.status,
            won_at=iso_utc(row.won_at_ms),
            code=row.code,
            address=address if reveal or address is None else mask(address),
        )

    async def reveal(self, grant_id: str, operator_id: str) -> FulfilmentView:
        """The address in full, for an operator: logged (operator_actions and the log)."""
        f = fulfilments
        now_ms = self.clock.now_ms()
        async with self.engine.begin() as conn:
            row = (await conn.execute(self._query().where(f.c.grant_id == grant_id))).first()
            if row is None:
                raise PromoError(Kind.NOT_FOUND, "prize_grant_not_found", "no such fulfilment")
            action = {
                "activity_id": row.activity_id,
                "operator_id": operator_id,
                "action": "reveal_address",
                "detail": {"grant_id": grant_id, "user_id": row.user_id},
                "at_ms": now_ms,
            }
            await conn.execute(sa.insert(db.operator_actions).values(action))
        log.warning("operator %s revealed the address of grant %s", operator_id, grant_id)
        return self._view(row, reveal=True)

    async def issue(self, grant_id: str, code: str) -> FulfilmentView:
        """The CRM's confirmation (coupon code, order number). Again with the same code: the same
        answer; with another code once issued: 409."""
        return await self._move(grant_id, "issued", code)

    async def cancel(self, grant_id: str, operator_id: str) -> FulfilmentView:
        """Cancel a fulfilment not issued yet: its deliveries still pending stop; the CRM gets
        `fulfilment.cancelled` if it was told already."""
        view = await self._move(grant_id, "cancelled", None)
        log.info("operator %s cancelled the fulfilment of grant %s", operator_id, grant_id)
        return view

    async def _move(self, grant_id: str, status: str, code: str | None) -> FulfilmentView:
        f, d, e = fulfilments, webhook_deliveries, webhook_events
        now_ms = self.clock.now_ms()
        async with self.engine.begin() as conn:
            row = (await conn.execute(self._query().where(f.c.grant_id == grant_id))).first()
            if row is None:
                raise PromoError(Kind.NOT_FOUND, "prize_grant_not_found", "no such fulfilment")
            if row.status == status and (code is None or row.code == code):
                return self._view(row, reveal=False)
            if row.status in ("issued", "cancelled"):
                raise conflict("fulfilment_closed", f"the fulfilment is already {row.status}", status=row.status)
            move = sa.update(f).where(f.c.id == row.id).values(status=status, code=code, updated_at_ms=now_ms)
            await conn.execute(move)
            if status == "cancelled":
                events = sa.select(e.c.id).where(e.c.ref == grant_id, e.c.type.like("fulfilment.%"))
                await conn.execute(
                    sa.update(d)
                    .where(d.c.event_row.in_(events.scalar_subquery()), d.c.status == "pending")
                    .values(status="cancelled", updated_at_ms=now_ms)
                )
                await conn.execute(
                    sa.update(e)
                    .where(e.c.ref == grant_id, e.c.state == "new", e.c.type.like("fulfilment.%"))
                    .values(state="cancelled")
                )
                if row.status != "pending":  # the CRM heard of it: tell it
                    value = f"{row.value_cny:.2f}" if row.value_cny is not None else "0.00"
                    info = PrizeInfo(type=row.prize_type, name=row.prize_name, value_cny=value)
                    data = prize_data(grant_id, row.activity_id, row.user_id, row.prize_id, info, row.won_at_ms)
                    cancelled = event_row(
                        f"msg_cxl_{grant_id}",
                        "fulfilment.cancelled",
                        ref=grant_id,
                        at_ms=now_ms,
                        user_id=row.user_id,
                        activity_id=row.activity_id,
                        data=data,
                    )
                    await conn.execute(_insert_event(conn, cancelled))
            row = (await conn.execute(self._query().where(f.c.grant_id == grant_id))).one()
        return self._view(row, reveal=False)
