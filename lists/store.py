"""The only Redis caller of lists/: a set per list (activities/keys.py `ListKeys`), filled in a
staging set and renamed into place, its membership checked with one SMISMEMBER per list, and a
lock per list for the one process that changes or rebuilds it."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from activities.keys import LOADED, ListKeys
from activities.scripts import script_beside

_swap = script_beside(__file__, "swap.lua")
_append = script_beside(__file__, "append.lua")
_unlock = script_beside(__file__, "unlock.lua")

LOCK_TTL_MS = 300_000  # an upload of a million members takes seconds; a dead holder's lock expires
STAGING_TTL_S = 3600  # a staging set whose filler died disappears


class ListStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def membership(self, list_ids: Sequence[int], member_id: str) -> list[tuple[bool, bool]]:
        """For each list: (loaded, the member is in it), in one round trip."""
        if len(list_ids) == 1:
            replies = [await self.redis.smismember(ListKeys(list_ids[0]).members, [LOADED, member_id])]
        else:
            async with self.redis.pipeline(transaction=False) as pipe:
                for list_id in list_ids:
                    pipe.smismember(ListKeys(list_id).members, [LOADED, member_id])
                replies = await pipe.execute()
        return [(bool(int(loaded)), bool(int(member))) for loaded, member in replies]

    async def loaded(self, list_id: int) -> bool:
        return bool(await self.redis.sismember(ListKeys(list_id).members, LOADED))

    async def lock(self, list_id: int) -> str | None:
        """The lock's token, or None if another process holds it."""
        token = secrets.token_hex(8)
        taken = await self.redis.set(ListKeys(list_id).lock, token, nx=True, px=LOCK_TTL_MS)
        return token if taken else None

    async def unlock(self, list_id: int, token: str) -> None:
        with contextlib.suppress(RedisError):  # unreachable: the lock expires by itself
            await _unlock(self.redis, [ListKeys(list_id).lock], [token])

    def staging(self, list_id: int) -> str:
        return ListKeys(list_id).staging(secrets.token_hex(8))

    async def stage(self, staging: str, members: Sequence[str]) -> None:
        """Add members to a staging set (it expires unless swapped in)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(staging, *members)
            pipe.expire(staging, STAGING_TTL_S)
            await pipe.execute()

    async def swap(self, list_id: int, staging: str) -> None:
        """The staging set becomes the list's live set, marked loaded."""
        await _swap(self.redis, [staging, ListKeys(list_id).members], [LOADED])

    async def append(self, list_id: int, members: Sequence[str]) -> bool:
        """Add members to the live set if it is loaded; False if it is not (rebuilt when checked)."""
        return int(await _append(self.redis, [ListKeys(list_id).members], [LOADED, *members])) >= 0

    async def drop(self, list_id: int, staging: str | None = None) -> None:
        """Delete the live set (and a staging set): the next check rebuilds it from SQL."""
        await self.redis.delete(ListKeys(list_id).members, *([staging] if staging else []))

    async def discard(self, staging: str) -> None:
        with contextlib.suppress(RedisError):  # it expires by itself
            await self.redis.delete(staging)
