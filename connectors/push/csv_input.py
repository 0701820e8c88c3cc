"""Rows to push from a CSV file, read chunk by chunk; only regular files, only CSV text.

A file that is not the expected CSV (no header naming the key column, not UTF-8, binary, not
CSV at all) is refused as a whole with a reason that never quotes its content.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from promosync.connectors.push.rows import CHUNK_ROWS, InputRow, InputUnreadable, Rejection
from promosync.connectors.push.rows import column_name as _column_name

MAX_CELL_CHARS = 64 * 2**20  # far above a 10 MB request, so an over-large row gets its own reason
MAX_LINE_CHARS = MAX_CELL_CHARS  # a longer line is no CSV row of a push: refused, not read whole
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that did not decode, kept as lone surrogates
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)
_SIGNATURES = (
    ((b"\xff\xfe", b"\xfe\xff"), "the file is UTF-16 (it starts with a UTF-16 byte order mark);"
     " save it as CSV UTF-8"),
    ((b"PK\x03\x04",), "the file is a ZIP archive (an Excel workbook?), not CSV; export it as"
     " CSV UTF-8"),
    ((b"\x1f\x8b",), "the file is gzip-compressed; decompress it first"),
)  # fmt: skip


def _kind(mode: int) -> str | None:
    """What a file that is not a regular file is, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | Path) -> BinaryIO:
    """`path` opened for reading if it is a regular file; InputUnreadable naming what it is if not.

    The type is checked before opening (a FIFO would block the open) and again on the open file
    (the path may have changed in between); a device, a pipe or a socket could never end.
    """
    shown = str(path)
    try:
        kind = _kind(os.stat(path).st_mode)
        if kind is None:
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            kind = _kind(os.fstat(descriptor).st_mode)
            if kind is not None:
                os.close(descriptor)
    except OSError as error:
        raise InputUnreadable(f"cannot read {shown!r}: {error.strerror}") from None
    if kind is not None:
        raise InputUnreadable(f"{shown!r} is {kind}, not a regular file; give a CSV file")
    os.set_blocking(descriptor, True)
    return open(descriptor, "rb", buffering=2**16)


def _not_utf8(cells: list[str]) -> str | None:
    """Why a record's text is not usable (bytes that are not UTF-8, a NUL byte), or None."""
    for index, cell in enumerate(cells, start=1):
        found = _NOT_UTF8.search(cell)
        if found:
            byte = ord(found.group()) - 0xDC00
            return f"not valid UTF-8: byte 0x{byte:02x} in column {index}; save the file as UTF-8"
        if "\x00" in cell:
            return f"a NUL byte in column {index}: is the file binary, or UTF-16?"
    return None


def _lines(text: io.TextIOBase) -> Iterator[str]:
    """The file's lines; InputUnreadable at a line too long to be a row (a binary file?)."""
    number = 0
    while line := text.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise InputUnreadable(
                f"line {number} of the file is over {MAX_LINE_CHARS:,} characters: not a CSV row"
                " a push can send; nothing in the file was sent"
            )
        yield line


def _records(binary: BinaryIO) -> Iterator[list[str]]:
    """The file's non-blank records; InputUnreadable naming the line where an unreadable starts."""
    head = binary.peek(4)[:4]
    for signatures, reason in _SIGNATURES:
        if head.startswith(signatures):
            raise InputUnreadable(reason)
    # surrogateescape keeps undecodable bytes, so each row can be judged on its own.
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(_lines(text), strict=True)
    start = 1
    # A cell may hold metadata up to the 10 MB request limit, not only csv's default 128 KB.
    limit = csv.field_size_limit(MAX_CELL_CHARS)
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                yield record
            start = reader.line_num + 1
    except csv.Error as error:
        raise InputUnreadable(
            f"the file is not valid CSV from line {start}: {error} (a quote left open, or a quote"
            " inside a quoted cell not doubled); nothing in it was sent"
        ) from None
    except OSError as error:
        raise InputUnreadable(f"the file could not be read to its end: {error.strerror}") from None
    finally:
        csv.field_size_limit(limit)


def _header(record: list[str], required: str) -> list[str]:
    """The column names of the header row; InputUnreadable if it is not this push's header."""
    problem = _not_utf8(record)
    if problem:
        raise InputUnreadable(f"the header row cannot be read: {problem}; nothing was sent")
    header = [_column_name(cell) for cell in record]
    if required not in header:
        separator = next((s for s in (";", "\t", "|") if any(s in cell for cell in record)), None)
        found = f"its first row has {len(header)} column(s)"
        if separator and any(_column_name(c) == required for c in record[0].split(separator)):
            found = f"its columns are separated by {separator!r}: separate them with commas"
        raise InputUnreadable(
            f"the file has no header row naming {required} ({found}); is it the CSV file of"
            " this push? Nothing in it was sent"
        )
    for index, name in enumerate(header, start=1):
        if name == "":
            raise InputUnreadable(f"column {index} of the header row has no name; name it")
        if header.index(name) != index - 1:
            first = header.index(name) + 1
            raise InputUnreadable(
                f"the header row names {name!r} twice (columns {first} and {index}); name each"
                " column once"
            )
    return header


def csv_chunks(
    path: str | Path, required: str, size: int = CHUNK_ROWS
) -> Iterator[list[InputRow | Rejection]]:
    """The data rows of a CSV file whose header names `required`, `size` at a time.

    A row that cannot be used (not UTF-8, a NUL byte, a cell count other than the header's) is
    a Rejection and the others go on; a file that cannot be used at all raises InputUnreadable.
    """
    with open_regular(path) as binary:
        records = _records(binary)
        first = next(records, None)
        if first is None:
            raise InputUnreadable("the file is empty: it needs a header row and data rows")
        header = _header(first, required)
        chunk: list[InputRow | Rejection] = []
        for number, record in enumerate(records, start=1):
            problem = _not_utf8(record)
            if problem is None and len(record) != len(header):
                problem = f"row has {len(record)} cells, the header has {len(header)}"
            if problem:
                chunk.append(Rejection(number, None, problem))
            else:
                cells = zip(header, record, strict=True)
                chunk.append(InputRow(number, {h: (c if c != "" else None) for h, c in cells}))
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
