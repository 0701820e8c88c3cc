"""What makes a value of a record readable: its column type's check, nested objects where the
spec has them, CSV rows with the fields their header names. The reader (connectors/rejects.py)
rejects a record for the first problem found here."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, NamedTuple

from promosync.connectors.stream import Record

MISSING: Any = object()  # a CSV record's key listing the fields its row left out
_INSTANT = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
)
_INTEGER = re.compile(r"^[+-]?\d+$")
_SHOWN = 80  # characters of a value quoted in a reason


class Invalid(NamedTuple):
    """A value `to_row` could not read, left in the row for the reader to reject with why."""

    field: str
    reason: str


def member(record: Mapping[str, Any], *path: str) -> Any:
    """The value at `path` through nested objects; None where absent; Invalid where a step that
    should be an object is something else (e.g. a tier given as a name, not an object)."""
    value: Any = record
    for depth, name in enumerate(path):
        if value.__class__ is not dict:
            if value is None:
                return None
            if not isinstance(value, dict):
                where = ".".join(path[:depth])
                return Invalid(where, f"is {shown(value)} where the spec has an object")
        value = value.get(name)
    return value


def read_csv(text: str) -> list[Record]:
    """CSV rows as records, so the reader rejects a malformed row alone (with the reason) and
    reads the others: fields past the header go under None, and a row short of fields lists the
    missing ones under MISSING (their values None)."""
    records = list(csv.DictReader(io.StringIO(text), restval=MISSING))
    for record in records:
        missing = [name for name, value in record.items() if value is MISSING]
        if missing:
            record.update(dict.fromkeys(missing))
            record[MISSING] = missing
    return records


def shown(value: Any) -> str:
    """A value as a reason quotes it: its type and its first characters."""
    text = repr(value)
    kind = type(value).__name__
    return f"a {kind} {text[:_SHOWN]}{'…' if len(text) > _SHOWN else ''}"


def _instant(value: Any) -> str | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, str) and _INSTANT.match(value):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            return None
        except ValueError:
            pass
    return f"is {shown(value)}, not an ISO 8601 date-time"


def _date(value: Any) -> str | None:
    if isinstance(value, date):
        return None
    try:
        date.fromisoformat(value)
        return None
    except (TypeError, ValueError):
        return f"is {shown(value)}, not a YYYY-MM-DD date"


def _integer(value: Any) -> str | None:
    if (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and _INTEGER.match(value)
    ):
        return None
    return f"is {shown(value)}, not an integer"


def _number(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            float(value)
            return None
        except ValueError:
            pass
    return f"is {shown(value)}, not a number"


def _boolean(value: Any) -> str | None:
    if isinstance(value, bool) or value in ("true", "false"):
        return None
    return f"is {shown(value)}, not true or false"


def rule_of(data_type: str) -> Callable[[Any], str | None] | None:
    """The check a value must pass to be written into a column of SQL type `data_type`."""
    kind = data_type.lower()
    if "timestamp" in kind:
        return _instant
    if kind == "date":
        return _date
    if kind in ("bigint", "integer", "smallint", "int", "hugeint", "int8", "int4"):
        return _integer
    if kind.startswith(("double", "real", "float", "numeric", "decimal")):
        return _number
    if kind == "boolean":
        return _boolean
    return None  # text and JSON take any value the API sends
