"""Redis access of the lottery: the draw script, sent through the per-tick pipeline batcher."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from activities.errors import OutcomeUnknown
from activities.keys import ActivityKeys
from activities.scripts import ScriptBatcher, script_beside

_draw = script_beside(__file__, "draw.lua")


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


@dataclass(frozen=True)
class DrawRecord:
    draw_id: str
    prize_id: int
    picked_prize_id: int
    left_today: int | None
    left_total: int | None
    drawn_at_ms: int


@dataclass(frozen=True)
class DrawReply:
    """What the script answered: kind is ok | replay | mismatch | not_loaded | refused."""

    kind: str
    record: DrawRecord | None = None
    code: str | None = None
    detail: str | None = None


def _limit(raw: str) -> int | None:
    value = int(raw)
    return None if value < 0 else value


class DrawStore:
    def __init__(self, batcher: ScriptBatcher) -> None:
        self.batcher = batcher

    async def draw(self, request: DrawRequest) -> DrawReply:
        keys = ActivityKeys(request.activity_id)
        try:
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
                ],
            )
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise OutcomeUnknown(str(exc)) from exc
        kind = reply[0]
        if kind in ("ok", "replay"):
            draw_id, prize_id, picked, left_today, left_total, drawn_at = reply[1:7]
            record = DrawRecord(
                draw_id=draw_id,
                prize_id=int(prize_id),
                picked_prize_id=int(picked),
                left_today=_limit(left_today),
                left_total=_limit(left_total),
                drawn_at_ms=int(drawn_at),
            )
            return DrawReply(kind, record=record)
        if kind == "refused":
            return DrawReply(kind, code=reply[1], detail=reply[2] if len(reply) > 2 else None)
        return DrawReply(kind)
