"""Friend assist (助力), bargain (砍价) and invite: members start initiatives and share them,
friends open the share link and help; the host reports invitees' actions (operator token)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from activities.auth import Identity
from activities.pages import Page
from api.body import NoBody, decode
from api.lookup import published_activity
from api.params import Cursor, Id, Limit
from api.security import platform_of, provide_anyone, provide_operator, provide_player
from assist.schemas import HelpBody, HelpResult, InitiativeView, InviteEvent, InviteResult, ProgressView
from assist.service import AssistService


@post("/activities/{activity_id:int}/initiatives", dependencies={"player": Provide(provide_player)})
async def start_initiative(
    request: Request[Any, Any, Any], player: NamedDependency[Identity], activity_id: Id
) -> InitiativeView:
    """Start an initiative and get its share token. A member with an open initiative gets that
    one back (`replayed: true`), so a retry never starts a second one."""
    await published_activity(request, activity_id)  # 404 first, whatever the body (api/lookup.py)
    decode(await request.body(), NoBody)
    return await platform_of(request).service(AssistService).start(player, activity_id)


@get("/activities/{activity_id:int}/initiatives", dependencies={"player": Provide(provide_player)})
async def my_initiatives(
    request: Request[Any, Any, Any],
    player: NamedDependency[Identity],
    activity_id: Id,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[InitiativeView]:
    """The member's own initiatives on the activity, newest first, with who helped, a page at a
    time: pass `next_cursor` back as `?cursor=`. Read from the SQL audit trail (a new initiative
    shows up within about a second)."""
    return await platform_of(request).service(AssistService).mine(player, activity_id, limit, cursor)


@get("/activities/{activity_id:int}/initiatives/{initiative_id:str}", dependencies={"caller": Provide(provide_anyone)})
async def read_initiative(
    request: Request[Any, Any, Any],
    caller: NamedDependency[Identity],
    activity_id: Id,
    initiative_id: FromPath[str],
) -> InitiativeView:
    """The initiative with who helped and when: for its initiator and for operators."""
    return await platform_of(request).service(AssistService).initiative(caller, initiative_id, activity_id)


@get("/assists/{share_token:str}")
async def progress(request: Request[Any, Any, Any], share_token: FromPath[str]) -> ProgressView:
    """What a friend sees on opening the share link: the progress, the deadline, the price. No
    token needed."""
    return await platform_of(request).service(AssistService).progress(share_token)


@post("/assists/{share_token:str}/helps", dependencies={"player": Provide(provide_player)})
async def help_initiative(
    request: Request[Any, Any, Any], player: NamedDependency[Identity], share_token: FromPath[str]
) -> HelpResult:
    """Help a friend's initiative, once (optional body {"device_id"}; the caller's address is
    taken from the connection)."""
    await platform_of(request).service(AssistService).known(share_token)  # 404 first, whatever the body
    body = decode(await request.body(), HelpBody)
    ip = request.client.host if request.client else None
    return await platform_of(request).service(AssistService).help(player, share_token, body.device_id, ip)


@post(
    "/operator/activities/{activity_id:int}/invites",
    status_code=200,
    dependencies={"operator": Provide(provide_operator)},
)
async def report_invite(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], activity_id: Id
) -> InviteResult:
    """The host reports an invitee's action ({"share_token", "invitee_id", "action",
    "device_id"?, "ip"?}); it counts for the initiative if it is the activity's target action."""
    await published_activity(request, activity_id)
    event = decode(await request.body(), InviteEvent)
    return await platform_of(request).service(AssistService).invite(activity_id, event)


ROUTES = [start_initiative, my_initiatives, read_initiative, progress, help_initiative, report_invite]
