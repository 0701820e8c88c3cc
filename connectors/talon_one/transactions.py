"""Talon.One loyalty transactions: closed date windows, each read whole by offset, then committed.

Offsets shift when entries arrive during a read, so a window is fixed first: it ends before the
run started, minus a lag for late commits; nothing new can land inside it, every page of it is
read, and only then is its end committed as the cursor (with the window's last rows). The next
window starts exactly there (`startDate` is inclusive, `endDate` exclusive), so entries sharing
one `created`, however many, are neither skipped nor read twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from datetime import datetime, timedelta
from typing import Any

from promosync.connectors.cursor import format_instant, parse_instant, signpost
from promosync.connectors.http import ApiClient, ApiError, ConfigError
from promosync.connectors.read_ahead import read_ahead
from promosync.connectors.report import SyncReport, measured
from promosync.connectors.talon_one import client as api
from promosync.connectors.talon_one.client import TalonOne
from promosync.connectors.talon_one.entities import (
    EntitySource,
    Program,
    Target,
    programs_to_visit,
    targets,
    visit_in_batches,
)
from promosync.connectors.talon_one.streams import TRANSACTIONS
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

DEFAULT_LAG = timedelta(seconds=60)  # an entry may commit a little after its `created`
MODES = ("auto", "program", "entity")
WHOLE_STREAM = ""  # partition of the stream-wide cursor: every partition is read up to it

Window = tuple[str | None, str, bool]  # start (None: from the beginning), end, commit the end
Bounds = Callable[[str | None], Window]


def resolve_mode(t1: TalonOne, mode: str) -> str:
    """The path to take: "program" (Management API, program-wide) or "entity" (per ledger)."""
    if mode not in MODES:
        raise ConfigError(f"transactions mode {mode!r} is not one of {', '.join(MODES)}")
    if mode == "auto":
        return "program" if t1.management is not None else "entity"
    if mode == "program" and t1.management is None:
        raise ConfigError("program-wide transactions need TALON_ONE_MANAGEMENT_KEY")
    return mode


def window_bounds(
    started: datetime,
    lag: timedelta,
    full_refresh: bool,
    backfill: tuple[datetime, datetime] | None,
) -> Bounds:
    """How a partition's cursor becomes its window: [cursor, run start - lag), or a backfill."""
    closed = started - lag
    end = format_instant(closed)
    if backfill:
        span = (format_instant(backfill[0]), format_instant(min(backfill[1], closed)))
        return lambda _cursor: (span[0], span[1], False)
    return lambda cursor: (None if full_refresh else cursor, end, True)


def _empty(window: Window) -> bool:
    start, end, _ = window
    return start is not None and parse_instant(start) >= parse_instant(end)


def _write_window(
    warehouse: Warehouse,
    report: SyncReport,
    pages: Iterable[list[dict[str, Any]]],
    synced_at: datetime,
    cursor: Mapping[tuple[str, str], str] | None,
) -> None:
    """Upsert every page; the cursor commits with the last one, once the window is read whole."""
    held: list[dict[str, Any]] | None = None
    for records in pages:
        if held:
            _write(warehouse, report, held, synced_at, None)
        held = records
    _write(warehouse, report, held or [], synced_at, cursor)


def _write(
    warehouse: Warehouse,
    report: SyncReport,
    records: list[dict[str, Any]],
    synced_at: datetime,
    cursors: Mapping[tuple[str, str], str] | None,
) -> None:
    rows = [TRANSACTIONS.to_row(record, synced_at) for record in records]
    result = warehouse.write_batch(TRANSACTIONS.name, TRANSACTIONS.primary_key, rows, cursors)
    report.add(result.inserted, result.updated)


