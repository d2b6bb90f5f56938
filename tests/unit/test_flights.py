"""activities/flights.py: one call per key at a time, its answer shared."""

from __future__ import annotations

import asyncio

from activities.flights import SingleFlight


async def test_callers_of_one_key_share_one_call_and_other_keys_run_their_own() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls: list[str] = []
    gate = asyncio.Event()

    async def load(key: str) -> int:
        calls.append(key)
        await gate.wait()
        return len(calls)

    def caller(key: str) -> asyncio.Future[int]:
        return asyncio.ensure_future(flights.run(key, lambda: load(key)))

    waiting = [caller(k) for k in ("a", "a", "b", "a")]
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*waiting)
    assert sorted(calls) == ["a", "b"]
    assert answers[0] == answers[1] == answers[3]
    assert await flights.run("a", lambda: load("a")) == 3  # done: a new call


async def test_a_caller_going_away_does_not_cancel_the_call_of_the_others() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    gate = asyncio.Event()

    async def load() -> str:
        await gate.wait()
        return "ok"

    first = asyncio.ensure_future(flights.run("m", load))
    second = asyncio.ensure_future(flights.run("m", load))
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == "ok"
