"""Friend assist (助力), bargain (砍价) and invite: members start initiatives and share them,
friends open the share link and help; the host reports invitees' actions (operator token).

The guards answer first (api/security.py: the token; api/lookup.py: `opt["activity"]`, 404 for an
unknown or unpublished activity; `known_share_token` below: 404 for a share token that is not
ours), then the body is decoded (`data:`, api/body.py), then the rules.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody

from activities.auth import Identity
from activities.pages import Page
from api.params import Cursor, Id, Limit
from api.security import (
    identity_of,
    platform_of,
    provide_anyone,
    provide_operator,
    provide_player,
    service,
    service_for,
)
from assist.schemas import HelpBody, HelpResult, InitiativeView, InviteEvent, InviteResult, ProgressView, StartBody
from assist.service import AssistService


def _as(who: str, provide: Any) -> dict[str, Provide]:
    """The identity dependency `who` and the service resolved after it (one dependency batch
    each, api/security.py `service_for`)."""
    return {who: Provide(provide), "assists": Provide(service_for(AssistService, who), sync_to_thread=False)}


# What the activity's own scripts refuse about it, whatever the gameplay (activities/errors.py).
_LIVE = ("activity_not_live", "not_started", "already_ended")
_HELP = (
    "share_token_invalid",
    "wrong_activity_type",
    *_LIVE,
    "initiative_not_found",
    "initiative_completed",
    "initiative_expired",
    "already_helped",
    "self_help",
    "new_users_only",
    "helper_daily_limit",
    "device_daily_limit",
    "ip_daily_limit",
)


async def known_share_token(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Route guard: 404 `share_token_invalid` (or `activity_not_found`) for a share token that is
    not ours or whose activity is not a published assist, before the body is read."""
    share_token = connection.path_params.get("share_token")
    if isinstance(share_token, str):
        await platform_of(connection).service(AssistService).known(share_token)


class InitiativeController(Controller):
    """A member's initiatives on a published assist activity."""

    path = "/activities/{activity_id:int}/initiatives"

    @post(
        "/",
        dependencies=_as("player", provide_player),
        opt={
            "activity": "published",
            "action": "start",
            "errors": ("wrong_activity_type", "audience_not_allowed", *_LIVE, "initiative_limit", "out_of_stock"),
        },
    )
    async def start_initiative(
        self,
        player: NamedDependency[Identity],
        assists: NamedDependency[AssistService],
        activity_id: Id,
        data: JSONBody[StartBody | None] = None,
    ) -> InitiativeView:
        """Start an initiative.

        Starts an initiative (an assist, a bargain or an invite drive) and answers its share token:
        friends open `GET /assists/{share_token}` and help with `POST /assists/{share_token}/helps`.
        A member with an open initiative gets that one back (`replayed: true`), so a retry never
        starts a second one. The optional body says where it came from (`channel`, `source`)."""
        return await assists.start(player, activity_id, data)

    @get(
        "/",
        dependencies=_as("player", provide_player),
        opt={"activity": "published", "errors": ("wrong_activity_type", "invalid_cursor")},
    )
    async def my_initiatives(
        self,
        player: NamedDependency[Identity],
        assists: NamedDependency[AssistService],
        activity_id: Id,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[InitiativeView]:
        """The member's initiatives.

        The member's own initiatives on the activity, newest first, with who helped, a page at a
        time: pass `next_cursor` back as `?cursor=`. Read from the SQL audit trail (a new
        initiative shows up within about a second)."""
        return await assists.mine(player, activity_id, limit, cursor)

    @get(
        "/{initiative_id:str}",
        dependencies=_as("caller", provide_anyone),
        opt={
            "roles": "read",  # operators (api/roles.py); a player reads only their own
            "activity": "published",
            "errors": ("wrong_activity_type", "initiative_not_found", "not_your_data"),
        },
    )
    async def read_initiative(
        self,
        caller: NamedDependency[Identity],
        assists: NamedDependency[AssistService],
        activity_id: Id,
        initiative_id: FromPath[str],
    ) -> InitiativeView:
        """One initiative with its helpers.

        The initiative with who helped and when: for its initiator and for operators (another
        member gets 403 `not_your_data`)."""
        return await assists.initiative(caller, initiative_id, activity_id)


class ShareController(Controller):
    """What a share link opens: the progress (no token) and the friend's help."""

    path = "/assists/{share_token:str}"

    @get(
        "/",
        dependencies={"assists": Provide(service(AssistService), sync_to_thread=False)},
        opt={"errors": ("share_token_invalid", "wrong_activity_type", "initiative_not_found")},
    )
    async def progress(self, assists: NamedDependency[AssistService], share_token: FromPath[str]) -> ProgressView:
        """What a friend sees on opening the share link.

        The initiative's progress, its deadline and, for a bargain, the price now; the initiator's
        member id is masked. No token needed."""
        return await assists.progress(share_token)

    @post(
        "/helps",
        dependencies=_as("player", provide_player),
        guards=[known_share_token],
        # helpers on the activity's deny lists (audience lists): audience_excluded
        opt={
            "action": "help",
            "errors": (*_HELP, "invitees_count_by_event", "audience_excluded", "audience_list_loading"),
        },
    )
    async def help_initiative(
        self,
        request: Request[Any, Any, Any],
        share_token: FromPath[str],
        data: JSONBody[HelpBody | None] = None,
    ) -> HelpResult:
        """Help a friend's initiative.

        Helps once (a bargain: cuts the price by this help's share). The optional body names the
        helper's device (`device_id`); the address is taken from the connection. Both count
        against the activity's daily anti-abuse limits; a first help may earn the helper reward.
        `channel` and `source` say where it came from, `via` who shared the link (analytics)."""
        ip = request.client.host if request.client else None
        # the player and the service without dependencies (see api/security.py `identity_of`)
        assists = platform_of(request).service(AssistService)
        return await assists.help(identity_of(request), share_token, data.device_id if data else None, ip, data)


class InviteController(Controller):
    """What the host reports about invitees (operator token)."""

    path = "/operator/activities/{activity_id:int}/invites"
    opt = {"roles": "write"}  # noqa: RUF012 (Litestar's class attribute; api/roles.py)
    dependencies = _as("operator", provide_operator)

    @post(
        "/",
        status_code=200,
        opt={
            "activity": "published",
            "action": "invite",
            "errors": (*_HELP, "not_an_invite_activity", "invitee_already_counted"),
        },
    )
    async def report_invite(
        self,
        operator: NamedDependency[Identity],
        assists: NamedDependency[AssistService],
        activity_id: Id,
        data: JSONBody[InviteEvent],
    ) -> InviteResult:
        """Report an invitee's action.

        The host reports that an invitee registered or placed a first order, with the share token
        they came with. It counts for that initiative if it is the activity's target action
        (`counted: false` and the reason otherwise); an invitee counts once."""
        return await assists.invite(activity_id, data)


ROUTES = [InitiativeController, ShareController, InviteController]
