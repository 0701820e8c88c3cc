"""Records a stream cannot read become rejects, kept whole with the reason, instead of crashing.

Where records become rows (`StreamWriter.rows`), each record is read by its stream's `RowReader`:
the stream's `to_row`, then the row checked against the warehouse's own column types. A record
that fails (an invalid date-time, an object where a value belongs or the reverse, a `null` where
the table requires a value, no primary key, a CSV row with more or fewer fields than its header,
anything `to_row` raises on) becomes a `Reject` with the stream, the record's key, the field and
the reason; the rest of the batch lands, and the rejects are written into `sync_rejects` in the
same transaction (connectors/reject_log.py reads and resolves them).

With a stream named in PROMOSYNC_STRICT_STREAMS (or `all`), its first reject fails the run
instead, with the same message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from promosync.connectors import config
from promosync.connectors.http import ConfigError, UnexpectedAnswer
from promosync.connectors.readable import MISSING, Invalid, rule_of, shown
from promosync.connectors.stream import Row, Stream

STRICT_ENV = config.STRICT_STREAMS
TABLE = "sync_rejects"
PRIMARY_KEY = ("stream", "record_key")


class RejectedRecord(UnexpectedAnswer):
    """A record a strict stream cannot read: the run stops on it."""


@dataclass(frozen=True)
class Reject:
    """A record that did not become a row: which stream, its key, the field at fault and why."""

    stream: str
    key: str
    field: str
    reason: str
    record: Any

    def message(self) -> str:
        """One line naming everything a person needs to find the record."""
        return f"{self.stream} record {self.key}: {self.field} {self.reason}"


def key_text(values: Sequence[Any]) -> str:
    """A primary key as one text: the value, or a JSON list of a composite key's values."""
    if len(values) == 1:
        return str(values[0])
    return orjson.dumps([str(value) for value in values]).decode()


def _sent(record: Any) -> Any:
    """The record as the API sent it: without fields the sync attached (`_...`), a CSV row's
    extra fields under `(extra fields)` (its missing ones are null)."""
    if not isinstance(record, dict):
        return record
    whole = {}
    for name, value in record.items():
        if name is None:
            whole["(extra fields)"] = value
        elif isinstance(name, str) and not name.startswith("_"):
            whole[name] = value
    return whole


def _fingerprint(record: Any) -> str:
    data = orjson.dumps(_sent(record), option=orjson.OPT_SORT_KEYS, default=str)
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


class RowReader:
    """Turns one stream's records into rows, or into rejects saying why (see the module doc)."""

    def __init__(self, stream: Stream, column_types: Mapping[str, tuple[str, bool]]) -> None:
        self.stream = stream
        # The key and the cursor must hold a value whatever the table admits: without them a
        # row cannot be found again nor the stream resume past it.
        required = {*stream.primary_key, stream.cursor_field}
        rules = [
            (column, rule_of(data_type), nullable and column not in required)
            for column, (data_type, nullable) in column_types.items()
        ]
        self.rules = [
            (column, rule, nullable) for column, rule, nullable in rules if rule or not nullable
        ]

    def read(
        self, record: Any, synced_at: datetime, fill: Mapping[str, Any] | None = None
    ) -> Row | Reject:
        """The record's row, or the Reject that says why it cannot be one."""
        shape = self._shape(record)
        try:
            row = self.stream.to_row(record, synced_at)
        except Exception as error:  # a record to_row cannot read: any way it fails
            return self._reject(record, None, *(shape or _cause(error)))
        for column, value in (fill or {}).items():
            if row.get(column) is None:
                row[column] = value
        if shape:  # a CSV row of the wrong length: its row still names its key
            return self._reject(record, row, *shape)
        for value in row.values():
            if value.__class__ is Invalid:
                return self._reject(record, row, value.field, value.reason)
        for column, rule, nullable in self.rules:
            value = row.get(column)
            if value is None:
                if not nullable:
                    return self._reject(record, row, column, "is null where a value is required")
            elif rule is not None and (reason := rule(value)) is not None:
                return self._reject(record, row, column, reason)
        return row

    @staticmethod
    def _shape(record: Any) -> tuple[str, str] | None:
        if not isinstance(record, dict):
            return "(record)", f"is {shown(record)}, not an object"
        if None in record:
            extra = record[None]
            return "(extra fields)", f"the CSV row has {len(extra)} more than its header: {extra!r}"
        if MISSING in record:
            missing = record[MISSING]
            return missing[0], f"is missing: the CSV row has {len(missing)} fewer than its header"
        return None

    def _reject(self, record: Any, row: Row | None, field: str, reason: str) -> Reject:
        key = self.stream.primary_key
        if row is not None and all(_is_key(row.get(column)) for column in key):
            found = key_text([row[column] for column in key])
        elif len(key) == 1 and isinstance(record, dict) and record.get("id") is not None:
            found = str(record["id"])
        else:
            found = _fingerprint(record)
        return Reject(self.stream.name, found, field, reason, _sent(record))


def _is_key(value: Any) -> bool:
    return value is not None and value.__class__ is not Invalid


def _cause(error: Exception) -> tuple[str, str]:
    """The field and reason of an exception `to_row` raised."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0]), "is missing where a value is required"
    return "(record)", f"cannot be read: {type(error).__name__}: {error}"


def reject_row(reject: Reject, seen_at: datetime) -> Row:
    """A reject as its `sync_rejects` row (unresolved)."""
    return {
        "stream": reject.stream, "record_key": reject.key, "field": reject.field,
        "reason": reject.reason, "record": reject.record, "seen_at": seen_at,
        "resolved_at": None, "resolution": None,
    }  # fmt: skip


def strict_streams() -> set[str]:
    """The streams PROMOSYNC_STRICT_STREAMS names (`all`: every one); ConfigError for a typo."""
    named = config.strict_stream_names()
    if not named:
        return named
    # Imported here: the catalog imports every stream's sync module, and they import this one.
    from promosync.connectors.catalog import STREAMS

    known = [stream.name for stream in STREAMS]
    if "all" in named:
        return set(known)
    unknown = sorted(named - set(known))
    if unknown:
        raise ConfigError(
            f"{STRICT_ENV} names {', '.join(unknown)}, not a stream; use `all` or some of:"
            f" {', '.join(known)}"
        )
    return named


def refuse(stream: Stream, reject: Reject) -> RejectedRecord:
    """The error a strict stream stops with, naming the record and the setting."""
    detail = (
        f"{reject.message()}; nothing of its batch was written and the cursor did not move"
        f" ({stream.name} is strict: {STRICT_ENV})"
    )
    return RejectedRecord(stream.platform, "GET", stream.endpoint, detail)
