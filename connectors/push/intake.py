"""The first half of every push, chunk by chunk: read the input into the run's spool, refuse bad
rows and duplicated keys, and drop the rows unchanged since their last confirmed push."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import orjson
from promosync.connectors import stopping
from promosync.connectors.push import audit, jobs
from promosync.connectors.push.audit import PushReport, RowResult
from promosync.connectors.push.csv_input import csv_chunks
from promosync.connectors.push.rows import (
    InputRow,
    InputUnreadable,
    Rejection,
    query_chunks,
    query_path,
)
from promosync.connectors.push.spool import Spool
from promosync.connectors.push.validate import Build, Prepared, prepare
from promosync.connectors.warehouse import Warehouse

LOOKUP_ROWS = 10_000  # keys whose last pushed hashes are read in one query


@dataclass(frozen=True)
class Source:
    """Where a run's rows come from (a CSV file, else a query) and what makes a row."""

    file: str | None
    query: str
    build: Build
    key_column: str

    def label(self) -> str:
        """As `push_runs.source` shows it."""
        return f"file:{self.file}" if self.file else f"query:{self.query}"

    def check(self) -> None:
        """ConfigError now, before any run begins, if the query named is not in sql/push/."""
        if not self.file:
            query_path(self.query)

    def chunks(self, warehouse: Warehouse) -> Iterator[list[InputRow | Rejection]]:
        """The input, a chunk at a time."""
        if self.file:
            return csv_chunks(self.file, self.key_column)
        return query_chunks(warehouse, self.query, self.key_column)


def _key_bytes(key: str) -> int:
    return len(orjson.dumps(key))


def _read(warehouse: Warehouse, spool: Spool, report: PushReport, source: Source) -> None:
    for chunk in source.chunks(warehouse):
        stopping.check()  # nothing is sent or written yet: stopping here loses nothing
        valid: list[Prepared] = []
        refused: list[Rejection] = []
        for item in chunk:
            if isinstance(item, InputRow):
                item = prepare(item, source.build, source.key_column)
            (refused if isinstance(item, Rejection) else valid).append(item)
        spool.add(valid, _key_bytes)
        spool.reject(refused)
        report.rows_considered += len(chunk)


def _drop_unchanged(warehouse: Warehouse, spool: Spool, report: PushReport) -> int:
    """Drop spooled rows whose hash is the last confirmed one, or one still in flight."""
    skipped = 0
    for chunk in spool.key_chunks(LOOKUP_ROWS):
        stopping.check()
        keys = [key for _, key, _, _ in chunk]
        pushed = audit.pushed_hashes(warehouse, report.destination, report.operation, keys)
        unchanged = [n for n, key, digest, flying in chunk if flying or pushed.get(key) == digest]
        spool.drop(unchanged)
        skipped += len(unchanged)
    return skipped


def take_in(
    warehouse: Warehouse, spool: Spool, report: PushReport, source: Source, in_flight: bool
) -> bool:
    """Fill the spool with the rows to send; False (the reason in report.error) if the input
    cannot be used at all, and then nothing of it is kept.

    `in_flight`: rows that open jobs of the operation carry with the same hash are not sent again.
    """
    try:
        _read(warehouse, spool, report, source)
    except InputUnreadable as error:
        report.error = str(error)
        report.rows_considered = 0
        return False
    spool.refuse_duplicates(source.key_column)
    if in_flight:
        flying = jobs.in_flight(warehouse, report.destination, report.operation)
        spool.add_flying(pair for chunk in flying for pair in chunk)
    if not report.forced:
        report.rows_skipped = _drop_unchanged(warehouse, spool, report)
    return True


def _chunked(results: Iterable[RowResult], size: int) -> Iterator[list[RowResult]]:
    iterator = iter(results)
    while chunk := list(islice(iterator, size)):
        yield chunk


def report_invalid(
    warehouse: Warehouse | None, report: PushReport, results: Iterable[RowResult]
) -> None:
    """Count refused rows into the report and record them (not in a dry run: no warehouse)."""
    for chunk in _chunked(results, LOOKUP_ROWS):
        report.rows_invalid += len(chunk)
        report.note(chunk)
        if warehouse is not None:
            audit.record_invalid(warehouse, report, chunk)


def report_rejections(warehouse: Warehouse | None, report: PushReport, spool: Spool) -> None:
    """The spool's refused rows (validation, duplicates) into the report and the warehouse."""
    report_invalid(warehouse, report, map(RowResult.invalid, spool.rejections()))
