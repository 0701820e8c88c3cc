"""Row checks before anything is sent; every refused row gets a reason."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from promosync.connectors.push.rows import InputRow, Rejection

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RowProblem(ValueError):
    """Why one row cannot be sent."""


@dataclass(frozen=True)
class Prepared:
    """A valid row: its number, its key, and what a request carries for it (JSON-ready)."""

    number: int
    key: str
    payload: Any


def required_text(fields: dict[str, Any], name: str, label: str | None = None) -> str:
    """A non-empty key column, as text."""
    value = fields.get(name)
    if value is None or str(value).strip() == "":
        raise RowProblem(f"{label or name} is missing")
    return str(value)


def json_object(value: Any, name: str) -> dict[str, Any]:
    """A JSON object given as an object or as JSON text."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise RowProblem(f"{name} is not valid JSON: {value[:60]!r}") from None
    if not isinstance(value, dict):
        raise RowProblem(f"{name} must be a JSON object, got {type(value).__name__}: {value!r:.60}")
    return value


def email(value: Any) -> str:
    """An email address shaped like local@domain.tld."""
    if not isinstance(value, str) or not EMAIL.match(value):
        raise RowProblem(f"email {value!r} is not a valid email address")
    return value


def calendar_date(value: Any, name: str) -> str:
    """A real calendar date written YYYY-MM-DD."""
    text = str(value)
    try:
        if not DATE.match(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise RowProblem(f"{name} {text!r} is not a date in the YYYY-MM-DD format") from None
    return text


def prepare_rows(
    rows: Iterable[InputRow],
    build: Callable[[dict[str, Any]], tuple[str, Any]],
    key_column: str,
) -> tuple[list[Prepared], list[Rejection]]:
    """Build each row's (key, payload); refuse bad rows and every copy of a duplicated key."""
    prepared, rejected = [], []
    for row in rows:
        try:
            key, payload = build(row.fields)
        except RowProblem as problem:
            key = row.fields.get(key_column)
            rejected.append(Rejection(row.number, None if key is None else str(key), str(problem)))
            continue
        prepared.append(Prepared(row.number, key, payload))
    numbers: dict[str, list[int]] = defaultdict(list)
    for item in prepared:
        numbers[item.key].append(item.number)
    duplicated = {key: found for key, found in numbers.items() if len(found) > 1}
    if not duplicated:
        return prepared, rejected
    for item in prepared:
        if item.key in duplicated:
            rows_text = ", ".join(map(str, duplicated[item.key]))
            reason = f"{key_column} {item.key!r} appears in rows {rows_text}; send each key once"
            rejected.append(Rejection(item.number, item.key, reason))
    return [item for item in prepared if item.key not in duplicated], rejected
