"""A repair of the response schemas Litestar generates (api/openapi.py `document` applies it)."""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar.openapi.spec import Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType


def integer_or_number(schema: Any) -> None:
    """Litestar writes `int | float` as `oneOf: [integer, number]`, which no integer satisfies (it
    matches both): an answer carrying one (an event trigger's or a task's `attributes`) would break
    the document. Such a union becomes an `anyOf`."""
    if isinstance(schema, Reference) or not dataclasses.is_dataclass(schema):
        if isinstance(schema, list | tuple):
            for item in schema:
                integer_or_number(item)
        elif isinstance(schema, dict):
            for item in schema.values():
                integer_or_number(item)
        return
    if isinstance(schema, Schema) and schema.one_of:
        types = {getattr(option, "type", None) for option in schema.one_of}
        if OpenAPIType.INTEGER in types and OpenAPIType.NUMBER in types:
            schema.any_of, schema.one_of = [*(schema.any_of or []), *schema.one_of], None
    for item in dataclasses.fields(schema):
        integer_or_number(getattr(schema, item.name))
