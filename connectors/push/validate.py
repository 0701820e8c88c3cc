"""Row checks before anything is sent; every refused row gets a reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from promosync.connectors.push.hashing import content_hash, json_bytes
from promosync.connectors.push.rows import InputRow, Rejection

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # tabs, line breaks, NUL and the other C0/C1 codes

Build = Callable[[dict[str, Any]], tuple[str, Any]]


class RowProblem(ValueError):
    """Why one row cannot be sent."""


@dataclass(frozen=True)
class Prepared:
    """A valid row: its number, its key, its request payload encoded, and the payload's hash."""

    number: int
    key: str
    payload: bytes
    hash: str


def required_text(fields: dict[str, Any], name: str, label: str | None = None) -> str:
    """A key column as text without surrounding whitespace; refused if empty or with controls."""
    value = fields.get(name)
    text = "" if value is None else str(value).strip()
    if text == "":
        raise RowProblem(f"{label or name} is missing")
    if _CONTROL.search(text):
        raise RowProblem(
            f"{label or name} {text[:60]!r} holds a control character (a tab, line break or NUL)"
        )
    return text


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


def prepare(row: InputRow, build: Build, key_column: str) -> Prepared | Rejection:
    """The row's key, encoded payload and hash; or why it cannot be sent."""
    try:
        key, payload = build(row.fields)
        return Prepared(row.number, key, json_bytes(payload), content_hash(payload))
    except RowProblem as problem:
        reason = str(problem)
    except orjson.JSONEncodeError as error:  # e.g. an integer beyond 64 bits, binary data
        reason = f"a value cannot be sent as JSON: {error}"
    key = row.fields.get(key_column)
    return Rejection(row.number, None if key is None else str(key).strip(), reason)
