"""Rows to push from a query in sql/push/, read chunk by chunk; the types every input shares."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa
from promosync.connectors.http import ConfigError
from promosync.connectors.warehouse import SQL_DIR, Warehouse

PUSH_SQL_DIR = SQL_DIR / "push"
CHUNK_ROWS = 10_000  # rows read, checked and spooled together
_NAME = re.compile(r"^[a-z0-9_]+$")
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


class InputUnreadable(Exception):
    """The input as a whole cannot be used, so nothing of it is sent; the message says why.

    It never quotes the input's content: a file given by mistake may hold anything.
    """


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


ONE_SELECT = "a push query is one SELECT statement"


def _failed(name: str, error: Exception) -> InputUnreadable:
    cause = str(getattr(error, "orig", None) or error).strip().splitlines() or ["unknown error"]
    hint = f" ({ONE_SELECT})" if "syntax error" in cause[0].lower() else ""
    return InputUnreadable(
        f"the push query {name} failed: {cause[0]}{hint}; fix sql/push/{name}.sql"
    )


def _one_duckdb_select(name: str, text: str) -> None:
    """InputUnreadable unless DuckDB's parser finds exactly one SELECT in `text`."""
    try:
        kinds = [statement.type.name for statement in duckdb.extract_statements(text)]
    except duckdb.Error as error:
        raise _failed(name, error) from None
    if kinds != ["SELECT"]:
        found = ", ".join(kinds) or "no statement"
        raise InputUnreadable(
            f"the push query {name} holds {found}: {ONE_SELECT}; fix sql/push/{name}.sql"
        )


def query_chunks(
    warehouse: Warehouse, name: str, required: str, size: int = CHUNK_ROWS
) -> Iterator[list[InputRow]]:
    """The rows of push query `name`, numbered from 1 in the query's order, `size` at a time.

    The query text goes to the database as written (no bind parameters, so `:name`, `%` or `?`
    in a string literal or a comment stay text), streamed from a server-side cursor, inside a
    transaction that is rolled back (and read-only on PostgreSQL): a push query changes nothing.
    It must be one SELECT: PostgreSQL's cursor takes nothing else, DuckDB's parser checks it.
    """
    text = query_path(name).read_text()
    if warehouse.dialect == "duckdb":  # it would run every statement it is given
        _one_duckdb_select(name, text)
    options: dict[str, Any] = {"stream_results": True, "no_parameters": True}
    if warehouse.dialect == "postgresql":
        options["postgresql_readonly"] = True
    number = 0
    try:
        with warehouse.engine.connect() as conn:
            result = conn.execution_options(**options).exec_driver_sql(text)
            if not result.returns_rows:
                raise InputUnreadable(
                    f"the push query {name} returns no rows: sql/push/{name}.sql must be a SELECT"
                )
            names = result.keys()  # the result's column names (iterating it reads rows)
            columns = [column_name(str(c)) for c in names]
            repeated = sorted({c for c in columns if columns.count(c) > 1})
            if repeated:
                raise InputUnreadable(
                    f"the push query {name} returns the column {repeated[0]} more than once;"
                    f" fix sql/push/{name}.sql"
                )
            if required not in columns:
                raise InputUnreadable(
                    f"the push query {name} returns no {required} column (it returns"
                    f" {', '.join(columns)}); fix sql/push/{name}.sql"
                )
            while records := result.fetchmany(size):
                chunk = []
                for record in records:
                    number += 1
                    fields = dict(zip(columns, map(_plain, record), strict=True))
                    chunk.append(InputRow(number, fields))
                yield chunk
    except sa.exc.DBAPIError as error:
        raise _failed(name, error) from None
