"""The outbound API: operators' endpoints, deliveries and fulfilments; members' prizes and
delivery addresses. The bodies are decoded by hand (api.schemas.decode) after the resource the
path names is found, so that an unknown one is a 404 whatever the body."""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Request, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter

from activities.auth import Identity
from activities.errors import Kind, PromoError
from activities.pages import Page
from api.body import decode
from api.params import Cursor, Id, Limit
from api.security import platform_of, provide_operator, provide_player
from outbound.model import (
    Address,
    DeliveryView,
    EndpointPatch,
    EndpointSpec,
    EndpointView,
    FulfilmentView,
    IssueBody,
    MyPrize,
    ResendResult,
    RotateBody,
)
from outbound.service import Outbound

_operator = {"operator": Provide(provide_operator)}
_player = {"player": Provide(provide_player)}
GRANT = re.compile(r"^[A-Za-z0-9_:-]{1,40}$")  # a draw id, or a sign-in reward ref (ck:<mark>:<n>)
DeliveryStatus = Annotated[str | None, QueryParameter(pattern=r"^(pending|delivered|dead|cancelled)$")]
FulfilmentStatus = Annotated[str | None, QueryParameter(pattern=r"^(pending|delivered|issued|failed|cancelled)$")]


def outbound_of(request: Request[Any, Any, Any]) -> Outbound:
    return platform_of(request).outbound


def _grant(grant_id: str) -> str:
    if not GRANT.match(grant_id):
        raise PromoError(Kind.NOT_FOUND, "prize_grant_not_found", "no such prize grant")
    return grant_id


@post("/operator/webhooks", status_code=201, dependencies=_operator, opt={"errors": ("too_many_endpoints",)})
async def create_webhook(request: Request[Any, Any, Any], operator: NamedDependency[Identity]) -> EndpointView:
    """A webhook endpoint: {"url", "event_types", "description"?, "enabled"?, "max_in_flight"?}.
    The answer holds its signing secret (`whsec_...`): shown this once."""
    spec = decode(await request.body(), EndpointSpec)
    return await outbound_of(request).endpoints.create(spec, operator.subject)


@get("/operator/webhooks", dependencies=_operator, opt={"errors": ("invalid_cursor",)})
async def list_webhooks(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], limit: Limit = 50, cursor: Cursor = None
) -> Page[EndpointView]:
    """The endpoints, newest first (secrets never shown again)."""
    return await outbound_of(request).endpoints.list(limit, cursor)


@patch("/operator/webhooks/{endpoint_id:int}", dependencies=_operator, opt={"errors": ("endpoint_not_found",)})
async def update_webhook(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], endpoint_id: Id
) -> EndpointView:
    """Change an endpoint: {"enabled": false} stops its deliveries (they wait), {"event_types"}..."""
    endpoints = outbound_of(request).endpoints
    await endpoints.find(endpoint_id)  # 404 first, whatever the body
    return await endpoints.update(endpoint_id, decode(await request.body(), EndpointPatch))


@post(
    "/operator/webhooks/{endpoint_id:int}/rotate",
    status_code=200,
    dependencies=_operator,
    opt={"errors": ("endpoint_not_found",)},
)
async def rotate_webhook(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], endpoint_id: Id
) -> EndpointView:
    """A new secret (in this answer only); the old one keeps signing beside it for
    `overlap_s` seconds (default a day, body optional: {"overlap_s"})."""
    outbound = outbound_of(request)
    await outbound.endpoints.find(endpoint_id)  # 404 first, whatever the body
    body = decode(await request.body(), RotateBody)
    return await outbound.endpoints.rotate(endpoint_id, body)


@get("/operator/deliveries", dependencies=_operator, opt={"errors": ("invalid_cursor",)})
async def list_deliveries(
    request: Request[Any, Any, Any],
    operator: NamedDependency[Identity],
    status: DeliveryStatus = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeliveryView]:
    """Deliveries newest first; `?status=dead` lists the dead letters."""
    return await outbound_of(request).endpoints.deliveries(status, limit, cursor)


