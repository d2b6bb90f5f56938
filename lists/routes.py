"""Operators' audience lists: `POST /operator/lists` (CSV or JSON), read, replace or append the
members, delete."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import PathParameter, QueryParameter

from activities.auth import SUBJECT, Identity
from activities.errors import invalid
from activities.model import Name
from activities.pages import Page
from api.body import decode
from api.params import Cursor, Id, Limit
from api.security import platform_of, provide_operator
from lists.console_page import lists_page
from lists.model import ListKind, ListSpec, ListView, MembersBody, MembershipView
from lists.service import ListService
from lists.upload import MAX_BODY_BYTES, Members, from_csv, from_json

_CSV = ("text/csv", "text/plain")
_UPLOAD = {
    422: ("member_id_invalid", "list_empty", "list_too_large", "list_params_required"),
}
_CHANGE = {404: ("list_not_found",), 409: ("list_busy",), 422: _UPLOAD[422][:3]}
QueryName = Annotated[Name | None, QueryParameter(min_length=1, max_length=100)]
QueryKind = Annotated[ListKind | None, QueryParameter()]
MemberId = Annotated[str, PathParameter(min_length=1, max_length=64)]


def lists_after_operator(request: Request[Any, Any, Any], operator: NamedDependency[Identity]) -> ListService:
    """The list service, resolved after the operator's identity (api/security.py `service_for`)."""
    return platform_of(request).lists


def _csv(request: Request[Any, Any, Any]) -> bool:
    """A CSV body (`text/csv` or `text/plain`); anything else is read as JSON, as on every route."""
    return request.content_type[0] in _CSV


async def _csv_members(request: Request[Any, Any, Any]) -> Members:
    try:
        return await from_csv(request.stream())
    except RequestEntityTooLarge:
        raise invalid("list_too_large", "the body is larger than a list of 1,000,000 member ids") from None


async def _members(request: Request[Any, Any, Any]) -> Members:
    if _csv(request):
        return await _csv_members(request)
    members = from_json(decode(await request.body(), MembersBody).members)
    if members.count == 0:
        members.close()
        raise invalid("list_empty", "the list has no member ids", field="members")
    return members


class ListsController(Controller):
    """Audience lists (名单): allow and deny lists of member ids for activities' audiences."""

    path = "/operator/lists"
    tags = ["lists"]  # noqa: RUF012 (Litestar's class attribute)
    dependencies = {  # noqa: RUF012
        "operator": Provide(provide_operator),
        "lists": Provide(lists_after_operator, sync_to_thread=False),
    }

    @post("/", status_code=201, request_max_body_size=MAX_BODY_BYTES, opt={"roles": "write", "errors": _UPLOAD})
    async def upload_list(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        lists: NamedDependency[ListService],
        name: QueryName = None,
        kind: QueryKind = None,
    ) -> ListView:
        """Upload an audience list.

        CSV (`text/csv`, one member id per line, an optional `member_id` header) with `?name=`
        and `?kind=allow|deny`, up to 1,000,000 members; or JSON `{"name", "kind", "members":
        [...]}` for up to 10,000. Every id is checked before anything is written (422 `member_id_invalid` with
        `details.line`); repeated ids count once. The list is written to SQL in one transaction,
        then to its Redis set."""
        if _csv(request):
            if name is None or kind is None:
                raise invalid("list_params_required", "send ?name= and ?kind=allow|deny with a CSV body", field="name")
            members = await _csv_members(request)
        else:
            spec = decode(await request.body(), ListSpec)
            name, kind = spec.name, spec.kind
            members = from_json(spec.members)
            if members.count == 0:
                members.close()
                raise invalid("list_empty", "the list has no member ids", field="members")
        return await lists.create(name, kind, members, operator.subject)

    @get("/", opt={"roles": "read", "errors": ("invalid_cursor",)})
    async def list_lists(
        self,
        operator: NamedDependency[Identity],
        lists: NamedDependency[ListService],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[ListView]:
        """The audience lists, newest first, a page at a time."""
        return await lists.page(limit, cursor)

    @get("/{list_id:int}", opt={"roles": "read", "errors": ("list_not_found",)})
    async def get_list(
        self, operator: NamedDependency[Identity], lists: NamedDependency[ListService], list_id: Id
    ) -> ListView:
        """An audience list: name, kind, size, who created it and when."""
        return await lists.get(list_id)

    @get(
        "/{list_id:int}/members/{member_id:str}",
        opt={"roles": "read", "errors": ("list_not_found", "member_id_invalid", "audience_list_loading")},
    )
    async def check_member(
        self, operator: NamedDependency[Identity], lists: NamedDependency[ListService], list_id: Id, member_id: MemberId
    ) -> MembershipView:
        """Whether a member is in the list (as members' requests see it: from Redis)."""
        if not SUBJECT.match(member_id):
            raise invalid("member_id_invalid", "member ids are 1-64 of letters, digits, _ . @ -", field="member_id")
        return await lists.membership(list_id, member_id)

    @put("/{list_id:int}/members", request_max_body_size=MAX_BODY_BYTES, opt={"roles": "write", "errors": _CHANGE})
    async def replace_members(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        lists: NamedDependency[ListService],
        list_id: Id,
    ) -> ListView:
        """Replace the list's members.

        CSV or JSON `{"members": [...]}`: the same list id, so the activities using it see the
        new members at once."""
        await lists.get(list_id)  # 404 before the body is read
        return await lists.replace(list_id, await _members(request), operator.subject)

    @post(
        "/{list_id:int}/members",
        status_code=200,
        request_max_body_size=MAX_BODY_BYTES,
        opt={"roles": "write", "errors": _CHANGE},
    )
    async def append_members(
        self,
        request: Request[Any, Any, Any],
        operator: NamedDependency[Identity],
        lists: NamedDependency[ListService],
        list_id: Id,
    ) -> ListView:
        """Add members to the list (CSV or JSON `{"members": [...]}`); ids already in it count once."""
        await lists.get(list_id)
        return await lists.append(list_id, await _members(request), operator.subject)

    @delete(
        "/{list_id:int}",
        status_code=204,
        opt={"roles": "write", "errors": ("list_not_found", "list_in_use", "list_busy")},
    )
    async def delete_list(
        self, operator: NamedDependency[Identity], lists: NamedDependency[ListService], list_id: Id
    ) -> None:
        """Delete a list; refused (409 `list_in_use`) while an activity that is not over uses it."""
        await lists.delete(list_id)


ROUTES: list[Any] = [ListsController, lists_page]
