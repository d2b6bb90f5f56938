"""The platform's own actions as members' events: a sign-in (`signed_in`), a help (`helped`), a
draw (`drew`) count toward tasks like the brand's events.

They come from the audit writer's producer hook (`AuditWriter(producers=...)`): when the writer
turns a draw, a sign-in or a help entry into SQL rows, `producer` records the matching event
(event id `<type>:<the action's id>`, so a second delivery of the entry records nothing more)
and the event's listeners count it. It adds no row of its own. Only types some live activity
listens to (`wants`) are recorded: without such a task the writer's hot path does nothing more
than a dict lookup. The count lands within the writer's lag (about a second) after the action.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple

from activities.audit_rows import Row
from events.service import EventService
from events.store import Prepared

PLATFORM_SOURCE = "platform"
# An answer of `wanted` is reused this long: about one writer step (the live activities it comes
# from are themselves re-read once a second, activities/live.py).
WANTS_REUSE_S = 0.05


class Action(NamedTuple):
    event_type: str
    id_field: str
    user_field: str
    at_field: str


# stream entry type -> the event it is
ACTIONS: dict[str, Action] = {
    "draw": Action("drew", "draw_id", "user_id", "drawn_at_ms"),
    "checkin": Action("signed_in", "mark_id", "user_id", "at_ms"),
    "assist_help": Action("helped", "help_id", "helper", "at_ms"),
}
PLATFORM_TYPES = frozenset(action.event_type for action in ACTIONS.values())

Wants = Callable[[str], Awaitable[bool]]  # does some live activity count this event type?


class PlatformActions:
    def __init__(self, events: EventService, wants: Sequence[Wants]) -> None:
        self.events = events
        self.wants = tuple(wants)
        self._wanted: dict[str, tuple[float, bool]] = {}  # event type -> (asked at, answer)

    async def wanted(self, event_type: str) -> bool:
        """Whether some live activity counts `event_type`, asked at most once per `WANTS_REUSE_S`:
        the writer calls the producer for every entry of a step, and asking each gameplay (a walk
        over its live activities) was a fifth of the writer's time per draw."""
        now = time.monotonic()
        found = self._wanted.get(event_type)
        if found is not None and now - found[0] < WANTS_REUSE_S:
            return found[1]
        answer = any([await wants(event_type) for wants in self.wants])
        self._wanted[event_type] = (now, answer)
        return answer

    async def producer(
        self, activity_id: int | None, entry_id: str, fields: dict[str, str], rows: list[Row]
    ) -> list[Row]:
        action = ACTIONS.get(fields.get("type", ""))
        if action is None or fields.get("kind") == "grant":  # a grant is no member action
            return []
        if not await self.wanted(action.event_type):
            return []
        user, action_id = fields.get(action.user_field), fields.get(action.id_field)
        if not user or not action_id:
            return []
        now_ms = self.events.clock.now_ms()
        at_ms = int(fields.get(action.at_field) or now_ms)
        event = Prepared(
            f"{action.event_type}:{action_id}", user, action.event_type, at_ms, f'{{"activity_id":{activity_id or 0}}}'
        )
        await self.events.record([event], PLATFORM_SOURCE, now_ms)
        return []
