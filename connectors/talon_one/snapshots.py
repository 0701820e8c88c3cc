"""Talon.One lists read whole on every run: loyalty programs, loyalty cards, customer profiles."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from promosync.connectors.batches import StreamWriter
from promosync.connectors.cursor import signpost
from promosync.connectors.http import ApiClient
from promosync.connectors.offsets import MAX_PASSES, Offset
from promosync.connectors.report import SyncReport, measured
from promosync.connectors.stream import Stream, pulls
from promosync.connectors.talon_one import client as api
from promosync.connectors.talon_one.client import TalonOne
from promosync.connectors.talon_one.entities import programs_to_visit
from promosync.connectors.talon_one.streams import CARDS, PROFILES, PROGRAMS
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

NEEDS_MANAGEMENT = "skipped: needs TALON_ONE_MANAGEMENT_KEY"
ORDERS = {
    "ascending": "id order",
    "descending": "reverse id order",
    "unordered": "an order of its own",
}
UNSETTLED = (
    f"deletes not marked: the list, in an order of its own, moved under each of {MAX_PASSES}"
    " reads (the next run marks them)"
)
Pages = Iterable[list[dict[str, Any]]]


def _snapshot(writer: StreamWriter, pages: Pages, walks: list[Offset]) -> None:
    """Upsert every page, then mark the rows the list no longer holds as deleted.

    Only a list read whole is proof that a row is gone: when a list in an order of its own kept
    moving under every read (`Offset.settled`), nothing is marked and the run says so; the next
    run marks what is really gone.
    """
    stream, report = writer.stream, writer.report
    present: list[int] = []  # numeric ids: the stage takes the key column's type
    for records in pages:
        writer.commit(writer.rows(records))
        present += [record["id"] for record in records if isinstance(record.get("id"), int)]
    orders = sorted({ORDERS[walk.order] for walk in walks if walk.order})
    report.mode = "snapshot (Management API)"
    if orders:
        report.mode += f", listed in {' and '.join(orders)}"
    if all(walk.settled for walk in walks):
        at = datetime.now(UTC)
        report.deleted = writer.warehouse.mark_deleted(stream.name, "id", present, at)
    else:
        report.mode += f"; {UNSETTLED}"
        log.warning("%s: %s", stream.name, UNSETTLED)
    log.info("%s: %d rows written, %d marked deleted", stream.name, report.written, report.deleted)


def _run(
    t1: TalonOne,
    warehouse: Warehouse,
    stream: Stream,
    pages_of: Callable[[ApiClient, list[Offset]], Pages],
) -> SyncReport:
    """Run a snapshot; `pages_of` reads the list with walks it adds to the list it is given."""
    with measured(stream, t1, warehouse) as report:
        if t1.management is None:
            report.mode = NEEDS_MANAGEMENT
            log.warning("%s %s", stream.name, NEEDS_MANAGEMENT)
        else:
            walks: list[Offset] = []
            writer = StreamWriter(stream, warehouse, report, signpost())
            _snapshot(writer, pages_of(t1.management, walks), walks)
    return report


@pulls(PROGRAMS)
def sync_programs(t1: TalonOne, warehouse: Warehouse) -> SyncReport:
    """Every loyalty program of the account (one request)."""
    return _run(t1, warehouse, PROGRAMS, lambda m, _: [api.loyalty_programs(m)])


@pulls(PROFILES)
def sync_profiles(t1: TalonOne, warehouse: Warehouse) -> SyncReport:
    """Every customer profile of the account, attributes whole (a request per 1,000)."""

    def pages(management: ApiClient, walks: list[Offset]) -> Pages:
        walks.append(api.snapshot_walk(PROFILES))
        return api.customer_profiles(management, walks[-1])

    return _run(t1, warehouse, PROFILES, pages)


@pulls(CARDS)
def sync_cards(t1: TalonOne, warehouse: Warehouse) -> SyncReport:
    """Every card of the card-based programs, with ledger and linked profiles."""

    def pages(management: ApiClient, walks: list[Offset]) -> Pages:
        for program in programs_to_visit(t1, warehouse):
            if program.card_based:
                walks.append(api.snapshot_walk(CARDS))
                yield from api.loyalty_cards(management, program.id, walks[-1])

    return _run(t1, warehouse, CARDS, pages)
