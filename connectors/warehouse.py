"""The warehouse: tables from sql/tables, and batches upserted together with their cursor."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import sqlalchemy as sa
from promosync.connectors.database import DATABASE_ERRORS as DATABASE_ERRORS
from promosync.connectors.database import WarehouseError as WarehouseError
from promosync.connectors.database import create_engine, resolve_url
from promosync.connectors.database import warehouse_error as warehouse_error
from promosync.connectors.database import warehouse_url as warehouse_url
from sqlalchemy.engine import Connection

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# Held until the DDL's transaction ends: concurrent CREATE TABLE IF NOT EXISTS of one table
# fails on PostgreSQL's catalog. Keyed by schema, so runs on other schemas never wait.
DDL_LOCK = "SELECT pg_advisory_xact_lock(hashtext('promosync ddl ' || current_schema()))"


TableRows = tuple[str, Sequence[str], Sequence[Mapping[str, Any]]]  # table, primary key, rows


@dataclass(frozen=True)
class BatchResult:
    """Rows a batch inserted and updated."""

    inserted: int
    updated: int


def _quoted(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain lower-case SQL identifier")
    return f'"{name}"'


def _text(value: Any) -> str | None:
    """A value as the text both databases cast into their typed columns."""
    kind = value.__class__
    if kind is str or value is None:
        return value
    if kind is dict or kind is list:
        return orjson.dumps(value).decode()
    if kind is int or kind is float:  # not bool, a subclass of int
        return str(value)
    if isinstance(value, datetime):
        return _instant_text(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, _SCALARS):
        return str(value)
    return orjson.dumps(value).decode()  # other JSON-ready values


_SCALARS = (date, int, float)


@lru_cache(maxsize=256)  # a batch's rows share their _synced_at: format it once
def _instant_text(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


class Warehouse:
    """One SQL warehouse: DuckDB (default), PostgreSQL, or any SQLAlchemy URL."""

    def __init__(
        self,
        url: str | None = None,
        *,
        allow_ephemeral: bool | None = None,
        read_only: bool = False,
    ) -> None:
        """Open the warehouse at `url` (default: WAREHOUSE_URL); WarehouseError if it cannot be.

        A URL whose database would not outlive the process is refused unless `allow_ephemeral`
        (None: the PROMOSYNC_ALLOW_EPHEMERAL_WAREHOUSE setting); `read_only` never writes.
        """
        self.url = url or warehouse_url()
        parsed = resolve_url(self.url, allow_ephemeral)
        try:
            self.engine = create_engine(parsed, read_only=read_only)
        except OSError as error:
            raise warehouse_error(error, self.url, "opening the warehouse") from None
        self.dialect = self.engine.dialect.name
        self._columns: dict[str, list[str]] = {}
        # Called with each committed batch's counts (a pull step's progress lines count them).
        self.after_commit: Callable[[BatchResult], None] | None = None

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def create_tables(self) -> None:
        """Run the DDL files in sql/tables (idempotent); WarehouseError if that is impossible."""
        scripts = [path.read_text() for path in sorted((SQL_DIR / "tables").glob("*.sql"))]
        self.run_ddl("\n;\n".join(scripts), "creating the tables")

    def run_ddl(self, script: str, doing: str) -> None:
        """Run `;`-separated DDL in one transaction, in this database's dialect (JSONB on
        PostgreSQL); WarehouseError naming what it was `doing` if that is impossible."""
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":  # two runs creating one schema's tables race
                    conn.exec_driver_sql(DDL_LOCK)
                for statement in self._statements(script):
                    conn.exec_driver_sql(statement)
        except sa.exc.DBAPIError as error:
            raise warehouse_error(error, self.url, doing) from None
        self._columns.clear()

    def _statements(self, script: str) -> list[str]:
        script = re.sub(r"--[^\n]*", "", script)
        if self.dialect == "postgresql":
            script = re.sub(r"\bJSON\b", "JSONB", script)
        return [s.strip() for s in script.split(";") if s.strip()]

    def columns(self, table: str) -> list[str]:
        """The table's column names, in order."""
        if table not in self._columns:
            query = sa.text(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = :table AND table_schema = current_schema()"
                " ORDER BY ordinal_position"
            )
            with self.engine.connect() as conn:
                names = [row[0] for row in conn.execute(query, {"table": table})]
            if not names:
                raise LookupError(f"table {table!r} does not exist; run create_tables() first")
            self._columns[table] = names
        return self._columns[table]

    def column_types(self, table: str) -> dict[str, tuple[str, bool]]:
        """Each column's SQL type (as the database names it) and whether it admits NULL."""
        query = sa.text(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_name = :table AND table_schema = current_schema()"
            " ORDER BY ordinal_position"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query, {"table": table}).all()
        return {name: (kind, nullable == "YES") for name, kind, nullable in rows}

    def write_batch(
        self,
        table: str,
        primary_key: Sequence[str],
        rows: Iterable[Mapping[str, Any]],
        cursors: Mapping[tuple[str, str], str | None] | None = None,
        replace: tuple[str, Sequence[str]] | None = None,
        also: Sequence[TableRows] = (),
        *,
        keep: bool = False,
        counted: bool = True,
    ) -> BatchResult:
        """Upsert `rows` on `primary_key` and save `cursors` in one transaction.

        `replace=(column, values)` first deletes the rows whose `column` is in `values`, so a set
        that is read whole (a customer's segments) replaces what was there. `also` upserts rows
        into other tables in the same transaction (the batch's rejects, see connectors/rejects.py).
        `keep`: a row already there keeps its values, taking only those it lacks (NULL), e.g. the
        oldest change an entity is owed a visit for. `counted` False: not a stream's batch, not
        counted by `after_commit`.
        """
        values = self._values(table, primary_key, rows)
        others = [(name, list(key), self._values(name, key, more)) for name, key, more in also]
        with self.engine.begin() as conn:
            result = BatchResult(0, 0)
            if replace and replace[1]:
                target = sa.table(table, sa.column(replace[0]))
                condition = target.c[replace[0]].in_(list(replace[1]))
                conn.execute(sa.delete(target).where(condition))
            if values:
                columns = self.columns(table)
                result = self._upsert(conn, table, list(primary_key), columns, values, keep)
            for name, key, more in others:
                if more:
                    self._upsert(conn, name, key, self.columns(name), more)
            if cursors:
                self._save_cursors(conn, cursors)
        if self.after_commit is not None and counted:
            self.after_commit(result)
        return result

    def _values(
        self, table: str, primary_key: Sequence[str], rows: Iterable[Mapping[str, Any]]
    ) -> list[list[str | None]]:
        """Each row's values in the table's column order, as text; the last copy of a key wins."""
        columns = self.columns(table)
        unique: dict[tuple[Any, ...], list[str | None]] = {}
        for row in rows:  # the last copy of a key wins, as it would in the source
            # Inlined fast path: most values are already text or NULL (this runs per value).
            unique[tuple(row[k] for k in primary_key)] = [
                v if v is None or v.__class__ is str else _text(v) for v in map(row.get, columns)
            ]
        return list(unique.values())

    def _stage(
        self, conn: Connection, table: str, columns: list[str], values: list[list[str | None]]
    ) -> str:
        """Load `values` into a transaction-local staging relation shaped like `table`'s columns."""
        stage = f"_stage_{table}_{len(columns)}"
        if self.dialect == "duckdb":
            raw = conn.connection.driver_connection
            raw.register(stage, pd.DataFrame(values, columns=columns, dtype=object))
            return stage
        cols = ", ".join(_quoted(c) for c in columns)
        # CREATE ... AS copies the column types but no constraint (LIKE would copy NOT NULLs).
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP"
            f" AS SELECT {cols} FROM {_quoted(table)} WITH NO DATA"
        )
        conn.exec_driver_sql(f"TRUNCATE {stage}")
        cursor = conn.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        return stage

    def _unstage(self, conn: Connection, stage: str) -> None:
        if self.dialect == "duckdb":
            conn.connection.driver_connection.unregister(stage)

    @property
    def _fast(self) -> bool:
        return self.dialect in {"duckdb", "postgresql"}

    def _upsert(
        self,
        conn: Connection,
        table: str,
        key: list[str],
        columns: list[str],
        values: list[list[str | None]],
        keep: bool = False,
    ) -> BatchResult:
        if not self._fast:
            return self._upsert_generic(conn, table, key, columns, values)
        stage = self._stage(conn, table, columns, values)
        cols = ", ".join(_quoted(c) for c in columns)
        join = " AND ".join(f"t.{_quoted(k)} = s.{_quoted(k)}" for k in key)
        existing = conn.exec_driver_sql(
            f"SELECT count(*) FROM {stage} s JOIN {_quoted(table)} t ON {join}"
        ).scalar_one()
        types = self.column_types(table) if keep else {}

        def value(column: str) -> str:
            if not keep:
                return f"excluded.{_quoted(column)}"
            # the staged text, cast as the INSERT casts it, to mix with the kept value
            new = f"CAST(excluded.{_quoted(column)} AS {types[column][0]})"
            return f"COALESCE({_quoted(table)}.{_quoted(column)}, {new})"

        updates = ", ".join(f"{_quoted(c)} = {value(c)}" for c in columns if c not in key)
        conflict = ", ".join(_quoted(k) for k in key)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        conn.exec_driver_sql(
            f"INSERT INTO {_quoted(table)} ({cols}) SELECT {cols} FROM {stage}"
            f" ON CONFLICT ({conflict}) {action}"
        )
        self._unstage(conn, stage)
        return BatchResult(len(values) - existing, existing)

    def _upsert_generic(
        self,
        conn: Connection,
        table: str,
        key: list[str],
        columns: list[str],
        values: list[list[str | None]],
    ) -> BatchResult:
        target = sa.table(table, *(sa.column(c) for c in columns))
        key_index = [columns.index(k) for k in key]
        existing = 0
        for row in values:
            match = sa.and_(*(target.c[k] == row[i] for k, i in zip(key, key_index, strict=True)))
            existing += conn.execute(sa.delete(target).where(match)).rowcount
        conn.execute(sa.insert(target), [dict(zip(columns, row, strict=True)) for row in values])
        return BatchResult(len(values) - existing, existing)

    def _save_cursors(
        self, conn: Connection, cursors: Mapping[tuple[str, str], str | None]
    ) -> None:
        now = datetime.now(UTC).isoformat()
        rows = [[stream, partition, value, now] for (stream, partition), value in cursors.items()]
        state_columns = ["stream", "partition_key", "cursor_value", "updated_at"]
        self._upsert(conn, "sync_state", ["stream", "partition_key"], state_columns, rows)

    def mark_deleted(
        self, table: str, key: str, present: Sequence[str], deleted_at: datetime
    ) -> int:
        """Stamp `_deleted_at` on live rows whose `key` is not in `present`; return how many."""
        with self.engine.begin() as conn:
            if self._fast:
                stage = self._stage(conn, table, [key], [[value] for value in present])
                absent = f"{_quoted(key)} NOT IN (SELECT {_quoted(key)} FROM {stage})"
            else:
                stage = ""
                absent = sa.table(table, sa.column(key)).c[key].not_in(list(present))
                absent = str(absent.compile(conn, compile_kwargs={"literal_binds": True}))
            count = conn.execute(
                sa.text(
                    f"UPDATE {_quoted(table)} SET _deleted_at = :at"
                    f" WHERE _deleted_at IS NULL AND {absent}"
                ),
                {"at": deleted_at},
            ).rowcount
            if stage:
                self._unstage(conn, stage)
        return count

    def mark_unseen_deleted(
        self,
        table: str,
        since: datetime,
        spared: tuple[Sequence[str], Callable[[tuple[Any, ...]], bool]] | None = None,
    ) -> int:
        """Stamp `_deleted_at` on live rows not written since `since`; return how many.

        After a full re-read that started at `since`, those are the rows the source no longer has.
        `spared=(key columns, keep)` leaves live the unseen rows whose key `keep` accepts (records
        the re-read met but could not write).
        """
        columns = (*(spared[0] if spared else ()), "_synced_at", "_deleted_at")
        target = sa.table(table, *(sa.column(name) for name in dict.fromkeys(columns)))
        unseen = sa.and_(target.c._deleted_at.is_(None), target.c._synced_at < since)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            if spared:
                unseen = sa.and_(unseen, *_leaving_out(conn, target, unseen, *spared))
            return conn.execute(sa.update(target).where(unseen).values(_deleted_at=now)).rowcount

    def records(self, table: str, key: str, values: Sequence[str]) -> dict[str, Any]:
        """The `_raw` record of each live or deleted row whose `key` is in `values`, by key."""
        if not values:
            return {}
        query = sa.text(
            f"SELECT {_quoted(key)}, _raw FROM {_quoted(table)} WHERE {_quoted(key)} IN :values"
        ).bindparams(sa.bindparam("values", expanding=True))
        with self.engine.connect() as conn:
            found = conn.execute(query, {"values": list(values)}).all()
        return {k: orjson.loads(raw) if isinstance(raw, str | bytes) else raw for k, raw in found}

    def put_row(self, table: str, primary_key: Sequence[str], row: Mapping[str, Any]) -> None:
        """Upsert one bookkeeping row (not a stream's data: no batch is reported for it)."""
        values = self._values(table, primary_key, [row])
        with self.engine.begin() as conn:
            self._upsert(conn, table, list(primary_key), self.columns(table), values)

    def delete_rows(self, table: str, where: Mapping[str, Any]) -> int:
        """Delete the rows of `table` whose columns equal `where`'s values; return how many."""
        target = sa.table(table, *(sa.column(name) for name in where))
        condition = sa.and_(*(target.c[name] == value for name, value in where.items()))
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(target).where(condition)).rowcount

    def mark_children_deleted(
        self, child: str, parent_key: str, parent: str, stream_names: Sequence[str]
    ) -> int:
        """Stamp `_deleted_at` on live rows of `child` whose `parent_key` names a deleted row of
        `parent` (its `id`), and forget the cursors of those parents in `stream_names`; return
        how many rows were stamped. One transaction."""
        gone = f"SELECT id FROM {_quoted(parent)} WHERE _deleted_at IS NOT NULL"
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            count = conn.execute(
                sa.text(
                    f"UPDATE {_quoted(child)} SET _deleted_at = :at"
                    f" WHERE _deleted_at IS NULL AND {_quoted(parent_key)} IN ({gone})"
                ),
                {"at": now},
            ).rowcount
            conn.execute(
                sa.text(
                    f"DELETE FROM sync_state WHERE stream IN :streams AND partition_key IN ({gone})"
                ).bindparams(sa.bindparam("streams", expanding=True)),
                {"streams": list(stream_names)},
            )
        return count

    def reset_cursors(self, stream: str) -> int:
        """Forget every committed cursor of `stream` (all its partitions); return how many.

        Its next run reads everything from the start, as on its first run; no row is deleted.
        """
        state = sa.table("sync_state", sa.column("stream"))
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(state).where(state.c.stream == stream)).rowcount

    def read_cursors(self, stream: str) -> dict[str, str | None]:
        """Every committed cursor of `stream`, by partition ('' is the stream-wide one)."""
        query = sa.text("SELECT partition_key, cursor_value FROM sync_state WHERE stream = :stream")
        with self.engine.connect() as conn:
            return dict(conn.execute(query, {"stream": stream}).all())

    def read_cursor(self, stream: str, partition: str = "") -> str | None:
        """The committed cursor of one stream partition, or None before the first sync."""
        return self.read_cursors(stream).get(partition)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query; rows as dicts."""
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.text(sql), params or {})]


def _leaving_out(
    conn: Connection,
    target: sa.TableClause,
    rows: sa.ColumnElement[bool],
    key_names: Sequence[str],
    keep: Callable[[tuple[Any, ...]], bool],
) -> list[sa.ColumnElement[bool]]:
    """Conditions that leave out the `rows` of `target` whose key `keep` accepts."""
    key = [target.c[name] for name in key_names]
    kept = [tuple(row) for row in conn.execute(sa.select(*key).where(rows)) if keep(tuple(row))]
    return [sa.not_(sa.and_(*(c == v for c, v in zip(key, row, strict=True)))) for row in kept]
