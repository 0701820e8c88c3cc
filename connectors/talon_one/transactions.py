"""Talon.One loyalty transactions: closed date windows, each read whole by offset, then committed.

Offsets shift when entries arrive during a read, so a window is fixed first: it ends before the
run started, minus a lag for late commits; nothing new can land inside it, every page of it is
read, and only then is its end committed as the cursor (with the window's last rows). The next
window starts exactly there: each window holds the entries created in [start, end), so entries
sharing one `created`, however many, are neither skipped nor read twice. The spec says neither
whether `startDate` / `endDate` include the instant they name nor what order a log comes in, so
the request asks a tick more than the window and keeps only the window (`client.window_params`),
and the pages are walked in the order they show (connectors/offsets.py). The first window starts
at the epoch rather than leaving `startDate` out, which may list only the last 50 entries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import closing
from datetime import datetime, timedelta
from typing import Any

from promosync.connectors.batches import StreamWriter
from promosync.connectors.cursor import WHOLE_STREAM, format_instant, parse_instant, signpost
from promosync.connectors.fan_out import MeteredClient, fan_out
from promosync.connectors.http import ApiClient, ConfigError
from promosync.connectors.read_ahead import read_ahead
from promosync.connectors.report import SyncReport, measured
from promosync.connectors.stream import pulls
from promosync.connectors.talon_one import client as api
from promosync.connectors.talon_one.client import TalonOne
from promosync.connectors.talon_one.entities import (
    FAN_OUT_BATCH,
    EntitySource,
    Program,
    Target,
    programs_to_visit,
    targets,
)
from promosync.connectors.talon_one.streams import TRANSACTIONS
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

DEFAULT_LAG = timedelta(seconds=60)  # an entry may commit a little after its `created`
MODES = ("auto", "program", "entity")

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


def _program_wide(
    management: ApiClient, writer: StreamWriter, programs: list[Program], bounds: Bounds,
    page_size: int,
) -> None:  # fmt: skip
    """Each program's ledger, a closed window at a time; its end commits with its last rows."""
    cursors = writer.warehouse.read_cursors(TRANSACTIONS.name)
    writer.report.plan(TRANSACTIONS, len(programs))
    for program in programs:
        partition = f"program:{program.id}"
        window = bounds(cursors.get(partition))
        writer.report.entities += 1
        if _empty(window):
            continue
        start, end, commit = window
        # The next pages are fetched while earlier ones are written.
        source = api.program_transactions(management, program.id, start, end, page_size)
        with closing(read_ahead(source)) as pages:
            writer.commit_pages(pages, partition if commit else None, final=end if commit else None)
        log.info("%s: program %s read up to %s", TRANSACTIONS.name, program.id, end)


def _per_entity(
    t1: TalonOne, writer: StreamWriter, visit: list[Target], bounds: Bounds, page_size: int,
    concurrency: int,
) -> None:  # fmt: skip
    """Each profile's or card's ledger through the Integration API, with its own cursor."""

    def fetch(
        target: Target, cursor: str | None, client: MeteredClient
    ) -> tuple[list[dict[str, Any]], str | None]:
        start, end, commit = window = bounds(cursor)
        if _empty(window):
            return [], None
        records = [
            record
            for page in api.entity_transactions(
                client, target.program_id, target.kind, target.entity_id, start, end, page_size
            )
            for record in page
        ]
        if target.kind == "profile":  # the profile's log leaves out the profile it belongs to
            for record in records:
                record["_profile_id"] = target.entity_id
        return records, end if commit else None

    # A ledger the API does not know (a Voucherify-only customer) is skipped, its cursor unset.
    fan_out(
        writer, t1.integration, visit, fetch, concurrency=concurrency, batch_size=FAN_OUT_BATCH,
        key=lambda target: target.partition, skip_missing=True,
    )  # fmt: skip


@pulls(TRANSACTIONS)
def sync_transactions(
    t1: TalonOne,
    warehouse: Warehouse,
    *,
    mode: str = "auto",
    full_refresh: bool = False,
    window: tuple[datetime, datetime] | None = None,
    lag: timedelta = DEFAULT_LAG,
    page_size: int | None = None,
    concurrency: int = 8,
    source: EntitySource | None = None,
    programs: Mapping[int, bool] | None = None,
    now: datetime | None = None,
) -> SyncReport:
    """Entries created since each program's (or ledger's) cursor; a backfill `window` moves none.

    A full refresh resets every cursor, reads every window from the start and marks the rows it
    did not meet again.
    """
    started = signpost(now)
    chosen = resolve_mode(t1, mode)
    refresh = full_refresh and window is None
    if refresh:
        warehouse.reset_cursors(TRANSACTIONS.name)
    bounds = window_bounds(started, lag, full_refresh, window)
    size = page_size or TRANSACTIONS.required("page_size")
    with measured(TRANSACTIONS, t1, warehouse) as report:
        writer = StreamWriter(TRANSACTIONS, warehouse, report, started)
        known = programs_to_visit(t1, warehouse, programs)
        if chosen == "program":
            report.mode = "program-wide (Management API)"
            _program_wide(t1.management, writer, known, bounds, size)
        else:
            visit, origin = targets(t1, warehouse, known, source or EntitySource())
            report.mode = f"per entity (Integration API), entities from {origin}"
            _per_entity(t1, writer, visit, bounds, size, concurrency)
        if window is None:
            end = bounds(None)[1]
            writer.commit([], {WHOLE_STREAM: end})
            report.cursor_after = end
        if refresh:
            report.deleted = writer.mark_unwritten_deleted()
    return report
