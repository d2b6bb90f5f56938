"""Audience list CSV bodies are read line by line whatever the chunks they arrive in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from activities.errors import PromoError
from lists.upload import CsvReader, from_csv, from_json

BODY = b'\xef\xbb\xbfmember_id\r\nu1\r\n\r\n "u2" \r\nu.3@x-y_z\nu1'


async def _chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_any_chunking_reads_the_same_ids(size: int) -> None:
    members = asyncio.run(from_csv(_chunks(BODY, size)))
    assert members.count == 4
    assert [m for batch in members.batches(2) for m in batch] == ["u1", "u2", "u.3@x-y_z", "u1"]
    members.close()


@pytest.mark.parametrize(
    ("body", "code", "line"),
    [
        (b"", "list_empty", 0),
        (b"member_id\r\n\r\n", "list_empty", 0),
        (b"u1\nu 2\n", "member_id_invalid", 2),
        (b"u1\n" + b"x" * 65, "member_id_invalid", 2),
        (b"u1,u2\n", "member_id_invalid", 1),
        ("会员\n".encode(), "member_id_invalid", 1),
    ],
)
def test_bad_bodies(body: bytes, code: str, line: int) -> None:
    with pytest.raises(PromoError) as raised:
        asyncio.run(from_csv(_chunks(body, 3)))
    assert raised.value.code == code
    if code == "member_id_invalid":
        assert raised.value.details["line"] == line


def test_the_header_is_only_the_first_line() -> None:
    members = asyncio.run(from_csv(_chunks(b"u1\nmember_id\n", 3)))  # then an id like any other
    assert members.count == 2
    members.close()


def test_a_line_without_end_is_cut_short() -> None:
    reader = CsvReader()
    reader.feed(b"u1\n")
    with pytest.raises(PromoError) as raised:
        reader.feed(b"y" * 2000)
    assert raised.value.code == "member_id_invalid" and raised.value.details["line"] == 2
    reader.members.close()


def test_json_members_name_the_bad_index() -> None:
    with pytest.raises(PromoError) as raised:
        from_json(["ok", "not ok"])
    assert raised.value.details == {"field": "members[1]", "line": 2}
