"""Who may call which operator route (issue 13): one rule per (method, route), checked for every
operator identity, bearer token or console session alike (api/security.py). The kernel's routes
have theirs here; a gameplay's routes name theirs in their own `opt={"roles": "read" | "write" |
"admin" | "redeem"}` (so a gameplay stays one folder). A route with no rule is refused to every
operator (and tests/integration/test_roles.py fails), so a new operator route cannot ship
without deciding who may use it.

- admin: everything (accounts included)
- marketer: create, edit, publish activities, grant points, and read
- analyst: read-only (activities, dashboards, reports, exports, simulations)
- clerk: redeem reservations at its own stores, nothing else
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.connection import ASGIConnection

from activities.auth import Identity
from activities.errors import Kind, PromoError

READ = frozenset({"admin", "marketer", "analyst"})
WRITE = frozenset({"admin", "marketer"})
ADMIN = frozenset({"admin"})
REDEEM = frozenset({"admin", "clerk"})

A = "/operator/activities"

RULES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", A): READ,
    ("POST", A): WRITE,
    ("GET", f"{A}/{{activity_id}}"): READ,
    ("PATCH", f"{A}/{{activity_id}}"): WRITE,
    ("DELETE", f"{A}/{{activity_id}}"): WRITE,
    ("POST", f"{A}/{{activity_id}}/clone"): WRITE,
    ("POST", f"{A}/{{activity_id}}/template"): WRITE,
    ("GET", "/operator/templates"): READ,
    ("POST", "/operator/templates/{template_id}/activities"): WRITE,
    ("GET", "/operator/calendar"): READ,
    ("POST", f"{A}/{{activity_id}}/{{action}}"): WRITE,  # publish | pause | resume | end
    ("PATCH", f"{A}/{{activity_id}}/window"): WRITE,  # extend the end time, live
    ("GET", f"{A}/{{activity_id}}/counters"): READ,
    ("GET", f"{A}/{{activity_id}}/reports/{{name}}"): READ,  # analytics (issue 14)
    ("GET", f"{A}/{{activity_id}}/events"): READ,
    ("GET", f"{A}/{{activity_id}}/dashboard"): READ,
    ("GET", f"{A}/{{activity_id}}/reservations"): READ,
    ("GET", f"{A}/{{activity_id}}/recovery"): READ,
    ("POST", f"{A}/{{activity_id}}/recovery"): ADMIN,
    ("POST", "/operator/members/{user_id}/points"): WRITE,
    ("GET", "/operator/members/{user_id}"): READ,
    ("POST", "/operator/audit/lookup"): READ,
    ("GET", "/operator/audit/quarantine"): READ,
    ("GET", "/operator/log"): READ,
    ("GET", "/operator/accounts"): ADMIN,
    ("POST", "/operator/accounts"): ADMIN,
    # outbound (issue 16): webhook endpoints and their secrets are the admin's; deliveries and
    # fulfilments are read by every back-office role but the clerk, worked on by marketers
    ("GET", "/operator/webhooks"): ADMIN,
    ("POST", "/operator/webhooks"): ADMIN,
    ("PATCH", "/operator/webhooks/{endpoint_id}"): ADMIN,
    ("POST", "/operator/webhooks/{endpoint_id}/rotate"): ADMIN,
    ("GET", "/operator/deliveries"): READ,
    ("POST", "/operator/deliveries/{delivery_id}/resend"): ADMIN,
    ("GET", "/operator/fulfilments"): READ,
    ("POST", "/operator/fulfilments/{grant_id}/issue"): WRITE,
    ("POST", "/operator/fulfilments/{grant_id}/cancel"): WRITE,
    ("POST", "/operator/fulfilments/{grant_id}/reveal"): WRITE,  # a member's address, to ship a prize
    # engagement (issue 15): custom event types are marketing's work (quiz question banks: quiz/controllers.py)
    ("GET", "/operator/event-types"): READ,
    ("POST", "/operator/event-types"): WRITE,
}


NAMED: dict[str, frozenset[str]] = {"read": READ, "write": WRITE, "admin": ADMIN, "redeem": REDEEM}


def rule_of(method: str, route: str, opt: Mapping[str, Any]) -> frozenset[str] | None:
    """The roles that may call the route: the kernel's table, else the route's `opt["roles"]`."""
    rule = RULES.get((method, route))
    if rule is None and (named := opt.get("roles")) is not None:
        rule = NAMED[named]
    return rule


def allowed(method: str, route: str, role: str | None, opt: Mapping[str, Any] | None = None) -> bool:
    rule = rule_of(method, route, opt or {})
    return rule is not None and role in rule


def check_role(connection: ASGIConnection[Any, Any, Any, Any], identity: Identity) -> None:
    """403 `role_forbidden` unless the operator's role may use this route."""
    route = str(connection.scope.get("path_template", ""))
    method = str(connection.scope.get("method", "GET"))
    handler = connection.scope.get("route_handler")
    if not allowed(method, route, identity.operator_role, getattr(handler, "opt", None)):
        raise PromoError(
            Kind.FORBIDDEN,
            "role_forbidden",
            f"the {identity.operator_role} role may not {method} {route}",
            role=identity.operator_role,
        )


def check_store(identity: Identity, store_id: str | None) -> None:
    """A clerk redeems only at its own stores (403 `store_forbidden`); other roles anywhere."""
    if identity.operator_role == "clerk" and (store_id is None or store_id not in identity.stores):
        raise PromoError(
            Kind.FORBIDDEN, "store_forbidden", "this account may redeem only at its own stores", stores=identity.stores
        )
