"""Rows to push: from a query in sql/push/ or from a CSV file the user names."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from promosync.connectors.http import ConfigError
from promosync.connectors.warehouse import SQL_DIR, Warehouse

PUSH_SQL_DIR = SQL_DIR / "push"
_NAME = re.compile(r"^[a-z0-9_]+$")
MAX_CELL_CHARS = 64 * 2**20  # far above a 10 MB request, so an over-large row gets its own reason
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that did not decode, kept as lone surrogates
# Header spellings that mean the same column.
ALIASES = {"integrationid": "integration_id", "audienceid": "audience_id"}


@dataclass(frozen=True)
class InputRow:
    """One input row: its 1-based number (query order, or CSV data row) and its columns."""

    number: int
    fields: dict[str, Any]


@dataclass(frozen=True)
class Rejection:
    """A row that will not be sent, and why."""

    number: int | None
    key: str | None
    reason: str


def column_name(header: str) -> str:
    """A column name as the push code reads it: trimmed, lower case, aliases resolved."""
    name = header.strip().lower()
    return ALIASES.get(name, name)


def _plain(value: Any) -> Any:
    """A database value as JSON-ready data (dates as ISO text, decimals as numbers)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def query_path(name: str) -> Path:
    """The file of push query `name`; ConfigError naming the available ones if it is missing."""
    path = PUSH_SQL_DIR / f"{name}.sql"
    if not _NAME.match(name) or not path.is_file():
        available = ", ".join(sorted(p.stem for p in PUSH_SQL_DIR.glob("*.sql")))
        raise ConfigError(f"no push query {name!r} in sql/push/; available: {available}")
    return path


def query_rows(warehouse: Warehouse, name: str) -> list[InputRow]:
    """The rows of push query `name`, numbered from 1 in the query's order."""
    records = warehouse.query(query_path(name).read_text())
    return [
        InputRow(number, {column_name(k): _plain(v) for k, v in record.items()})
        for number, record in enumerate(records, start=1)
    ]


def _not_utf8(cells: list[str]) -> str | None:
    for index, cell in enumerate(cells, start=1):
        found = _NOT_UTF8.search(cell)
        if found:
            byte = ord(found.group()) - 0xDC00
            return f"not valid UTF-8: byte 0x{byte:02x} in column {index}; save the file as UTF-8"
        if "\x00" in cell:
            return f"a NUL byte in column {index}: is the file binary, or UTF-16?"
    return None


def _not_text_csv(raw: bytes) -> str | None:
    """Why the file as a whole is not CSV text: a UTF-16 file, or a spreadsheet workbook."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as CSV UTF-8"
    if raw.startswith(b"PK\x03\x04"):
        return "the file is a ZIP archive (an Excel workbook?), not CSV; export it as CSV UTF-8"
    return None


def _records(text: str) -> list[list[str]]:
    """The file's non-blank records; csv.Error naming the line where an unreadable one starts."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records, start = [], 1
    # A cell may hold metadata up to the 10 MB request limit, not only csv's default 128 KB.
    limit = csv.field_size_limit(MAX_CELL_CHARS)
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                records.append(record)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise csv.Error(
            f"the file is not valid CSV from line {start}: {exc} (a quote left open, or a quote"
            " inside a quoted cell not doubled); nothing in it was sent"
        ) from None
    finally:
        csv.field_size_limit(limit)
    return records


def unreadable(rejected: list[Rejection]) -> str | None:
    """Why a CSV file could not be read at all (a rejection of the whole file), or None."""
    return next((r.reason for r in rejected if r.number is None), None)


def csv_rows(path: str | Path, required: str) -> tuple[list[InputRow], list[Rejection]]:
    """The data rows of a CSV file whose header names `required`, and the rows it cannot use."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    problem = _not_text_csv(raw)
    if problem:
        return [], [Rejection(None, None, problem)]
    # surrogateescape keeps undecodable bytes, so each row can be judged on its own.
    text = raw.decode("utf-8-sig", errors="surrogateescape")
    try:
        records = _records(text)
    except csv.Error as exc:
        return [], [Rejection(None, None, str(exc))]
    if not records:
        return [], [Rejection(None, None, "the file is empty: it needs a header row and data rows")]
    header = [column_name(h) for h in records[0]]
    problem = _not_utf8(records[0])
    if problem is None and required not in header:
        first = ",".join(records[0])
        problem = f"the file has no header row naming {required} (its first line is {first[:80]!r})"
        separator = next((s for s in (";", "\t", "|") if s in first), None)
        if separator:
            problem += f"; separate columns with commas, not {separator!r}"
    elif problem is None and len(set(header)) != len(header):
        problem = "the header repeats a column name"
    if problem:  # without a header no row can be read: every line gets the reason
        return [], [Rejection(n, None, problem) for n in range(1, len(records) + 1)]
    rows, rejected = [], []
    for number, record in enumerate(records[1:], start=1):
        problem = _not_utf8(record)
        if problem is None and len(record) != len(header):
            problem = f"row has {len(record)} cells, the header has {len(header)}"
        if problem:
            rejected.append(Rejection(number, None, problem))
            continue
        cells = zip(header, record, strict=True)
        rows.append(InputRow(number, {h: (c if c != "" else None) for h, c in cells}))
    return rows, rejected
