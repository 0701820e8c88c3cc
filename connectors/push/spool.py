"""The rows of one push run on local disk, so a run of any size holds only a chunk in memory.

A temporary SQLite database (`sqlite3.connect("")`): SQLite creates it in the temporary folder
(`SQLITE_TMPDIR`, else `TMPDIR`, else /var/tmp or /tmp), unlinks it at once and keeps at most
`CACHE_KIB` of it in memory, so it disappears when the run ends, also when it is killed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import orjson
from promosync.connectors.push.hashing import Change
from promosync.connectors.push.rows import Rejection
from promosync.connectors.push.validate import Prepared

CACHE_KIB = 4 * 1024  # SQLite's page cache; the rest stays in the file (the OS caches it)
SHOWN_NUMBERS = 10  # row numbers a duplicate's reason lists


class Spooled(NamedTuple):
    """A valid row as spooled: number, key, hash, encoded payload, and the JSON lengths of its
    key and payload."""

    number: int
    key: str
    hash: str
    payload: bytes
    key_bytes: int
    payload_bytes: int


SCHEMA = (
    "CREATE TABLE rows (number INTEGER PRIMARY KEY, key TEXT NOT NULL, hash TEXT NOT NULL,"
    " payload BLOB NOT NULL, key_bytes INTEGER NOT NULL, payload_bytes INTEGER NOT NULL)",
    "CREATE TABLE rejects (seq INTEGER PRIMARY KEY, number INTEGER, key TEXT, reason TEXT)",
    "CREATE TABLE flying (key TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE INDEX flying_key ON flying (key, hash)",
)


class Spool:
    """A run's valid rows, refused rows and in-flight hashes, in a temporary SQLite database."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")
        for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{CACHE_KIB}"):
            self.db.execute(f"PRAGMA {pragma}")
        for statement in SCHEMA:
            self.db.execute(statement)

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_: object) -> None:
        self.db.close()

    def add(self, rows: Iterable[Prepared], key_bytes: Any) -> None:
        """Spool valid rows; `key_bytes(key)` is the length of a key encoded as JSON."""
        self.db.executemany(
            "INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?)",
            ((r.number, r.key, r.hash, r.payload, key_bytes(r.key), len(r.payload)) for r in rows),
        )
        self.db.commit()

    def reject(self, rejections: Iterable[Rejection]) -> None:
        """Spool refused rows with their reasons."""
        self.db.executemany(
            "INSERT INTO rejects (number, key, reason) VALUES (?, ?, ?)",
            ((r.number, r.key, r.reason) for r in rejections),
        )
        self.db.commit()

    def refuse_duplicates(self, key_column: str) -> int:
        """Move every copy of a key found in several rows to the refused rows; how many."""
        self.db.execute("CREATE INDEX rows_key ON rows (key, number)")
        duplicated = self.db.execute(
            "SELECT key, count(*), (SELECT group_concat(number, ', ') FROM (SELECT number FROM"
            f" rows AS copy WHERE copy.key = rows.key ORDER BY number LIMIT {SHOWN_NUMBERS}))"
            " FROM rows GROUP BY key HAVING count(*) > 1"
        ).fetchall()  # one line per duplicated key, not per row
        moved = 0
        for key, count, numbers in duplicated:
            shown = numbers + (f", … ({count} rows)" if count > SHOWN_NUMBERS else "")
            reason = f"{key_column} {key!r} appears in rows {shown}; send each key once"
            self.db.execute(
                "INSERT INTO rejects (number, key, reason) SELECT number, key, ? FROM rows"
                " WHERE key = ? ORDER BY number",
                (reason, key),
            )
            moved += self.db.execute("DELETE FROM rows WHERE key = ?", (key,)).rowcount
        self.db.commit()
        return moved

    def add_flying(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Spool (key, hash) pairs of rows that requests still in flight carry."""
        self.db.executemany("INSERT INTO flying VALUES (?, ?)", pairs)
        self.db.commit()

    def key_chunks(self, size: int) -> Iterator[list[tuple[int, str, str, bool]]]:
        """(number, key, hash, in flight with that hash) of the valid rows, `size` at a time."""
        last = 0
        while True:
            chunk = self.db.execute(
                "SELECT number, key, hash, EXISTS (SELECT 1 FROM flying f WHERE f.key = rows.key"
                " AND f.hash = rows.hash) FROM rows WHERE number > ? ORDER BY number LIMIT ?",
                (last, size),
            ).fetchall()
            if not chunk:
                return
            yield [(n, k, h, bool(flying)) for n, k, h, flying in chunk]
            last = chunk[-1][0]

    def drop(self, numbers: list[int]) -> None:
        """Forget valid rows that will not be sent (unchanged since their last push)."""
        self.db.executemany("DELETE FROM rows WHERE number = ?", ((n,) for n in numbers))
        self.db.commit()

    def rows(self, where: str = "", params: tuple[Any, ...] = ()) -> Iterator[Spooled]:
        """The valid rows (matching `where`, SQL over `rows`), in input order."""
        clause = f" WHERE {where}" if where else ""
        cursor = self.db.execute(f"SELECT * FROM rows{clause} ORDER BY number", params)
        while chunk := cursor.fetchmany(1000):
            yield from map(Spooled._make, chunk)

    def changes(self, numbers: Sequence[int], size: int = 10_000) -> Iterator[list[Change]]:
        """(number, key, hash) of the spooled rows `numbers` (ascending), `size` at a time."""
        for start in range(0, len(numbers), size):
            chunk = numbers[start : start + size]
            found = self.db.execute(
                "SELECT number, key, hash FROM rows WHERE number IN"
                " (SELECT value FROM json_each(?)) ORDER BY number",
                (orjson.dumps(list(chunk)).decode(),),
            ).fetchall()
            yield [Change(*row) for row in found]

    def rejections(self) -> Iterator[Rejection]:
        """The refused rows, in input order (a reason for the whole input first)."""
        cursor = self.db.execute(
            "SELECT number, key, reason FROM rejects ORDER BY coalesce(number, 0), seq"
        )
        while chunk := cursor.fetchmany(1000):
            yield from (Rejection(*row) for row in chunk)

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        """Run SQL on the spool (the planners' grouping queries)."""
        return self.db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Any]) -> None:
        """Run SQL on the spool once per row of parameters."""
        self.db.executemany(sql, rows)
        self.db.commit()
