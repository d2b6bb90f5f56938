"""How the batcher groups a tick's script calls (activities/scripts.py group_calls): the calls of
a groupable script with the same KEYS share one EVALSHA, up to the cap, in the order of their
first call; other scripts and other KEYS keep their own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from activities.scripts import LuaScript, Pending, group_calls


def _script(tmp_path: Path, name: str, group_size: int) -> LuaScript:
    path = tmp_path / name
    path.write_text(f"return '{name}'")
    return LuaScript(path, group_size=group_size)


async def test_calls_with_the_same_script_and_keys_share_an_evalsha(tmp_path: Path) -> None:
    draw, other = _script(tmp_path, "draw.lua", 2), _script(tmp_path, "other.lua", 0)
    loop = asyncio.get_running_loop()
    batch: list[Pending] = []
    for script, keys, args in [
        (draw, ["a"], [1, 2]),
        (other, ["a"], [9]),
        (draw, ["b"], [3, 4]),
        (draw, ["a"], [5, 6]),
        (other, ["a"], [8]),
        (draw, ["a"], [7, 8]),
    ]:
        batch.append((script, keys, args, loop.create_future()))
    commands = group_calls(batch, max_group=2)
    assert [(c.script.path.name, list(c.keys), c.args) for c in commands] == [
        ("draw.lua", ["a"], [1, 2, 5, 6]),
        ("other.lua", ["a"], [9]),
        ("draw.lua", ["b"], [3, 4]),
        ("other.lua", ["a"], [8]),
        ("draw.lua", ["a"], [7, 8]),  # the first group of ["a"] is full
    ]
    commands[0].settle(["r1", "r4"])
    assert (batch[0][3].result(), batch[3][3].result()) == ("r1", "r4")
    commands[2].settle(ValueError("boom"))
    assert isinstance(batch[2][3].exception(), ValueError)
    commands[4].settle(["too", "many"])  # a reply that does not fit: an error, never a wrong answer
    assert isinstance(batch[5][3].exception(), RuntimeError)


async def test_no_grouping_when_batching_is_off(tmp_path: Path) -> None:
    draw = _script(tmp_path, "draw.lua", 2)
    loop = asyncio.get_running_loop()
    batch: list[Pending] = [(draw, ["a"], [n, n], loop.create_future()) for n in range(3)]
    assert [c.args for c in group_calls(batch, max_group=1)] == [[0, 0], [1, 1], [2, 2]]
