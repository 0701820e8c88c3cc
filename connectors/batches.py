"""Rows and cursors committed together, a batch per transaction: the write side of every stream."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from promosync.connectors import stopping
from promosync.connectors.errors import BudgetSpent, CycleBlocked
from promosync.connectors.paging import Page
from promosync.connectors.reject_log import open_rejects, resolved_by
from promosync.connectors.rejects import (
    PRIMARY_KEY,
    TABLE,
    Reject,
    RowReader,
    key_text,
    refuse,
    reject_row,
    strict_streams,
)
from promosync.connectors.report import SyncReport
from promosync.connectors.stream import Record, Row, Stream
from promosync.connectors.warehouse import TableRows, Warehouse

log = logging.getLogger(__name__)

# Rows gathered before one write: each DuckDB statement costs tens of milliseconds, so writing
# every 100-row page on its own cost more than fetching it (bench/RESULTS.md).
WRITE_ROWS = 2000
# What cuts a run short but keeps what was read: a signal, the allowance spent, a vendor block.
CUT_OFF = (stopping.StopRequested, BudgetSpent, CycleBlocked)

Cursors = Mapping[str, str | None]  # cursor values by partition ('' is the stream-wide one)


@dataclass
class StreamWriter:
    """Writes one stream's rows with its cursors, each batch in one transaction, and counts them.

    Every committed batch is a safe point: a stop asked for by a signal ends the run right after
    it (`stopping.check()`), with everything committed so far kept. A record that cannot become a
    row is a reject (connectors/rejects.py): it is written, whole and with its reason, into
    `sync_rejects` in the transaction of the batch it came with, and the rest of the batch lands;
    a batch that lands the key of an open reject resolves it. A strict stream stops instead.
    """

    stream: Stream
    warehouse: Warehouse
    report: SyncReport
    synced_at: datetime
    # Rows of other tables to commit with each batch of rows (a stream's change signals).
    on_rows: Callable[[list[Row]], Sequence[TableRows]] | None = None
    reader: RowReader = field(init=False)
    strict: bool = field(init=False)
    rejects: list[Reject] = field(init=False, default_factory=list)  # read, not yet written
    _open: dict[str, Row] | None = field(init=False, default=None)
    _rejected: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.reader = RowReader(self.stream, self.warehouse.column_types(self.stream.name))
        self.strict = self.stream.name in strict_streams()

    def rows(self, records: Iterable[Record], fill: Mapping[str, Any] | None = None) -> list[Row]:
        """`records` as rows, the unreadable ones kept aside as rejects; `fill` sets the columns a
        record leaves empty (its parent's id)."""
        rows = []
        for record in records:
            read = self.reader.read(record, self.synced_at, fill)
            if read.__class__ is Reject:
                self._reject(read)
            else:
                rows.append(read)
        return rows

    def _reject(self, reject: Reject) -> None:
        log.warning("rejected: %s", reject.message())
        self._rejected.add(reject.key)
        self.report.rejected = len(self._rejected)
        if self.strict:
            self.warehouse.write_batch(TABLE, PRIMARY_KEY, [reject_row(reject, self.synced_at)])
            raise refuse(self.stream, reject)
        self.rejects.append(reject)

    def _reject_rows(self, rows: list[Row]) -> list[TableRows]:
        """The rejects to write with `rows`: the new ones, and the open ones `rows` resolve."""
        if self._open is None:
            self._open = open_rejects(self.warehouse, self.stream.name)
        written = resolved_by(self.stream, rows, self._open, datetime.now(UTC))
        for reject in self.rejects:
            written.append(reject_row(reject, self.synced_at))
            self._open[reject.key] = written[-1]
        self.rejects = []
        return [(TABLE, PRIMARY_KEY, written)] if written else []

    def commit(
        self,
        rows: list[Row],
        cursors: Cursors | None = None,
        replace: tuple[str, Sequence[str]] | None = None,
        *,
        safe_point: bool = True,
        also: Sequence[TableRows] = (),
    ) -> None:
        """Upsert `rows` and save `cursors` in one transaction (`replace`: see write_batch), with
        the rejects read since the last commit and the rows of `also` (other tables)."""
        stream = self.stream
        keyed = {(stream.name, p): value for p, value in cursors.items()} if cursors else None
        signals = self.on_rows(rows) if self.on_rows is not None and rows else ()
        also = [*self._reject_rows(rows), *signals, *also]
        result = self.warehouse.write_batch(
            stream.name, stream.primary_key, rows, keyed, replace, also=also
        )
        self.report.add(result.inserted, result.updated)
        if safe_point:
            stopping.check()

    def mark_unwritten_deleted(self) -> int:
        """After a full re-read: stamp `_deleted_at` on the live rows this run did not write again
        (the source no longer has them), but not on those it rejected; return how many."""
        met = self._rejected  # read but not written: the source still has them

        def unreadable(key: tuple[Any, ...]) -> bool:
            return key_text(key) in met

        spared = (self.stream.primary_key, unreadable) if met else None
        return self.warehouse.mark_unseen_deleted(self.stream.name, self.synced_at, spared)

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
        while reading (a signal, the allowance spent, a vendor's block: CUT_OFF) commits what
        was read, up to the last safe cursor, then stops. Returns the
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
        except CUT_OFF:
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
