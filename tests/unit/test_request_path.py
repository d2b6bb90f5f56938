"""The per-request shortcuts of the API (issue 17, "Python per request"): they must answer exactly
what Litestar's own way answers."""

from __future__ import annotations

import os
import string
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler
from litestar.params import JSONBody

from activities import ids
from activities.errors import PromoError
from api.body import check_idempotency_key
from api.guards import LeanRequest, PerHandler, guards_without_copies, header
from api.responses import LeanResponse


class Answer(msgspec.Struct):
    id: int
    name: str
    tags: list[str]


seen: list[tuple[str, Any]] = []


async def app_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    seen.append(("app", handler))


def route_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    seen.append(("route", handler))  # a sync guard: Litestar makes it awaitable


@get("/guarded", guards=[route_guard], sync_to_thread=False)
def guarded() -> Answer:
    return Answer(id=1, name="ü", tags=["a"])


@post("/body", sync_to_thread=False)
def body(data: JSONBody[dict[str, int]]) -> dict[str, int]:
    return data


@get("/cookie", sync_to_thread=False)
def cookie() -> Response[dict[str, str]]:
    return Response({"a": "b"}, cookies=[Cookie(key="k", value="v")], headers={"x-extra": "1"})


def app(lean: bool) -> Litestar:
    made = Litestar(
        [guarded, body, cookie],
        guards=[app_guard],
        request_class=LeanRequest if lean else None,
        response_class=LeanResponse if lean else None,
    )
    if lean:
        assert guards_without_copies(made) >= 3
    return made


async def call(made: Litestar, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=made)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, **kwargs)


async def test_guards_run_in_order_on_the_handler_itself() -> None:
    made = app(lean=True)
    seen.clear()
    await call(made, "GET", "/guarded")
    await call(made, "GET", "/guarded")
    assert [where for where, _ in seen] == ["app", "route", "app", "route"]
    handlers = {id(handler) for _, handler in seen}
    assert len(handlers) == 1  # no copies: the app's own handler, each time
    route_handler = next(h for r in made.routes if r.path == "/guarded" for h in getattr(r, "route_handlers", ()))
    assert seen[0][1] is route_handler


@pytest.mark.parametrize(("method", "path", "kwargs"), [("GET", "/guarded", {}), ("POST", "/body", {"json": {"a": 1}})])
async def test_answers_are_litestars_byte_for_byte(method: str, path: str, kwargs: dict[str, Any]) -> None:
    lean, plain = await call(app(True), method, path, **kwargs), await call(app(False), method, path, **kwargs)
    assert (lean.status_code, lean.content, lean.headers.raw) == (plain.status_code, plain.content, plain.headers.raw)


async def test_cookies_and_extra_headers_go_litestars_way() -> None:
    lean = await call(app(True), "GET", "/cookie")
    assert lean.headers["x-extra"] == "1"
    assert lean.cookies["k"] == "v"
    assert lean.json() == {"a": "b"}


async def test_a_bad_content_length_is_a_400_as_before() -> None:
    for made in (app(True), app(False)):
        transport = httpx.ASGITransport(app=made)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            request = client.build_request("POST", "/body", content=b'{"a":1}')
            request.headers["content-length"] = "x"
            assert (await client.send(request)).status_code == 400


def test_header_reads_the_first_raw_value() -> None:
    scope: Any = {"type": "http", "headers": [(b"a", b"1"), (b"b", b"\xe9"), (b"a", b"2")]}
    connection: Any = ASGIConnection(scope)
    assert header(connection, b"a") == "1"
    assert header(connection, b"b") == "é"  # latin-1, as Litestar decodes headers
    assert header(connection, b"c") is None


def test_per_handler_facts() -> None:
    facts: PerHandler[int] = PerHandler()
    facts.set(guarded, 1)
    assert facts.get(guarded) == 1
    assert facts.get(body) is None


def old_key_check(key: str) -> bool:  # what check_idempotency_key accepted before its regex
    return not (len(key) > 128 or not all(c.isalnum() or c in "-_.:" for c in key) or not key.isascii())


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "A-b_c.d:9",
        "x" * 128,
        "x" * 129,
        "a b",
        "a/b",
        "é",
        "١٢",
        "a\n",
        "a\x00",
        "ß",
        "\u2164",
        *string.punctuation,
    ],
)
def test_idempotency_keys_accepted_as_before(key: str) -> None:
    try:
        check_idempotency_key(key)
        accepted = True
    except PromoError as error:
        assert error.code == "idempotency_key_invalid"
        accepted = False
    assert accepted == old_key_check(key)


def test_ids_are_unique_and_shaped_as_before() -> None:
    made = [ids.new_id("d", 1_700_000_000_000) for _ in range(5000)]
    assert len(set(made)) == len(made)
    assert all(len(i) == 1 + 12 + 16 and i.startswith("d018bcfe56800") for i in made)
    int(made[0][13:], 16)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    ids.new_id("d", 0)  # the pool is filled
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(write, ids.new_id("d", 0).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    from_child = os.read(read, 64).decode()
    os.close(read)
    assert from_child != ids.new_id("d", 0)
