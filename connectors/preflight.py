"""What a run checks before it reads: every raw table and column that sql/tables declares, cursors
backed by the rows they promise, and no cursor in the future.

A table or column dropped by hand, or rows deleted under a cursor, are repaired: the table or
column is created again and the stream's cursors are reset, so the run re-reads it from the start
(nothing else could fill the gap). A cursor in the future, an unreadable one, or a lost key column
is refused with the command that fixes it: the data cannot say what the right value would be, and
a wrong clock on this machine would otherwise re-read everything on every run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from promosync.connectors import catalog
from promosync.connectors.cursor import format_instant, parse_instant
from promosync.connectors.health import RAW_TABLES
from promosync.connectors.stream import CURSOR_FORWARD
from promosync.connectors.warehouse import (
    DATABASE_ERRORS,
    SQL_DIR,
    Warehouse,
    WarehouseError,
    warehouse_error,
)

log = logging.getLogger(__name__)

FUTURE_SKEW = timedelta(minutes=5)  # clocks of this machine and the API's may differ this much
# Where a committed cursor promises stored rows: stream -> the column that holds its partition
# key (None: its stream-wide cursor promises at least one row). Other streams promise none: a
# Talon.One window, a segments watermark or a run mark may cover no row at all.
ROWS_BEHIND_CURSORS: dict[str, str | None] = {
    "voucherify_customers": None,
    "voucherify_customer_activities": "customer_id",
    "voucherify_loyalty_transactions": "campaign_id",
}
# Streams whose stream-wide cursor is an instant: those declaring the cursor_forward check.
INSTANT_CURSOR_STREAMS = frozenset(s.name for s in catalog.STREAMS if CURSOR_FORWARD in s.checks)
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", re.DOTALL)
_COLUMN = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s+(.+?)\s*,?\s*$")
_CONSTRAINT = re.compile(r"\s+(PRIMARY KEY|NOT NULL|NULL|DEFAULT|UNIQUE|REFERENCES|CHECK)\b.*")
_state = sa.table("sync_state", sa.column("stream"), sa.column("partition_key"),
                  sa.column("cursor_value"))  # fmt: skip


class StateError(WarehouseError):
    """The warehouse's state cannot be trusted and promosync cannot repair it alone."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stream's table or cursors, and its fix: what a sync does about it
    (`repairable`), or the command a person must run."""

    stream: str
    summary: str
    fix: str  # repairable: what a sync does ("re-reads the stream ..."); else what to run
    repairable: bool
    columns: tuple[str, ...] = ()  # columns to add back

    def __str__(self) -> str:
        return f"{self.summary}; {'the next sync ' if self.repairable else ''}{self.fix}"

    def repaired(self) -> str:
        """The repair, as the sync that made it reports it."""
        return f"{self.summary}; this sync {self.fix}"


@cache
def declared_columns() -> dict[str, dict[str, str]]:
    """Each table of sql/tables: its columns and their SQL types, as declared."""
    tables: dict[str, dict[str, str]] = {}
    for path in sorted((SQL_DIR / "tables").glob("*.sql")):
        script = re.sub(r"--[^\n]*", "", path.read_text())
        for name, body in _TABLE.findall(script):
            columns = {}
            for line in body.splitlines():
                match = _COLUMN.match(line)
                if match and match[1] not in ("primary", "unique", "constraint"):
                    columns[match[1]] = _CONSTRAINT.sub("", match[2]).rstrip(",")
            tables[name] = columns
    return tables


def _cursor_counts(conn: sa.Connection, streams: Iterable[str]) -> dict[str, int]:
    query = (
        sa.select(_state.c.stream, sa.func.count())
        .where(_state.c.stream.in_(list(streams)), _state.c.cursor_value.is_not(None))
        .group_by(_state.c.stream)
    )
    return {stream: int(count) for stream, count in conn.execute(query)}


def _rows_missing(conn: sa.Connection, stream: str, column: str | None) -> int:
    """How many of the stream's cursors promise rows that are not stored (0: none)."""
    table = sa.table(stream, *(sa.column(c) for c in [column] if c))
    if column is None:
        any_row = sa.select(sa.literal(1)).select_from(table).limit(1)
        return 0 if conn.execute(any_row).first() else 1
    stored = sa.select(sa.literal(1)).where(table.c[column] == _state.c.partition_key)
    query = sa.select(sa.func.count()).where(
        _state.c.stream == stream,
        _state.c.partition_key != "",
        _state.c.cursor_value.is_not(None),
        ~stored.exists(),
    )
    return int(conn.execute(query).scalar_one())


