"""The assist's pure rules beyond the bargain cuts (tests/unit/test_bargain.py): an initiative
as Redis keeps it and as SQL rebuilds it agree, the price after each help, what a friend sees,
the rules the schema cannot say, the rows of its events."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import msgspec
import pytest

from activities.errors import PromoError
from activities.model import Activity, Audience
from assist.audit import assist_rows
from assist.bargain import cuts
from assist.db import assist_helps, assist_initiatives, assist_outcomes
from assist.initiatives import Help, Initiative, from_redis, from_sql, masked, progress_view, redis_fields
from assist.model import AssistRules, config_of, validate_rules
from assist.repository import HelpRow, InitiativeRow
from tests.conftest import assist_spec


def rules(kind: str = "collect", **changes: Any) -> AssistRules:
    return msgspec.convert(assist_spec(kind, assist=changes)["assist"], AssistRules)


BARGAIN_CUTS = cuts(9900 - 990, 3, seed=42)
BARGAIN = Initiative(
    initiative_id="i1",
    initiator="u123",
    status="open",
    needed=3,
    started_ms=1000,
    deadline_ms=2000,
    helps=[Help("f1", 1, BARGAIN_CUTS[0], 1100), Help("f2", 2, BARGAIN_CUTS[1], 1200)],
    cuts=BARGAIN_CUTS,
    floor_cents=990,
)


def test_the_price_comes_down_help_by_help_to_the_floor() -> None:
    assert BARGAIN.price_cents == 990 + BARGAIN_CUTS[2]
    finished = replace(BARGAIN, helps=[*BARGAIN.helps, Help("f3", 3, BARGAIN_CUTS[2], 1300)])
    assert finished.price_cents == 990
    collect = replace(BARGAIN, cuts=[], floor_cents=None)
    assert collect.price_cents is None


def test_redis_and_sql_tell_the_same_initiative() -> None:
    fields = {name: str(value) for name, value in redis_fields(BARGAIN).items()}
    assert from_redis("i1", fields) == BARGAIN
    row = InitiativeRow(
        initiative_id="i1",
        activity_id=7,
        initiator="u123",
        needed=3,
        started_at_ms=1000,
        deadline_ms=2000,
        price_cents=9900,
        floor_cents=990,
        cuts=",".join(map(str, BARGAIN_CUTS)),
        seed=42,
    )
    helps = [
        HelpRow(
            help_id=f"h{h.number}",
            activity_id=7,
            initiative_id="i1",
            helper=h.helper,
            kind="help",
            number=h.number,
            cut_cents=h.cut_cents,
            price_after_cents=None,
            device_id=None,
            ip=None,
            day="2026-05-02",
            helper_reward=False,
            at_ms=h.at_ms,
        )
        for h in reversed(BARGAIN.helps)
    ]
    assert from_sql(row, None, helps) == BARGAIN
    assert from_sql(row, "expired", helps).status == "expired"


def test_a_friend_sees_the_progress_with_the_initiator_masked() -> None:
    assert (masked("u123"), masked("ab"), masked("abc")) == ("u***3", "***", "a***c")
    bargain = rules("bargain")
    activity = Activity(
        id=7,
        type="assist",
        name="Help me bargain",
        status="live",
        starts_at=datetime.fromisoformat("2026-05-01T00:00:00+08:00"),
        ends_at=datetime.fromisoformat("2026-09-01T00:00:00+08:00"),
        timezone="Asia/Shanghai",
        skin=None,
        audience=Audience(),
        config=config_of(bargain),
    )
    seen = progress_view(activity, bargain, BARGAIN)
    assert (seen.initiator, seen.helps, seen.needed, seen.reward) == ("u***3", 2, 3, "Serum 30 ml")
    assert (seen.original_price_cny, seen.floor_cny) == ("99.00", "9.90")
    assert seen.price_cny == f"{(990 + BARGAIN_CUTS[2]) / 100:.2f}"
    assert "helpers" not in msgspec.structs.asdict(seen)


@pytest.mark.parametrize(
    ("kind", "changes", "code"),
    [
        ("collect", {"item": {"name": "X", "price_cny": "10", "floor_cny": "1", "stock": 1}}, "item_required"),
        ("bargain", {"prize": {"name": "X", "stock": 1}}, "prize_required"),
        ("collect", {"target_action": "registration"}, "target_action_required"),
        ("bargain", {"item": {"name": "X", "price_cny": "10", "floor_cny": "10", "stock": 1}}, "price_invalid"),
        ("bargain", {"item": {"name": "X", "price_cny": "10.001", "floor_cny": "1", "stock": 1}}, "price_invalid"),
        (
            "bargain",
            {"item": {"name": "X", "price_cny": "1.00", "floor_cny": "0.99", "stock": 1}},
            "discount_too_small",
        ),
    ],
)
def test_rules_the_schema_cannot_say(kind: str, changes: dict[str, Any], code: str) -> None:
    with pytest.raises(PromoError) as caught:
        validate_rules(rules(kind, **changes))
    assert caught.value.code == code
    for fine in ("collect", "bargain", "invite"):
        validate_rules(rules(fine))


def test_the_rows_of_a_start_a_help_and_an_expiry() -> None:
    start = {
        "type": "assist_start",
        "initiative_id": "i1",
        "initiator": "u1",
        "needed": "3",
        "started_at_ms": "1000",
        "deadline_ms": "2000",
        "price_cents": "",
        "floor_cents": "",
        "cuts": "",
        "seed": "",
    }
    ((table, row),) = assist_rows(7, "1-0", start)
    assert table is assist_initiatives and (row["price_cents"], row["cuts"], row["seed"]) == (None, None, None)
    helped = {
        "type": "assist_help",
        "initiative_id": "i1",
        "help_id": "h1",
        "helper": "f1",
        "kind": "help",
        "number": "3",
        "cut_cents": "",
        "price_after_cents": "",
        "device_id": "",
        "ip": "10.0.0.1",
        "day": "2026-05-02",
        "helper_reward": "1",
        "completed": "1",
        "at_ms": "1500",
    }
    rows = assist_rows(7, "1-1", helped)
    assert [table for table, _ in rows] == [assist_helps, assist_outcomes]
    assert (rows[0][1]["device_id"], rows[0][1]["ip"], rows[0][1]["helper_reward"]) == (None, "10.0.0.1", True)
    assert rows[1][1]["outcome"] == "completed"
    assert len(assist_rows(7, "1-2", {**helped, "completed": "0"})) == 1
    expired = {"type": "assist_outcome", "initiative_id": "i1", "outcome": "expired", "at_ms": "2000"}
    ((table, row),) = assist_rows(7, "1-3", expired)
    assert table is assist_outcomes and row["outcome"] == "expired"
