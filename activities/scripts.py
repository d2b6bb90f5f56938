"""Lua scripts kept as `.lua` files beside the store that calls them, and a batcher that sends
the script calls of one event-loop tick to Redis in a single pipeline (and the calls of a
groupable script with the same KEYS in one EVALSHA).

Only `store.py` modules use these (they are the only code that talks to Redis).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from activities.errors import OutcomeUnknown
from activities.metrics import REDIS_LATENCY, SCRIPT_GROUP

Arg = str | int


def fold(prelude: str) -> str:
    """A Lua prelude on one line (its comment lines and blank lines dropped), so that prepending
    it to a script's first line leaves the script's line numbers as written."""
    code = [line.strip() for line in prelude.splitlines()]
    return " ".join(line for line in code if line and not line.startswith("--"))


# The status and window check shared by every gameplay's state-changing script (window.lua).
WINDOW = fold((Path(__file__).parent / "window.lua").read_text())


class LuaScript:
    """A script file. `group_size` > 0: the script takes its ARGV in groups of that many, one per
    call, runs them in order and answers a list with one reply per group (lottery/draw.lua), so
    the batcher may send the calls with the same KEYS as one EVALSHA."""

    def __init__(self, path: Path, prelude: str = "", *, group_size: int = 0) -> None:
        self.path = path
        self.group_size = group_size
        text = path.read_text()
        self.source = f"{prelude} {text}" if prelude else text
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    async def __call__(self, redis: aioredis.Redis, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # Redis restarted or was flushed: the script did not run, so sending it is safe.
            return await redis.eval(self.source, len(keys), *keys, *args)


def script_beside(module_file: str, name: str, *, prelude: str = "", group_size: int = 0) -> LuaScript:
    """The script `name` in the folder of `module_file`, after `prelude` (e.g. `WINDOW`) if any."""
    return LuaScript(Path(module_file).parent / name, prelude, group_size=group_size)


Pending = tuple[LuaScript, Sequence[str], Sequence[Arg], asyncio.Future[Any]]


@dataclass
class _Command:
    """One EVALSHA of a flush: a call, or the grouped calls of a groupable script (same KEYS)."""

    script: LuaScript
    keys: Sequence[str]
    args: list[Arg]
    futures: list[asyncio.Future[Any]]

    def settle(self, result: Any) -> None:
        if not isinstance(result, Exception) and self.script.group_size:
            if isinstance(result, list) and len(result) == len(self.futures):
                for future, reply in zip(self.futures, result, strict=True):
                    if not future.done():  # done: the caller went away (client disconnected)
                        future.set_result(reply)
                return
            result = RuntimeError(f"{self.script.path.name}: {len(self.futures)} calls, reply {result!r}")
        for future in self.futures:
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)  # a script error: every call of its group
            else:
                future.set_result(result)


def group_calls(batch: list[Pending], max_group: int) -> list[_Command]:
    """The EVALSHAs of a flush, in order of their first call: the calls of a groupable script with
    the same KEYS share one (up to `max_group` calls; same KEYS, same cluster slot)."""
    commands: list[_Command] = []
    open_groups: dict[tuple[str, tuple[str, ...]], _Command] = {}
    for script, keys, args, future in batch:
        if script.group_size and max_group > 1:
            key = (script.sha, tuple(keys))
            command = open_groups.get(key)
            if command is not None and len(command.futures) < max_group:
                command.args.extend(args)
                command.futures.append(future)
                continue
            command = open_groups[key] = _Command(script, keys, list(args), [future])
        else:
            command = _Command(script, keys, list(args), [future])
        commands.append(command)
    return commands


class ScriptBatcher:
    """Coalesces concurrent script calls into one pipeline per event-loop tick.

    Under load many requests are ready in the same tick; one round trip for all of them saves a
    syscall pair and a Redis read/write per request (1.2x to 1.4x more draws/s on 2 cores,
    measured by `make bench`).
    Each call still runs as its own atomic script; the pipeline is not a transaction.

    The calls of a groupable script (`LuaScript.group_size`, the draw) with the same KEYS go as
    one EVALSHA of up to `max_group` calls, which does the per-activity work once
    (`group`: PROMO_BATCH; off: each call its own EVALSHA in the pipeline).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        max_batch: int = 256,
        *,
        enabled: bool = True,
        group: bool = True,
        max_group: int = 32,
    ) -> None:
        self.redis = redis
        self.max_batch = max_batch
        self.enabled = enabled  # off: one round trip per call (the benchmark's baseline)
        self.max_group = max_group if group else 1
        self._pending: list[Pending] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """Run a script (every script changes state). A lost connection or a timeout means it
        may or may not have run: OutcomeUnknown, never a blind retry."""
        try:
            return await self._call(script, keys, args)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise OutcomeUnknown(str(exc)) from exc

    async def _call(self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        if not self.enabled:
            started = perf_counter()
            try:
                result = await script(self.redis, keys, args)
            finally:
                REDIS_LATENCY.observe(perf_counter() - started)
            return result[0] if script.group_size else result
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((script, keys, args, future))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.ensure_future(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[Pending]) -> None:
        commands = group_calls(batch, self.max_group)
        try:
            pipe = self.redis.pipeline(transaction=False)
            for command in commands:
                if command.script.group_size:
                    SCRIPT_GROUP.observe(len(command.futures))
                # execute_command, not evalsha(): a cluster pipeline refuses evalsha() but routes
                # EVALSHA by its keys (one slot per script: activities/keys.py).
                keys = command.keys
                pipe.execute_command("EVALSHA", command.script.sha, len(keys), *keys, *command.args)
            started = perf_counter()
            results = await pipe.execute(raise_on_error=False)
            REDIS_LATENCY.observe(perf_counter() - started)
            for index, result in enumerate(results):
                if isinstance(result, NoScriptError):
                    command = commands[index]
                    try:
                        results[index] = await command.script(self.redis, command.keys, command.args)
                    except Exception as exc:
                        results[index] = exc
        except BaseException as exc:  # the outcome of every call in the batch is unknown
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for command, result in zip(commands, results, strict=True):
            command.settle(result)
