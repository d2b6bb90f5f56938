"""The invariants checked after a fault: every acknowledged draw looked up in the SQL audit
trail (POST /operator/audit/lookup), no prize granted beyond its stock, SQL equal to Redis."""

from __future__ import annotations

import asyncio
from typing import Any

from loadtests.ledger import Api, DrawLoad, Ledger
from loadtests.stack import Stack


async def check_ledger(api: Api, ledger: Ledger) -> tuple[list[str], list[str]]:
    """(acknowledged draws missing from SQL, draws in SQL more than once)."""
    rows = await api.rows_in_sql(sorted(ledger.acks))
    missing = [draw_id for draw_id, n in rows.items() if n == 0]
    duplicated = [draw_id for draw_id, n in rows.items() if n > 1]
    return missing, duplicated


async def check_counters(api: Api, activity_id: int, ledger: Ledger) -> dict[str, Any]:
    """After the drain: no prize granted beyond its stock (in Redis, in SQL, nor as told to
    members), and SQL equal to Redis for every counter."""
    counters = await api.drained(activity_id)
    wins = ledger.wins()
    assert counters["draws_in_sql"] == counters["draws_total"], counters
    for prize in counters["prizes"]:
        assert prize["granted_in_sql"] == prize["granted"], prize
        if prize["stock"] is not None:
            assert prize["granted_in_sql"] <= prize["stock"], f"over-granted in SQL: {prize}"
            assert prize["granted"] <= prize["stock"], f"over-granted in Redis: {prize}"
            assert prize["stock_left"] == prize["stock"] - prize["granted"], prize
            told = wins.get(prize["prize_id"], 0)
            assert told <= prize["stock"], f"{told} members told they won {prize}"
    return counters


async def recovered(stack: Stack, activity_id: int, seconds: float = 2.0) -> Ledger:
    """A short burst after the fault: the same API process answers draws again."""
    load = DrawLoad(stack, activity_id, clients=8, members=50)
    load.start()
    await asyncio.sleep(seconds)
    ledger = await load.stop()
    assert ledger.answers["201"] > 0, f"no draw succeeded after the fault: {dict(ledger.answers)}"
    assert not ledger.server_errors, ledger.server_errors[:5]
    return ledger


def summary(name: str, ledger: Ledger, **figures: Any) -> str:
    extra = ", ".join(f"{k}={v}" for k, v in figures.items())
    return f"[{name}] acknowledged {len(ledger.acks)}; answers {dict(ledger.answers.most_common(8))}; {extra}"
