"""Rows and cursors committed together, a batch per transaction: the write side of every stream."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from promosync.connectors import stopping
from promosync.connectors.paging import Page
from promosync.connectors.report import SyncReport
from promosync.connectors.stream import Record, Row, Stream
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

# Rows gathered before one write: each DuckDB statement costs tens of milliseconds, so writing
# every 100-row page on its own cost more than fetching it (bench/RESULTS.md).
WRITE_ROWS = 2000

Cursors = Mapping[str, str | None]  # cursor values by partition ('' is the stream-wide one)


@dataclass
class StreamWriter:
    """Writes one stream's rows with its cursors, each batch in one transaction, and counts them.

    Every committed batch is a safe point: a stop asked for by a signal ends the run right after
    it (`stopping.check()`), with everything committed so far kept.
    """

    stream: Stream
    warehouse: Warehouse
    report: SyncReport
    synced_at: datetime

    def rows(self, records: Iterable[Record], fill: Mapping[str, Any] | None = None) -> list[Row]:
        """`records` as rows; `fill` sets the columns a record leaves empty (its parent's id)."""
        to_row, synced_at = self.stream.to_row, self.synced_at
        rows = [to_row(record, synced_at) for record in records]
        for column, value in (fill or {}).items():
            for row in rows:
                if row.get(column) is None:
                    row[column] = value
        return rows

    def commit(
        self,
        rows: list[Row],
        cursors: Cursors | None = None,
        replace: tuple[str, Sequence[str]] | None = None,
        *,
        safe_point: bool = True,
    ) -> None:
        """Upsert `rows` and save `cursors` in one transaction (`replace`: see write_batch)."""
        stream = self.stream
        keyed = {(stream.name, p): value for p, value in cursors.items()} if cursors else None
        result = self.warehouse.write_batch(stream.name, stream.primary_key, rows, keyed, replace)
        self.report.add(result.inserted, result.updated)
        if safe_point:
            stopping.check()

    def mark_unwritten_deleted(self) -> int:
        """After a full re-read: stamp `_deleted_at` on the live rows this run did not write again
        (the source no longer has them); return how many."""
        return self.warehouse.mark_unseen_deleted(self.stream.name, self.synced_at)

    def commit_pages(
        self,
        pages: Iterable[Page],
        partition: str | None,
        *,
        cursor: str | None = None,
        final: str | None = None,
        fill: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Write `pages` in batches of WRITE_ROWS rows, each with the latest safe page cursor.

        `partition` None commits no cursor (a backfill); `cursor` is the one committed before;
        `final` is committed once the pages end (a closed window read whole). A stop asked for
        while reading commits what was read, up to the last safe cursor, then stops. Returns the
        cursor the stream now stands at.
        """
        pending: list[Row] = []
        committed = cursor
        try:
            for page in pages:
                pending += self.rows(page, fill)
                cursor = page.cursor if page.cursor is not None else cursor
                if len(pending) >= WRITE_ROWS:
                    self._flush(pending, partition, cursor)
                    committed, pending = cursor, []
        except stopping.StopRequested:
            if pending:
                self._flush(pending, partition, cursor, safe_point=False)
            raise
        cursor = final if final is not None else cursor
        if pending or (partition is not None and cursor != committed):
            self._flush(pending, partition, cursor)
        return cursor

    def _flush(
        self, rows: list[Row], partition: str | None, cursor: str | None, *, safe_point: bool = True
    ) -> None:
        cursors = {partition: cursor} if partition is not None and cursor is not None else None
        self.commit(rows, cursors, safe_point=safe_point)
        log.info("%s: %d rows written, up to %s", self.stream.name, self.report.written, cursor)
