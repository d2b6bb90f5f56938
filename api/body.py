"""Request bodies: strict decoding into msgspec Structs, for the routes' typed `data:` parameters.

A route declares `data: DrawBody` (or `data: NoBody | None = None` when the body may be empty)
and Litestar documents the body in the OpenAPI document. Litestar's own decoding is lenient
(`"3"` would pass for an integer) and answers in its own error shape, so the app sets `StrictBody`
as its DTO: every `data:` is decoded here with `msgspec.json.decode(strict=True)`, a malformed body
is a 400 `malformed_json` and a wrong shape a 422 `invalid_body` whose `details.field` names the
offending field.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Generator
from typing import Annotated, Any, TypeVar

import msgspec
from litestar.dto import AbstractDTO, DTOConfig
from litestar.dto.data_structures import DTOFieldDefinition
from litestar.typing import FieldDefinition

from activities.errors import Kind, PromoError, invalid
from api.guards import PerHandler

T = TypeVar("T")


_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def decode(body: bytes, type_: type[T]) -> T:
    """Decode a JSON body strictly: malformed JSON is 400, a wrong shape 422 naming the field."""
    if not body.strip():
        body = b"{}"
    decoder = _DECODERS.get(type_)
    if decoder is None:  # one per type: `msgspec.json.decode(type=...)` looks the type up anew (~3 µs)
        decoder = _DECODERS[type_] = msgspec.json.Decoder(type_, strict=True)
    try:
        decoded: T = decoder.decode(body)
        return decoded
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = field_of(message)
        raise (invalid("invalid_body", message, field=field) if field else invalid("invalid_body", message)) from exc
    except msgspec.DecodeError as exc:
        raise PromoError(Kind.MALFORMED, "malformed_json", f"the body is not valid JSON: {exc}") from exc


_AT = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_NAMED = re.compile(r"^Object (?:missing required|contains unknown) field `(?P<name>[^`]+)`")


def field_of(message: str) -> str | None:
    """The offending field of a msgspec validation message, as `details.field`: "limits.per_user_daily"
    for "... - at `$.limits.per_user_daily`", "prizes[0].weight" for a missing (or unknown) field
    `weight` at `$.prizes[0]`; None when the body as a whole is wrong (not an object)."""
    at = _AT.search(message)
    path = at["path"] if at else ""
    named = _NAMED.match(message)
    if named:
        path = f"{path}.{named['name']}" if path else named["name"]
    return path or None


# handler id -> the type its `data:` parameter declares (recorded when the app is built)
_DATA_TYPES: dict[str, Any] = {}
_HANDLER_TYPES: PerHandler[Any] = PerHandler()  # handler -> its entry above, found faster


class StrictBody(AbstractDTO[T]):
    """The app's DTO for every `data:` parameter: our strict `decode`, nothing else (no field
    renaming or exclusion; responses are not touched: the app sets `return_dto=None`)."""

    config = DTOConfig()

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        if field_definition.name == "data":
            _DATA_TYPES[handler_id] = field_definition.annotation

    def decode_bytes(self, value: bytes) -> Any:
        handler = self.asgi_connection.route_handler
        type_ = _HANDLER_TYPES.get(handler)
        if type_ is None:
            type_ = _DATA_TYPES[handler.handler_id]
            _HANDLER_TYPES.set(handler, type_)
        return decode(value, type_)

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        raise PromoError(Kind.MALFORMED, "malformed_json", "send the body as JSON (Content-Type: application/json)")

    def data_to_encodable_type(self, data: T | Collection[T]) -> Any:
        return data

    @classmethod
    def generate_field_definitions(cls, model_type: type[Any]) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False

    @classmethod
    def create_openapi_schema(cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any) -> Any:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(field_definition.annotation))


class NoBody(msgspec.Struct, forbid_unknown_fields=True):
    """An empty JSON object (or no body at all): declare `data: NoBody | None = None`."""


class TypeOnly(msgspec.Struct):
    """The `type` of an activity being created, read first to pick the spec to decode."""

    type: Annotated[str, msgspec.Meta(max_length=20)] = ""


_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def check_idempotency_key(key: str | None) -> str:
    if not key:
        raise PromoError(
            Kind.MALFORMED,
            "idempotency_key_required",
            "send an Idempotency-Key header (any unique string, e.g. a UUID)",
        )
    if not _KEY.fullmatch(key):
        raise invalid("idempotency_key_invalid", "the Idempotency-Key must be 1-128 of letters, digits, - _ . :")
    return key