def _newest_instant(conn: sa.Connection, stream: str) -> tuple[str, str] | None:
    """The stream's latest cursor that is an ISO instant, and its partition."""
    query = (
        sa.select(_state.c.partition_key, _state.c.cursor_value)
        .where(_state.c.stream == stream, _state.c.cursor_value.like("____-__-__%"))
        .order_by(_state.c.cursor_value.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return (row[0], row[1]) if row else None


def _cursor_problem(conn: sa.Connection, stream: str, now: datetime) -> Problem | None:
    fix = f"run `promosync sync --only {stream} --full-refresh` to re-read it from the start"
    whole = conn.execute(
        sa.select(_state.c.cursor_value).where(
            _state.c.stream == stream, _state.c.partition_key == ""
        )
    ).scalar()
    if stream in INSTANT_CURSOR_STREAMS and whole is not None:
        try:
            parse_instant(whole)
        except ValueError:
            return Problem(stream, f"{stream}: cursor {whole!r} is not an instant", fix, False)
    newest = _newest_instant(conn, stream)
    if newest is None:
        return None
    partition, value = newest
    try:
        instant = parse_instant(value)
    except ValueError:
        return None  # an id that looks like a date: not an instant cursor
    if instant <= now + FUTURE_SKEW:
        return None
    where = f" (partition {partition!r})" if partition else ""
    summary = (
        f"{stream}: cursor {value}{where} is in the future (now {format_instant(now)}): the stream"
        " would read nothing new until then"
    )
    return Problem(stream, summary, f"check this machine's clock; if it is right, {fix}", False)


def _table_problem(
    stream: str, inspector: sa.Inspector, cursors: int, again: str
) -> Problem | None:
    """A stream's table or one of its columns missing (a snapshot's table is simply re-made)."""
    if not inspector.has_table(stream):
        if not cursors:  # a first run, or a snapshot: its next run fills the table anyway
            return None
        fix = f"creates it again and {again}"
        return Problem(stream, f"{stream}: table missing (dropped by hand?)", fix, True)
    present = {column["name"] for column in inspector.get_columns(stream)}
    lost = tuple(c for c in declared_columns().get(stream, {}) if c not in present)
    key_lost = [c for c in RAW_TABLES.get(stream, ()) if c in lost]
    if key_lost:
        summary = f"{stream}: key column {', '.join(key_lost)} missing, rows cannot be matched"
        fix = (
            f"drop the table (DROP TABLE {stream}) and run `promosync sync --only {stream}`: it"
            " is created again and re-read from the start"
        )
        return Problem(stream, summary, fix, False)
    if lost:
        summary = f"{stream}: column {', '.join(lost)} missing (dropped by hand?)"
        return Problem(stream, summary, f"adds it again and {again} to fill it", True, lost)
    return None


def find_problems(
    warehouse: Warehouse, now: datetime, streams: Iterable[str] = tuple(RAW_TABLES)
) -> list[Problem]:
    """What is wrong with each stream's table and cursors; reads only."""
    streams = list(streams)
    inspector = sa.inspect(warehouse.engine)
    problems = []
    if not inspector.has_table("sync_state"):
        return []  # a new warehouse
    with warehouse.engine.connect() as conn:
        cursors = _cursor_counts(conn, streams)
        for stream in streams:
            count = cursors.get(stream, 0)
            again = f"re-reads the stream from the start ({count} cursor(s) reset)"
            problem = _table_problem(stream, inspector, count, again)
            if problem or not inspector.has_table(stream):
                problems += [problem] if problem else []
                continue
            if count and stream in ROWS_BEHIND_CURSORS:
                column = ROWS_BEHIND_CURSORS[stream]
                missing = _rows_missing(conn, stream, column)
                if missing:
                    what = f"{missing} {column} cursor(s) have" if column else "its cursor has"
                    behind = "them" if column else "it"
                    summary = f"{stream}: {what} no stored row behind {behind} (deleted by hand?)"
                    problems.append(Problem(stream, summary, again, True))
            problem = _cursor_problem(conn, stream, now)
            problems += [problem] if problem else []
    return problems


def prepare(warehouse: Warehouse, now: datetime, refuse_for: Iterable[str] = ()) -> list[Problem]:
    """Create the tables, repair what can be repaired, and return what was repaired.

    StateError when a problem of a stream in `refuse_for` needs a person; its message says which
    command fixes it. Problems of other streams wait for their own runs.
    """
    try:
        problems = find_problems(warehouse, now)
    except DATABASE_ERRORS as error:  # cannot even be read: say why, as creating tables would
        raise warehouse_error(error, warehouse.url, "creating the tables") from None
    refused = [str(p) for p in problems if not p.repairable and p.stream in set(refuse_for)]
    warehouse.create_tables()
    repaired = [problem for problem in problems if problem.repairable]
    for problem in repaired:
        types = declared_columns()[problem.stream]
        ddl = ";".join(
            f'ALTER TABLE "{problem.stream}" ADD COLUMN "{c}" {types[c]}' for c in problem.columns
        )
        if ddl:
            warehouse.run_ddl(ddl, f"adding {', '.join(problem.columns)} to {problem.stream}")
        warehouse.reset_cursors(problem.stream)
        log.warning("%s", problem.repaired())
    if refused:
        raise StateError("; ".join(refused))
    return repaired