def _program_wide(
    management: ApiClient, warehouse: Warehouse, report: SyncReport, programs: list[Program],
    bounds: Bounds, page_size: int, synced_at: datetime,
) -> None:  # fmt: skip
    cursors = warehouse.read_cursors(TRANSACTIONS.name)
    for program in programs:
        partition = f"program:{program.id}"
        window = bounds(cursors.get(partition))
        report.entities += 1
        if _empty(window):
            continue
        start, end, commit = window
        # The next pages are fetched while earlier ones are written.
        cursor = {(TRANSACTIONS.name, partition): end} if commit else None
        source = api.program_transactions(management, program.id, start, end, page_size)
        with closing(read_ahead(source)) as pages:
            _write_window(warehouse, report, pages, synced_at, cursor)
        log.info("%s: program %s read up to %s", TRANSACTIONS.name, program.id, end)


def _entity_log(
    t1: TalonOne, target: Target, window: Window, page_size: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One entity's entries in its window, and the cursor to commit (None: nothing to commit)."""
    start, end, commit = window
    records: list[dict[str, Any]] = []
    try:
        for page in api.entity_transactions(
            t1.integration, target.program_id, target.kind, target.entity_id, start, end, page_size
        ):
            records.extend(page)
    except ApiError as error:
        if error.status != 404:  # a customer Talon.One does not know (e.g. Voucherify-only)
            raise
        return [], None
    if target.kind == "profile":
        for record in records:
            record["_profile_id"] = target.entity_id
    return records, end if commit else None


def _per_entity(
    t1: TalonOne, warehouse: Warehouse, report: SyncReport, visit: list[Target],
    bounds: Bounds, page_size: int, synced_at: datetime, concurrency: int,
) -> None:  # fmt: skip
    cursors = warehouse.read_cursors(TRANSACTIONS.name)

    def fetch(target: Target) -> tuple[list[dict[str, Any]], str | None]:
        window = bounds(cursors.get(target.partition))
        return ([], None) if _empty(window) else _entity_log(t1, target, window, page_size)

    for batch, results in visit_in_batches(visit, fetch, concurrency):
        records: list[dict[str, Any]] = []
        batch_cursors: dict[tuple[str, str], str] = {}
        for target, (found, cursor) in zip(batch, results, strict=True):
            records += found
            if cursor is not None:
                batch_cursors[(TRANSACTIONS.name, target.partition)] = cursor
        _write(warehouse, report, records, synced_at, batch_cursors)
        report.entities += len(batch)
        log.info(
            "%s: %d of %d ledgers visited, %d rows written",
            TRANSACTIONS.name, report.entities, len(visit), report.written,
        )  # fmt: skip


def sync_transactions(
    t1: TalonOne,
    warehouse: Warehouse,
    *,
    mode: str = "auto",
    full_refresh: bool = False,
    window: tuple[datetime, datetime] | None = None,
    lag: timedelta = DEFAULT_LAG,
    page_size: int = api.MAX_PAGE_SIZE,
    concurrency: int = 8,
    source: EntitySource | None = None,
    programs: Mapping[int, bool] | None = None,
    now: datetime | None = None,
) -> SyncReport:
    """Entries created since each program's (or ledger's) cursor; a backfill `window` moves none."""
    started = signpost(now)
    chosen = resolve_mode(t1, mode)
    bounds = window_bounds(started, lag, full_refresh, window)
    with measured(TRANSACTIONS, t1, warehouse) as report:
        known = programs_to_visit(t1, warehouse, programs)
        if chosen == "program":
            report.mode = "program-wide (Management API)"
            _program_wide(t1.management, warehouse, report, known, bounds, page_size, started)
        else:
            visit, origin = targets(t1, warehouse, known, source or EntitySource())
            report.mode = f"per entity (Integration API), entities from {origin}"
            _per_entity(t1, warehouse, report, visit, bounds, page_size, started, concurrency)
        if window is None:
            end = bounds(None)[1]
            _write(warehouse, report, [], started, {(TRANSACTIONS.name, WHOLE_STREAM): end})
            report.cursor_after = end
    return report
