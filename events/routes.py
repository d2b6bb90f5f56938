"""`POST /events` (a brand's system token) and operators' custom event types."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from activities.auth import Identity
from api.security import platform_of, provide_operator, provide_system
from events.model import BatchResult, EventBatch, EventTypeSpec, EventTypeView
from events.service import EventService

# 422 all (api/error_codes.py reads the gameplays' modules for statuses; events/ is not one).
_ERRORS = {
    422: (
        "batch_too_large",
        "event_id_invalid",
        "member_id_invalid",
        "event_type_unknown",
        "event_time_invalid",
        "event_time_out_of_range",
        "event_attributes_invalid",
        "event_attributes_too_large",
    )
}


def events_after_system(request: Request[Any, Any, Any], system: NamedDependency[Identity]) -> EventService:
    """The event service, resolved after the caller's identity (one dependency batch, no task
    group: api/security.py `service_for`)."""
    return platform_of(request).events


def events_after_operator(request: Request[Any, Any, Any], operator: NamedDependency[Identity]) -> EventService:
    """The event service, resolved after the operator's identity (see `events_after_system`)."""
    return platform_of(request).events


class EventsController(Controller):
    """Members' events from the brands' systems; the event types operators declare."""

    tags = ["events"]  # noqa: RUF012 (Litestar's class attribute)

    @post(
        "/events",
        status_code=200,
        dependencies={
            "system": Provide(provide_system),
            "events": Provide(events_after_system, sync_to_thread=False),
        },
        opt={"errors": _ERRORS},
    )
    async def push_events(
        self, data: JSONBody[EventBatch], events: NamedDependency[EventService], system: NamedDependency[Identity]
    ) -> BatchResult:
        """Members' events from the brand's systems (a `system` token: `promo token --system`).

        Up to 1,000 events, each recorded once per `event_id`: the answer says, in order, which
        were new and which were replays (ignored). One bad event (unknown type, a time that is not
        RFC 3339 with an offset or not within the last 7 days, bad attributes) refuses the whole
        batch with 422 and `details.index`: nothing of it is recorded."""
        return await events.ingest(data, system.subject)

    @post(
        "/operator/event-types",
        status_code=200,
        dependencies={
            "operator": Provide(provide_operator),
            "events": Provide(events_after_operator, sync_to_thread=False),
        },
        opt={"errors": {422: ("event_type_builtin",)}},
    )
    async def declare_event_type(
        self, data: JSONBody[EventTypeSpec], events: NamedDependency[EventService], operator: NamedDependency[Identity]
    ) -> EventTypeView:
        """Declare a custom event type (`{"name": "store_visited"}`); declaring it again is harmless."""
        return await events.declare_type(data, operator.subject)

    @get(
        "/operator/event-types",
        dependencies={
            "operator": Provide(provide_operator),
            "events": Provide(events_after_operator, sync_to_thread=False),
        },
    )
    async def list_event_types(
        self, events: NamedDependency[EventService], operator: NamedDependency[Identity]
    ) -> list[EventTypeView]:
        """The event types `POST /events` accepts: the built-in ones, then the declared ones."""
        return await events.types()


ROUTES = [EventsController]
