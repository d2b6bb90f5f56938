"""Redis access of the lottery: the draw script (sent through the per-tick pipeline batcher), and
the two ways other activities reward members from a lottery: a prize granted from its pool, and
draw chances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from activities.keys import ActivityKeys
from activities.scripts import ScriptBatcher, script_beside

_draw = script_beside(__file__, "draw.lua")
_grant = script_beside(__file__, "grant.lua")
_chances = script_beside(__file__, "chances.lua")
Payment = Literal["chance_or_free", "chance_or_pay", "paid"]  # see draw.lua, ARGV[10]


@dataclass(frozen=True)
class DrawRequest:
    activity_id: int
    user_id: str
    draw_id: str
    rand: int
    now_ms: int
    day: date
    day_ttl_ms: int
    fingerprint: str
    idempotency_key: str
    idempotency_ttl_s: int
    payment: Payment = "chance_or_free"
    weights: str = ""  # the member's A/B variant's weights, "w1,w2,..." in prize order ("": the table's)
    variant: str = ""
    channel: str = ""
    source: str = ""


@dataclass(frozen=True)
class DrawRecord:
    draw_id: str
    prize_id: int
    picked_prize_id: int
    left_today: int | None
    left_total: int | None
    drawn_at_ms: int
    kind: str = "draw"  # draw | chance (paid with a draw chance) | grant (see db.DRAW_KINDS)


@dataclass(frozen=True)
class DrawReply:
    """What the script answered: kind is ok | replay | mismatch | not_loaded | payment_required | refused."""

    kind: str
    record: DrawRecord | None = None
    code: str | None = None
    detail: str | None = None
    chances_left: int = 0


@dataclass(frozen=True)
class GrantReply:
    """kind is ok | replay | not_loaded | unknown_prize; prize_id is what the member got."""

    kind: str
    grant_id: str = ""
    prize_id: int = 0
    picked_prize_id: int = 0


@dataclass(frozen=True)
class ChancesReply:
    kind: str  # ok | replay | not_loaded
    chances_left: int = 0


def _limit(raw: str) -> int | None:
    value = int(raw)
    return None if value < 0 else value


class DrawStore:
    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher

    async def draw(self, request: DrawRequest) -> DrawReply:
        keys = ActivityKeys(request.activity_id)
        reply = await self.batcher.call(
            _draw,
            [
                keys.state,
                keys.stock,
                keys.granted,
                keys.user_total,
                keys.user_prize,
                keys.user_day(request.day),
                keys.day(request.day),
                keys.idempotency(request.user_id, request.idempotency_key),
                keys.events,
                keys.chances,
            ],
            [
                request.user_id,
                request.draw_id,
                request.rand,
                request.now_ms,
                request.day.isoformat(),
                request.day_ttl_ms,
                request.fingerprint,
                request.idempotency_key,
                request.idempotency_ttl_s,
                request.payment,
                request.weights,
                request.variant,
                request.channel,
                request.source,
            ],
        )
        kind = reply[0]
        if kind in ("ok", "replay"):
            draw_id, prize_id, picked, left_today, left_total, drawn_at, draw_kind, chances_left = reply[1:9]
            record = DrawRecord(
                draw_id=draw_id,
                prize_id=int(prize_id),
                picked_prize_id=int(picked),
                left_today=_limit(left_today),
                left_total=_limit(left_total),
                drawn_at_ms=int(drawn_at),
                kind=draw_kind,
            )
            return DrawReply(kind, record=record, chances_left=int(chances_left))
        if kind == "refused":
            return DrawReply(kind, code=reply[1], detail=reply[2] if len(reply) > 2 else None)
        return DrawReply(kind)

    async def grant(
        self,
        activity_id: int,
        user_id: str,
        prize_id: int,
        grant_id: str,
        now_ms: int,
        day: date,
        day_ttl_ms: int,
        ref: str,
        ref_ttl_s: int,
    ) -> GrantReply:
        keys = ActivityKeys(activity_id)
        reply = await self.batcher.call(
            _grant,
            [keys.state, keys.stock, keys.granted, keys.user_prize, keys.day(day), keys.grant_ref(ref), keys.events],
            [user_id, prize_id, grant_id, now_ms, day.isoformat(), day_ttl_ms, ref, ref_ttl_s],
        )
        if reply[0] in ("ok", "replay"):
            return GrantReply(reply[0], grant_id=reply[1], prize_id=int(reply[2]), picked_prize_id=int(reply[3]))
        return GrantReply(reply[0])

    async def credit_chances(
        self, activity_id: int, user_id: str, chances: int, ref: str, reason: str, now_ms: int, ref_ttl_s: int
    ) -> ChancesReply:
        keys = ActivityKeys(activity_id)
        reply = await self.batcher.call(
            _chances,
            [keys.state, keys.chances, keys.chance_ref(ref), keys.events],
            [user_id, chances, ref, reason, now_ms, ref_ttl_s],
        )
        return ChancesReply(reply[0], int(reply[1]) if len(reply) > 1 else 0)

    async def chances_left(self, activity_id: int, user_id: str) -> int:
        return int(await self.batcher.redis.hget(ActivityKeys(activity_id).chances, user_id) or 0)
