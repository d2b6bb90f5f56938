"""The app's response class: a route's JSON answer with its two headers made directly
(issue 17, "Python per request").

Litestar turns what a route returns into an `ASGIResponse` whose headers go through a
`MutableScopeHeaders` (a case-insensitive search of the list for each header it sets) and
whose constructor checks options no route of ours uses: a few microseconds per answer. When an
answer is plain JSON (no cookies, no extra headers, no background task, not a HEAD), `LeanResponse`
makes the same bytes, `content-type` then `content-length` as Litestar sends them, directly;
anything else goes Litestar's way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from litestar import Request, Response
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import MediaType
from litestar.response.base import ASGIResponse
from litestar.serialization import get_serializer
from litestar.types import TypeEncodersMap

T = TypeVar("T")
_JSON = MediaType.JSON.value
_JSON_HEADER = (b"content-type", _JSON.encode())
_NO_BODY = frozenset({204, 304})


class LeanASGIResponse(ASGIResponse):
    """An `ASGIResponse` of a JSON body with its headers already encoded."""

    def __init__(self, body: bytes, status_code: int) -> None:  # no super().__init__(): the point
        self._raw_headers = [_JSON_HEADER, (b"content-length", str(len(body)).encode())]
        self.background = None
        self.body = body
        self.content_length = len(body)
        self._encoded_cookies = ()
        self.encoding = "utf-8"
        self.is_head_response = False
        self.status_code = status_code

    @property  # read-only here: made from the list sent
    def headers(self) -> MutableScopeHeaders:  # type: ignore[override]
        """As Litestar's: changes go to the headers sent."""
        return MutableScopeHeaders({"headers": self._raw_headers})

    def encode_headers(self) -> list[tuple[bytes, bytes]]:
        return self._raw_headers


class LeanResponse(Response[T]):
    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        status = self.status_code or status_code or 200
        if (
            app is None
            and not headers
            and not self.headers
            and not cookies
            and not self.cookies
            and encoded_headers is None
            and background is None
            and self.background is None
            and not is_head_response
            and (self.media_type or media_type or _JSON) == _JSON
            and status >= 200
            and status not in _NO_BODY
        ):
            encoders = {**type_encoders, **(self.response_type_encoders or {})} if type_encoders else None
            encoders = encoders or self.response_type_encoders
            return LeanASGIResponse(self.render(self.content, _JSON, get_serializer(encoders)), status)
        return super().to_asgi_response(
            app,
            request,
            background=background,
            cookies=cookies,
            encoded_headers=encoded_headers,
            headers=headers,
            is_head_response=is_head_response,
            media_type=media_type,
            status_code=status_code,
            type_encoders=type_encoders,
        )
