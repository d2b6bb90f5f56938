"""Path and query parameters, bounded at the boundary: an integer no SQL column, Lua script or
JSON client holds exactly (2**63, 99999999999999999999...) is a 400 `invalid_parameter`, never
a 500. Every route takes its integers through these types (tests/integration/test_boundary.py walks every
route with huge values)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

from activities.model import MAX_SAFE_INT

Id = Annotated[int, PathParameter(ge=1, le=MAX_SAFE_INT)]  # an activity, a prize...
IdFilter = Annotated[int | None, QueryParameter(ge=1, le=MAX_SAFE_INT)]  # ?activity=
Cursor = Annotated[
    str | None, QueryParameter(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")
]  # ?cursor= (opaque, activities/pages.py)
Limit = Annotated[int, QueryParameter(ge=1, le=200)]  # ?limit=
