"""Back office: create and run activities, add stock, watch live counters."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, Union

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from activities import drafts
from activities.auth import Identity
from activities.errors import invalid, not_found
from activities.model import TRANSITIONS, Status
from activities.pages import Page
from api.body import NoBody, TypeOnly, decode
from api.error_codes import method_errors, spec_errors
from api.gameplays import GAMEPLAY_BY_TYPE, GAMEPLAYS
from api.lookup import found_activity
from api.params import Cursor, Id, Limit
from api.schemas import ActivityView, activity_view
from api.security import platform_of, provide_operator

log = logging.getLogger("promo.api")

StatusFilter = Annotated[Status | None, QueryParameter()]
TypeFilter = Annotated[str | None, QueryParameter(name="type", pattern=r"^[a-z_]{1,20}$")]
TextFilter = Annotated[str | None, QueryParameter(min_length=1, max_length=100)]
DateFilter = Annotated[date | None, QueryParameter()]  # a day, in Asia/Shanghai

# The codes these routes answer besides the generic ones (api/openapi.py documents them).
CREATE_ERRORS = spec_errors  # every registered gameplay's spec checks (api/error_codes.py)


def transition_errors() -> tuple[str, ...]:
    """Its own, and what any gameplay's publish check refuses (api/error_codes.py): computed when
    the document is built."""
    return ("unknown_action", "invalid_transition", *method_errors("check_publishable"))


COUNTERS_ERRORS: tuple[str, ...] = ()


class OperatorController(Controller):
    """The activities of every gameplay, as the back office runs them."""

    path = "/operator/activities"
    tags = ["activities"]  # noqa: RUF012 (Litestar's class attribute)
    dependencies = {"operator": Provide(provide_operator)}  # noqa: RUF012

    @post("/", opt={"errors": CREATE_ERRORS})
    async def create(self, request: Request[Any, Any, Any], operator: NamedDependency[Identity]) -> ActivityView:
        """Create a draft activity of any gameplay.

        The body's `type` picks the gameplay (see the request body's schemas: one per gameplay);
        the activity starts as a draft: publish it to open it to players."""
        body = await request.body()
        activity_type = decode(body, TypeOnly).type
        gameplay = GAMEPLAY_BY_TYPE.get(activity_type)
        if gameplay is None:
            raise invalid(
                "invalid_body",
                f"unknown activity type {activity_type!r}; use one of {sorted(GAMEPLAY_BY_TYPE)}",
                field="type",
            )
        platform = platform_of(request)
        activity = await platform.services[gameplay.name].create(decode(body, gameplay.spec), operator.subject)
        return await activity_view(platform, activity, operator=True)

    @get("/", opt={"errors": ("invalid_cursor",)})
    async def list_activities(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        limit: Limit = 50,
        cursor: Cursor = None,
        status: StatusFilter = None,
        activity_type: TypeFilter = None,
        q: TextFilter = None,
        starts_from: DateFilter = None,
        ends_before: DateFilter = None,
    ) -> Page[ActivityView]:
        """List the activities, newest first.

        A page at a time: pass `next_cursor` back as `?cursor=` (null: the last page). Filters:
        `status`, `type`, `q` (a text in the name), `starts_from`/`ends_before` (a window
        overlapping that range)."""
        where = drafts.filters(status, activity_type, q, drafts.moment(starts_from), drafts.moment(ends_before))
        platform = platform_of(request)
        page = await platform.activities.list_page(limit, cursor, where)
        views = []
        for activity in page.items:
            try:
                views.append(await activity_view(platform, activity, operator=True))
            except (ValueError, OverflowError) as exc:  # one odd row never fails the list
                log.error("activity %d cannot be shown, left out of the list: %s", activity.id, exc)
        return Page(items=views, next_cursor=page.next_cursor)

    @get("/{activity_id:int}", opt={"activity": "any"})
    async def read(
        self, request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
    ) -> ActivityView:
        """Read an activity, drafts included, as the back office sees it."""
        return await activity_view(platform_of(request), found_activity(request), operator=True)

    @post(
        "/{activity_id:int}/{action:str}",
        status_code=200,
        opt={"activity": "any", "errors": transition_errors, "enums": {"action": sorted(TRANSITIONS)}},
    )
    async def transition(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        activity_id: Id,
        action: FromPath[str],
        data: JSONBody[NoBody | None] = None,
    ) -> ActivityView:
        """Change an activity's status: publish, pause, resume or end.

        `publish` loads a draft's live state into Redis and opens it to players (within its
        window); `pause` and `resume` close and reopen it; `end` closes it for good. No body."""
        if action not in TRANSITIONS:
            raise not_found("unknown_action", f"unknown action {action!r}; use one of {sorted(TRANSITIONS)}")
        platform = platform_of(request)
        activity = await platform.activities.transition(activity_id, action, operator.subject)
        return await activity_view(platform, activity, operator=True)

    @get("/{activity_id:int}/counters", opt={"activity": "any", "errors": COUNTERS_ERRORS})
    async def counters(
        self, request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
    ) -> Counters:
        """Live counters of an activity, beside what the SQL audit trail holds.

        From Redis: a lottery's stock and draws, a sign-in's sign-ins, make-ups and rewards, an
        assist's initiatives and helps, a reservation's per date and store."""
        platform = platform_of(request)
        activity = found_activity(request)
        return await platform.services[GAMEPLAY_BY_TYPE[activity.type].name].counters(activity)


# Whichever gameplay's counters (the OpenAPI document shows each).
if TYPE_CHECKING:
    Counters: TypeAlias = msgspec.Struct
else:
    Counters = Union[tuple(g.counters for g in GAMEPLAYS)]  # noqa: UP007
