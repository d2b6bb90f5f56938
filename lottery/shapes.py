"""The lottery's answers to players and other gameplays: the optional body of a draw, a draw's
result (its prize with the value of the config version in effect at its time), a granted prize."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from activities.clock import from_ms
from activities.model import DeviceId
from lottery.model import Lottery, Prize
from lottery.store import DrawRecord
from lottery.versions import played_at

Source = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:~-]{1,64}$")]


class DrawBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Optional context a front end sends with a draw."""

    channel: Literal["h5", "mini_program", "app", "other"] | None = None
    device_id: DeviceId | None = None
    source: Source | None = None  # a campaign link code (analytics)


class PrizeWon(msgspec.Struct):
    id: int
    name: str
    type: str
    value_cny: str
    is_consolation: bool
    points: int | None = None  # credited to the member's wallet for a "points" prize


class DrawResult(msgspec.Struct):
    draw_id: str
    activity_id: int
    prize: PrizeWon
    drawn_at: datetime
    left_today: int | None  # None: no daily limit
    left_total: int | None
    kind: str = "draw"  # draw | chance (paid with a draw chance) | grant (a reward of another activity)
    chances_left: int | None = None  # draw chances left after this draw (None in the history)
    replayed: bool = False


class Granted(msgspec.Struct):
    """A prize handed out from a lottery's pool without a draw."""

    grant_id: str
    lottery_id: int
    prize: PrizeWon
    fallback: bool  # the named prize was unavailable: this is the consolation prize


def fingerprint(activity_id: int, body: DrawBody) -> str:
    return hashlib.sha256(b"%d:" % activity_id + msgspec.json.encode(body)).hexdigest()[:32]


def prize_won(prize: Prize) -> PrizeWon:
    return PrizeWon(
        id=prize.id,
        name=prize.name,
        type=prize.type,
        value_cny=str(prize.value_cny),
        is_consolation=prize.is_consolation,
        points=prize.points,
    )


def result_of(
    activity: Lottery, record: DrawRecord, *, replayed: bool, chances_left: int | None = None, variant: str = ""
) -> DrawResult:
    """`activity` as published; the prize as the member's `variant` played it at the draw's time."""
    return DrawResult(
        draw_id=record.draw_id,
        activity_id=activity.id,
        prize=prize_won(played_at(activity, variant, record.drawn_at_ms).prize(record.prize_id)),
        drawn_at=from_ms(record.drawn_at_ms, activity.tz),
        left_today=record.left_today,
        left_total=record.left_total,
        kind=record.kind,
        chances_left=chances_left,
        replayed=replayed,
    )
