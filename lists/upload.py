"""Reading a list's members from a request body: CSV (one id per line, an optional `member_id`
header; streamed, never held whole) or JSON. Every id is checked before anything is written; the
checked ids wait in a spooled temporary file (in memory up to a few MB, on disk beyond), read back
in batches when the list is written."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from activities.auth import SUBJECT
from activities.errors import invalid
from lists.model import MAX_MEMBERS

BATCH = 10_000  # ids per SQL insert and per SADD
MAX_LINE = 1024  # bytes of one line (an id is at most 64)
# The request body: 1,000,000 ids of 64 characters with CRLF, and a header.
MAX_BODY_BYTES = MAX_MEMBERS * 66 + 1024
_SPOOL_BYTES = 4 * 1024 * 1024


def _bad_id(line: int, field_name: str) -> Exception:
    return invalid(
        "member_id_invalid",
        f"{field_name}: member ids are 1-64 of letters, digits, _ . @ -",
        field=field_name,
        line=line,
    )


def _too_large() -> Exception:
    return invalid("list_too_large", f"a list has at most {MAX_MEMBERS:,} members", max=MAX_MEMBERS)


@dataclass
class Members:
    """Checked member ids (possibly repeated: the list keeps each once), spooled."""

    file: IO[bytes] = field(default_factory=lambda: tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES))  # noqa: SIM115
    count: int = 0

    def add(self, member_id: str) -> None:
        self.count += 1
        if self.count > MAX_MEMBERS:
            raise _too_large()
        self.file.write(member_id.encode() + b"\n")

    def batches(self, size: int = BATCH) -> Iterator[list[str]]:
        """The ids, `size` at a time (read back from the spool)."""
        self.file.seek(0)
        batch: list[str] = []
        for raw in self.file:
            batch.append(raw[:-1].decode())
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def close(self) -> None:
        self.file.close()


def from_json(ids: Sequence[str]) -> Members:
    """The `members` of a JSON body, checked (`details.field`: "members[3]")."""
    members = Members()
    for index, member_id in enumerate(ids):
        if not SUBJECT.match(member_id):
            members.close()
            raise _bad_id(index + 1, f"members[{index}]")
        members.add(member_id)
    return members


class CsvReader:
    """Feeds on the body's chunks; checks each line as it completes."""

    def __init__(self) -> None:
        self.members = Members()
        self._rest = b""
        self._line = 0

    def feed(self, chunk: bytes) -> None:
        data = self._rest + chunk
        lines = data.split(b"\n")
        self._rest = lines.pop()
        if len(self._rest) > MAX_LINE:
            raise _bad_id(self._line + 1, f"line {self._line + 1}")
        for raw in lines:
            self._take(raw)

    def finish(self) -> Members:
        if self._rest:
            self._take(self._rest)
            self._rest = b""
        if self.members.count == 0:
            raise invalid("list_empty", "the list has no member ids: send one id per line")
        return self.members

    def _take(self, raw: bytes) -> None:
        self._line += 1
        if self._line == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark (Excel)
            raw = raw[3:]
        text = raw.strip()
        if text.startswith(b'"') and text.endswith(b'"') and len(text) >= 2:
            text = text[1:-1].strip()
        if not text:
            return  # blank lines (a trailing newline) are skipped
        try:
            member_id = text.decode("ascii")
        except UnicodeDecodeError:
            raise _bad_id(self._line, f"line {self._line}") from None
        if self.members.count == 0 and member_id.lower() == "member_id":
            return  # the header
        if not SUBJECT.match(member_id):
            raise _bad_id(self._line, f"line {self._line}")
        self.members.add(member_id)


async def from_csv(chunks: AsyncIterator[bytes]) -> Members:
    """The ids of a CSV body streamed in `chunks`, checked line by line (`details.line`)."""
    reader = CsvReader()
    try:
        async for chunk in chunks:
            reader.feed(chunk)
        return reader.finish()
    except BaseException:
        reader.members.close()
        raise
