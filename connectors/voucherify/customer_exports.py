"""Customers read through an export: which path a read takes, and the export's pages.

The cheapest path per read: the customers list costs a request per 100 customers, an export a
create, a few polls and a download per file (`exports.export_cost`). The first list page is read
in any case (a run with few changes ends there); when it is full, its `total` sizes the rest.
`total` may count every customer rather than those in the window (docs/RELIABILITY.md, "What the
specs leave open"), or be missing: both readings can only make the export look needed when it is
not, which costs at most an export's few requests, never a row; a list chosen wrongly could cost
a thousand. So an unknown size takes the export.

Rows of an export land as the list's would: in the same table, through the same writer, with
the same strict window (after < updated_at < before, whatever the export's bound reading). The
cursor is committed once, with the last rows, at the latest `updated_at` read (the export holds
the whole window, in no promised order), so a read that fails or stops half-way leaves the
cursor where it was and the list (or the next run) reads the window again: rows are upserted,
never lost or doubled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from promosync.connectors.cursor import TICK, format_instant, parse_instant
from promosync.connectors.keyset import instant_or_none
from promosync.connectors.paging import Page
from promosync.connectors.stream import Record
from promosync.connectors.voucherify import exports
from promosync.connectors.voucherify.export_records import CUSTOMER_FIELDS, customer_record
from promosync.connectors.voucherify.streams import CUSTOMERS
from promosync.connectors.warehouse import Warehouse

CHUNK = 1000  # rows looked up in the warehouse (their last record) at once


@dataclass(frozen=True)
class PathChoice:
    """The path a read takes, why, and what each path is expected to cost in requests."""

    mode: str  # "list" or "export"
    reason: str
    list_requests: int
    export_requests: int

    @property
    def other_requests(self) -> int:
        """What the path not taken would have cost."""
        return self.export_requests if self.mode == "list" else self.list_requests


def choose_path(first_page: int, total: Any, page_size: int) -> PathChoice:
    """List or export, from the first list page's size and its `total` (see the module doc)."""
    if first_page < page_size:
        export = exports.export_cost(first_page)
        return PathChoice("list", "the first page held every customer to read", 1, export)
    if not isinstance(total, int) or isinstance(total, bool) or total < first_page:
        export = 1 + exports.export_cost(first_page)
        reason = "the list gives no usable total to size it by; an export's cost is bounded"
        return PathChoice("export", reason, -(-first_page // page_size) + 1, export)
    pages = -(-total // page_size)
    export = 1 + exports.export_cost(total)  # the first list page is spent either way
    if pages > export:
        reason = f"about {total} customers: {pages} list pages against an export's {export}"
        return PathChoice("export", reason, pages, export)
    reason = f"about {total} customers: {pages} list pages, an export would cost {export}"
    return PathChoice("list", reason, pages, export)


def window_filters(after: str | None, before: str) -> dict[str, Any]:
    """The export filter of the window after < updated_at < before."""
    conditions: dict[str, list[str]] = {"$before": [before]}
    if after:
        conditions["$after"] = [after]
    return {"junction": "and", "updated_at": {"conditions": conditions}}


def export_parameters(after: str | None, before: str) -> dict[str, Any]:
    """`parameters` of a customer export of the window: every field, oldest change first."""
    return {
        "fields": list(CUSTOMER_FIELDS),
        "order": "updated_at",
        "filters": window_filters(after, before),
    }


def tie_parameters(instant: str) -> dict[str, Any]:
    """`parameters` of an export of the customers stamped exactly `instant` (one tick either
    side, strict; an inclusive reading adds neighbours, which `pages` leaves out)."""
    moment = parse_instant(instant)
    return export_parameters(format_instant(moment - TICK), format_instant(moment + TICK))


class _Window:
    """Which export rows belong to the read: strictly inside (after, before), or at `only`."""

    def __init__(self, after: str | None, before: str, only: str | None) -> None:
        self.after = parse_instant(after) if after else None
        self.before = parse_instant(before)
        self.only = parse_instant(only) if only else None

    def holds(self, moment: datetime | None) -> bool:
        if moment is None:
            return self.only is None  # unreadable: passed on, the writer rejects it
        if self.only is not None:
            return moment == self.only
        return (self.after is None or moment > self.after) and moment < self.before


def pages(
    rows: Iterable[Mapping[str, str]],
    warehouse: Warehouse,
    after: str | None,
    before: str,
    only: str | None = None,
) -> Iterator[Page]:
    """The window's customers from export `rows`, as pages without a cursor, and last an empty
    page whose cursor is the latest `updated_at` read (`only` when reading one tie group)."""
    window = _Window(after, before, only)
    latest: tuple[datetime, str] | None = None
    source = iter(rows)
    while chunk := list(islice(source, CHUNK)):
        chosen = []
        for cells in chunk:
            text = cells.get("updated_at")
            moment = instant_or_none(text)
            if window.holds(moment):
                chosen.append(cells)
                if moment is not None and (latest is None or moment > latest[0]):
                    latest = (moment, text)  # type: ignore[assignment]
        known = warehouse.records(CUSTOMERS.name, "id", [c["id"] for c in chosen if c.get("id")])
        records: list[Record] = [customer_record(c, known.get(c.get("id"))) for c in chosen]
        yield Page(records)
    if only is not None:
        yield Page([], only)
    elif latest is not None:
        yield Page([], latest[1])