@post(
    "/operator/deliveries/{delivery_id:int}/resend",
    status_code=200,
    dependencies=_operator,
    opt={"errors": ("delivery_not_found", "delivery_cancelled")},
)
async def resend_delivery(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], delivery_id: Id
) -> ResendResult:
    """Send a delivery again now (a dead letter, or one delivered), same webhook-id, fresh schedule."""
    return await outbound_of(request).endpoints.resend(delivery_id)


@get("/me/prizes", dependencies=_player, opt={"errors": ("invalid_cursor",)})
async def my_prizes(
    request: Request[Any, Any, Any], player: NamedDependency[Identity], limit: Limit = 50, cursor: Cursor = None
) -> Page[MyPrize]:
    """The member's prizes that the brand fulfils (coupons, goods...), newest first, with the
    fulfilment status, the coupon code or order number once issued, and the delivery address."""
    return await outbound_of(request).fulfilments.mine(player.subject, limit, cursor)


@put(
    "/me/prizes/{grant_id:str}/address",
    status_code=200,
    dependencies=_player,
    opt={"errors": ("prize_grant_not_found", "address_locked", "address_not_needed", "address_changed_meanwhile")},
)
async def set_address(
    request: Request[Any, Any, Any], player: NamedDependency[Identity], grant_id: FromPath[str]
) -> MyPrize:
    """The delivery address of a goods prize; editable until shipped (issued)."""
    fulfilments = outbound_of(request).fulfilments
    await fulfilments.find_mine(player.subject, _grant(grant_id))  # 404 first, whatever the body
    address = decode(await request.body(), Address)
    return await fulfilments.set_address(player.subject, grant_id, address)


@get("/operator/fulfilments", dependencies=_operator, opt={"errors": ("invalid_cursor",)})
async def list_fulfilments(
    request: Request[Any, Any, Any],
    operator: NamedDependency[Identity],
    status: FulfilmentStatus = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[FulfilmentView]:
    """Fulfilments newest first, addresses masked."""
    return await outbound_of(request).fulfilments.list(status, limit, cursor)


@post(
    "/operator/fulfilments/{grant_id:str}/issue",
    status_code=200,
    dependencies=_operator,
    opt={"errors": ("prize_grant_not_found", "fulfilment_closed")},
)
async def issue_fulfilment(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], grant_id: FromPath[str]
) -> FulfilmentView:
    """The CRM's callback: the prize is issued, with its coupon code or order number {"code"}."""
    fulfilments = outbound_of(request).fulfilments
    await fulfilments.find(_grant(grant_id))
    body = decode(await request.body(), IssueBody)
    return await fulfilments.issue(grant_id, body.code)


@post(
    "/operator/fulfilments/{grant_id:str}/cancel",
    status_code=200,
    dependencies=_operator,
    opt={"errors": ("prize_grant_not_found", "fulfilment_closed")},
)
async def cancel_fulfilment(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], grant_id: FromPath[str]
) -> FulfilmentView:
    """Cancel a fulfilment not issued yet (no body)."""
    return await outbound_of(request).fulfilments.cancel(_grant(grant_id), operator.subject)


@post(
    "/operator/fulfilments/{grant_id:str}/reveal",
    status_code=200,
    dependencies=_operator,
    opt={"errors": ("prize_grant_not_found",)},
)
async def reveal_address(
    request: Request[Any, Any, Any], operator: NamedDependency[Identity], grant_id: FromPath[str]
) -> FulfilmentView:
    """The fulfilment with the address unmasked; the reveal is logged (operator and time)."""
    return await outbound_of(request).fulfilments.reveal(_grant(grant_id), operator.subject)


ROUTES = [
    create_webhook,
    list_webhooks,
    update_webhook,
    rotate_webhook,
    list_deliveries,
    resend_delivery,
    my_prizes,
    set_address,
    list_fulfilments,
    issue_fulfilment,
    cancel_fulfilment,
    reveal_address,
]
