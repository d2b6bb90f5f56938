"""A report as an XLSX workbook (`?format=xlsx`): a "summary" sheet of its single figures (the
range, the totals...) and one sheet per table it holds (`rows`, `by_channel`, `prizes`...).

XlsxWriter in constant-memory mode (each row goes to disk as it is written) into a temporary
file, in a worker thread; the file is then streamed a chunk at a time and deleted. (The raw
events stay CSV only: a workbook sheet holds at most 1,048,576 rows.)"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import xlsxwriter

CHUNK = 64 * 1024
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(key: str, value: Any) -> Any:
    """A value as a cell: amounts in CNY as numbers, nothing as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, str) and key.endswith("_cny"):
        try:
            return float(Decimal(value))
        except InvalidOperation:
            return value
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _is_table(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def sections(report: dict[str, Any]) -> tuple[list[tuple[str, Any]], list[tuple[str, list[dict[str, Any]]]]]:
    """The report's single figures (flattened: "totals.actions") and its tables, by name."""
    figures: list[tuple[str, Any]] = []
    tables: list[tuple[str, list[dict[str, Any]]]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif _is_table(value):
            tables.append((prefix, value))
        elif isinstance(value, list):
            figures.append((prefix, ", ".join(map(str, value))))
        else:
            figures.append((prefix, value))

    walk("", report)
    return figures, tables


def write_workbook(path: str, report: dict[str, Any]) -> None:
    figures, tables = sections(report)
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": os.path.dirname(path)})
    try:
        bold = workbook.add_format({"bold": True})
        summary = workbook.add_worksheet("summary")
        for r, (key, value) in enumerate(figures):
            summary.write_string(r, 0, key, bold)
            summary.write(r, 1, _cell(key, value))
        used: set[str] = {"summary"}
        for name, rows in tables:
            title = name.replace(".", "_")[:31]
            while title in used:
                title = title[:29] + f"_{len(used)}"
            used.add(title)
            sheet = workbook.add_worksheet(title)
            columns: list[str] = []
            for row in rows:
                columns += [k for k in row if k not in columns]
            sheet.write_row(0, 0, columns, bold)
            for r, row in enumerate(rows, start=1):
                sheet.write_row(r, 0, [_cell(c, row.get(c)) for c in columns])
    finally:
        workbook.close()


def _chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


async def report_xlsx(report: dict[str, Any]) -> AsyncIterator[bytes]:
    """The workbook, streamed; its temporary file is deleted once sent (or the client gone)."""
    folder = tempfile.mkdtemp(prefix="promo-xlsx-")
    path = os.path.join(folder, "report.xlsx")
    try:
        await asyncio.to_thread(write_workbook, path, report)
        chunks = _chunks(path)
        while (chunk := await asyncio.to_thread(next, chunks, b"")) != b"":
            yield chunk
    finally:
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)
