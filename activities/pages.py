"""Paginated lists: every list the API returns is `{"items": [...], "next_cursor": ...}`.

Keyset pagination, never OFFSET: a page ends at the key of its last item (for instance
(drawn_at_ms, id) for draws, newest first) and the next page starts strictly after it, so rows
written meanwhile neither repeat nor shift the pages. The client passes `next_cursor` back as
`?cursor=` unchanged; it is opaque (base64url of the key in JSON), and anything that is not a
cursor of that list is a 400 `invalid_cursor`. `next_cursor` is null on the last page."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import msgspec

from activities.errors import Kind, PromoError
from activities.model import MAX_SAFE_INT

T = TypeVar("T")
R = TypeVar("R")

Key = tuple[int | str, ...]


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None  # pass it back as ?cursor= for the next page; null: the last page


def encode_cursor(key: Key) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(key))).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, shape: Sequence[type[int] | type[str]]) -> Key | None:
    """The key in `cursor` (None without one), checked against `shape`: the type of each part
    (integers 0..2^53-1, strings of at most 100 characters). Anything else is `invalid_cursor`."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = msgspec.json.decode(raw, type=list[int | str])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise _invalid() from None
    if len(parts) != len(shape):
        raise _invalid()
    for part, type_ in zip(parts, shape, strict=True):
        if type(part) is not type_:
            raise _invalid()
        if isinstance(part, int) and not 0 <= part <= MAX_SAFE_INT:
            raise _invalid()
        if isinstance(part, str) and len(part) > 100:
            raise _invalid()
    return tuple(parts)


def _invalid() -> PromoError:
    return PromoError(Kind.MALFORMED, "invalid_cursor", "the cursor is not one this list handed out")


def cut(rows: list[R], limit: int, key_of: Callable[[R], Key]) -> tuple[list[R], str | None]:
    """The page's rows and the next cursor, from rows fetched with limit + 1: the extra row only
    says that there is more."""
    if len(rows) <= limit:
        return rows, None
    kept = rows[:limit]
    return kept, encode_cursor(key_of(kept[-1]))
