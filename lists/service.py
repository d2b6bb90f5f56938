"""Audience lists: upload, replace, append, delete (SQL in one transaction, then the Redis set),
and what the kernel asks of them (`activities.service.ListMembership`): whether an activity's
lists exist, whether a member qualifies. A list's Redis set is rebuilt from SQL when missing
(one process at a time: the list's lock), like every other live state."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec
import sqlalchemy as sa
from redis.exceptions import RedisError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import db
from activities.clock import Clock
from activities.errors import Kind, PromoError, conflict, invalid, not_found
from activities.metrics import REBUILDS
from activities.model import Audience, AudienceLists
from activities.pages import Page, cut, decode_cursor
from lists.db import audience_list_members, audience_lists
from lists.model import MAX_MEMBERS, ListKind, ListView, MembershipView
from lists.store import ListStore
from lists.upload import Members

log = logging.getLogger("promo.lists")

LOAD_WAIT_S = 3.0  # how long a member's request waits for a list's rebuild before a 503
_POLL_S = 0.05
# An activity's audience lists must exist while it can still be published or played.
_USING = ("draft", "live", "paused")


def _busy(list_id: int) -> PromoError:
    return conflict("list_busy", f"list {list_id} is being changed; retry shortly", list_id=list_id)


def _loading() -> PromoError:
    return PromoError(
        Kind.UNAVAILABLE, "audience_list_loading", "an audience list is loading; retry shortly", retry_after_s=1
    )


class ListService:
    def __init__(self, engine: AsyncEngine, store: ListStore, clock: Clock) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self._rebuilds: dict[int, asyncio.Future[None]] = {}

    # --- reading -----------------------------------------------------------------------------

    async def get(self, list_id: int) -> ListView:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(audience_lists).where(audience_lists.c.id == list_id))).first()
        if row is None:
            raise not_found("list_not_found", f"no audience list {list_id}")
        return _view(row._mapping)

    async def page(self, limit: int, cursor: str | None = None) -> Page[ListView]:
        """Lists, newest first, a page at a time."""
        after = decode_cursor(cursor, (int,))
        query = sa.select(audience_lists).order_by(audience_lists.c.id.desc()).limit(limit + 1)
        if after is not None:
            query = query.where(audience_lists.c.id < int(after[0]))
        async with self.engine.connect() as conn:
            rows = [_view(row._mapping) for row in await conn.execute(query)]
        kept, next_cursor = cut(rows, limit, lambda view: (view.id,))
        return Page(items=kept, next_cursor=next_cursor)

    async def membership(self, list_id: int, member_id: str) -> MembershipView:
        """Whether a member is in a list (from its Redis set, as members' requests see it)."""
        await self.get(list_id)
        [member] = await self._members([list_id], member_id)
        return MembershipView(list_id=list_id, member_id=member_id, member=member)

    # --- operators' changes ------------------------------------------------------------------

    async def create(self, name: str, kind: ListKind, members: Members, operator_id: str) -> ListView:
        """A new list of `members` (checked already): SQL in one transaction, then its Redis set
        (no activity can name the list before it exists: nothing checks it meanwhile)."""
        now_ms = self.clock.now_ms()
        try:
            async with self.engine.begin() as conn:
                row = {"name": name, "kind": kind, "size": 0, "created_by": operator_id}
                inserted = await conn.execute(
                    sa.insert(audience_lists).values(**row, created_at_ms=now_ms, updated_at_ms=now_ms)
                )
                assert inserted.inserted_primary_key is not None
                list_id = int(inserted.inserted_primary_key[0])
                await self._write(conn, list_id, members, now_ms)
            staging = self.store.staging(list_id)
            try:
                await self._stage(staging, members)
                await self._swap(list_id, staging)
            except RedisError as exc:  # SQL has it: the first check rebuilds the set
                log.warning("list %d: its Redis set will be rebuilt from SQL (%s)", list_id, exc)
            finally:
                await self.store.discard(staging)
        finally:
            members.close()
        return await self.get(list_id)

    async def replace(self, list_id: int, members: Members, operator_id: str) -> ListView:
        """The list's members become `members` (the same list id: activities keep using it)."""
        return await self._change(list_id, members, replace=True)

    async def append(self, list_id: int, members: Members, operator_id: str) -> ListView:
        """Add `members` to the list (ids already in it are kept once)."""
        return await self._change(list_id, members, replace=False)

    async def delete(self, list_id: int) -> None:
        """Delete a list no activity that is not over uses (409 `list_in_use` otherwise)."""
        await self.get(list_id)
        if using := await self._activities_using(list_id):
            raise conflict(
                "list_in_use", f"list {list_id} is in the audience of activities {using}", activity_ids=using
            )
        token = await self._lock(list_id)
        try:
            async with self.engine.begin() as conn:
                members = audience_list_members.c.list_id == list_id
                await conn.execute(sa.delete(audience_list_members).where(members))
                await conn.execute(sa.delete(audience_lists).where(audience_lists.c.id == list_id))
            await self.store.drop(list_id)
        finally:
            await self.store.unlock(list_id, token)

    async def _change(self, list_id: int, members: Members, *, replace: bool) -> ListView:
        """Replace or append under the list's lock. A replacement fills a staging set first (no
        SQL lock held meanwhile), writes SQL in one transaction, dropping the live set just before
        the commit (checks in between wait for the new set: the lock is ours), then renames the
        staging set into place: members never see a half-filled list."""
        staging = self.store.staging(list_id) if replace else None
        try:
            await self.get(list_id)
            token = await self._lock(list_id)
            try:
                if staging is not None:
                    await self._stage(staging, members)
                async with self.engine.begin() as conn:
                    now_ms = self.clock.now_ms()
                    if replace:
                        await conn.execute(
                            sa.delete(audience_list_members).where(audience_list_members.c.list_id == list_id)
                        )
                    await self._write(conn, list_id, members, now_ms)
                    if replace:
                        await self.store.drop(list_id)
                if staging is not None:
                    await self._swap(list_id, staging)
                else:
                    await self._append(list_id, members)
            finally:
                await self.store.unlock(list_id, token)
        finally:
            members.close()
            if staging is not None:
                await self.store.discard(staging)
        return await self.get(list_id)

    async def _stage(self, staging: str, members: Members) -> None:
        for batch in members.batches():
            await self.store.stage(staging, batch)

    async def _write(self, conn: AsyncConnection, list_id: int, members: Members, now_ms: int) -> None:
        """Insert the members in batches, then the list's size."""
        insert = _insert_sql(conn.dialect)
        for batch in members.batches():
            await conn.exec_driver_sql(insert, [(list_id, member) for member in batch])
        count = sa.select(sa.func.count()).where(audience_list_members.c.list_id == list_id)
        size = int((await conn.execute(count)).scalar_one())
        if size > MAX_MEMBERS:
            raise invalid("list_too_large", f"a list has at most {MAX_MEMBERS:,} members", max=MAX_MEMBERS, size=size)
        values = {"size": size, "updated_at_ms": now_ms}
        await conn.execute(sa.update(audience_lists).where(audience_lists.c.id == list_id).values(**values))

    async def _swap(self, list_id: int, staging: str) -> None:
        """SQL has committed: put the new set in place. If Redis fails now, the set is missing
        (dropped before the commit, or never made) and the next check rebuilds it from SQL."""
        try:
            await self.store.swap(list_id, staging)
        except RedisError as exc:
            log.warning("list %d: its Redis set will be rebuilt from SQL (%s)", list_id, exc)

    async def _append(self, list_id: int, members: Members) -> None:
        try:
            for batch in members.batches():
                if not await self.store.append(list_id, batch):
                    return  # not loaded: the next check rebuilds it from SQL, new members included
        except RedisError as exc:
            log.warning("list %d: append incomplete in Redis, dropping its set (%s)", list_id, exc)
            try:
                await self.store.drop(list_id)
            except RedisError:
                log.error("list %d: its Redis set may lack members until it is rebuilt", list_id)

    async def _lock(self, list_id: int) -> str:
        token = await self.store.lock(list_id)
        if token is None:
            raise _busy(list_id)
        return token

    async def _activities_using(self, list_id: int) -> list[int]:
        query = sa.select(db.activities.c.id, db.activities.c.audience).where(db.activities.c.status.in_(_USING))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        using = []
        for activity_id, audience in rows:
            lists = msgspec.convert(audience or {}, Audience).lists
            if lists is not None and list_id in (*lists.require, *lists.exclude):
                using.append(int(activity_id))
        return sorted(using)

    # --- the kernel's questions (activities.service.ListMembership) ---------------------------

    async def validate(self, lists: AudienceLists) -> None:
        """422 unless every list exists, `require` names allow lists and `exclude` deny lists."""
        wanted = {*lists.require, *lists.exclude}
        async with self.engine.connect() as conn:
            query = sa.select(audience_lists.c.id, audience_lists.c.kind).where(audience_lists.c.id.in_(wanted))
            kinds = {int(i): str(k) for i, k in await conn.execute(query)}
        for part, kind in (("require", "allow"), ("exclude", "deny")):
            for index, list_id in enumerate(getattr(lists, part)):
                field = f"audience.lists.{part}[{index}]"
                if list_id not in kinds:
                    raise invalid("audience_list_not_found", f"no audience list {list_id}", field=field)
                if kinds[list_id] != kind:
                    message = f"list {list_id} is a {kinds[list_id]} list; `{part}` takes {kind} lists"
                    raise invalid("audience_list_wrong_kind", message, field=field)

    async def check(self, lists: AudienceLists, member_id: str) -> None:
        """403 unless the member is in one of the `require` lists (if any) and in none of the
        `exclude` lists: one round trip to Redis for all of them."""
        ids = [*lists.require, *lists.exclude]
        found = dict(zip(ids, await self._members(ids, member_id), strict=True))
        if lists.require and not any(found[i] for i in lists.require):
            raise PromoError(Kind.FORBIDDEN, "audience_not_in_list", "this activity is for the members of a list")
        if any(found[i] for i in lists.exclude):
            raise PromoError(Kind.FORBIDDEN, "audience_excluded", "this activity is not open to your account")

    async def _members(self, list_ids: list[int], member_id: str) -> list[bool]:
        replies = await self.store.membership(list_ids, member_id)
        missing = [list_id for list_id, (loaded, _) in zip(list_ids, replies, strict=True) if not loaded]
        if not missing:
            return [member for _, member in replies]
        await asyncio.gather(*(self.ensure_loaded(list_id) for list_id in missing))
        replies = await self.store.membership(list_ids, member_id)
        return [member for _, member in replies]  # a deleted list (an ended activity's): no one

    async def ensure_loaded(self, list_id: int) -> None:
        """Rebuild the list's set from SQL if Redis lacks it: one rebuild per list in this
        process, the list's lock across processes; a request waits at most LOAD_WAIT_S."""
        flight = self._rebuilds.get(list_id)
        if flight is None:
            flight = asyncio.ensure_future(self._rebuild(list_id))
            self._rebuilds[list_id] = flight
            flight.add_done_callback(partial(_forget, self._rebuilds, list_id))
        try:
            await asyncio.wait_for(asyncio.shield(flight), timeout=LOAD_WAIT_S)
        except TimeoutError as exc:
            raise _loading() from exc

    async def _rebuild(self, list_id: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOAD_WAIT_S
        while (token := await self.store.lock(list_id)) is None:  # changed or rebuilt elsewhere
            if await self.store.loaded(list_id):
                return
            if loop.time() > deadline:
                raise _loading()
            await asyncio.sleep(_POLL_S)
        staging = self.store.staging(list_id)
        try:
            if await self.store.loaded(list_id):
                return
            async with self.engine.connect() as conn:
                if (await conn.execute(sa.select(audience_lists.c.id).where(audience_lists.c.id == list_id))).first():
                    query = sa.select(audience_list_members.c.member_id).where(
                        audience_list_members.c.list_id == list_id
                    )
                    result = await conn.stream(query.execution_options(yield_per=10_000))
                    async for part in result.partitions(10_000):
                        await self.store.stage(staging, [str(member) for (member,) in part])
                else:
                    return  # deleted: no set (its activities are over)
            await self.store.swap(list_id, staging)
            REBUILDS.labels("lists", "lost").inc()
            log.info("list %d: Redis set rebuilt from SQL", list_id)
        finally:
            await self.store.discard(staging)
            await self.store.unlock(list_id, token)


@functools.cache
def _insert_sql(dialect: Dialect) -> str:
    """INSERT ... ON CONFLICT DO NOTHING of (list_id, member_id), compiled once: a million rows go
    to the driver's executemany as tuples (SQLAlchemy's per-row processing would triple the time)."""
    insert = (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(audience_list_members)
    values: dict[str, Any] = {"list_id": sa.bindparam("list_id"), "member_id": sa.bindparam("member_id")}
    compiled = insert.values(values).on_conflict_do_nothing().compile(dialect=dialect)
    assert compiled.positional and tuple(compiled.positiontup or ()) == ("list_id", "member_id")
    return str(compiled)


def _forget(flights: dict[int, asyncio.Future[None]], list_id: int, flight: asyncio.Future[None]) -> None:
    flights.pop(list_id, None)
    if not flight.cancelled():
        flight.exception()


def _view(row: Any) -> ListView:
    return ListView(
        id=int(row["id"]),
        name=str(row["name"]),
        kind=row["kind"],
        size=int(row["size"]),
        created_by=str(row["created_by"]),
        created_at=datetime.fromtimestamp(int(row["created_at_ms"]) / 1000, UTC),
        updated_at=datetime.fromtimestamp(int(row["updated_at_ms"]) / 1000, UTC),
    )
