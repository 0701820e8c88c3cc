"""One read of the customers window, by the list or by an export, whichever costs fewer requests.

`read_customers` is what `sync_customers` runs: it resumes a saved export of the same window,
else reads the list's first page and chooses (customer_exports.choose_path). An export that
ends ERROR is made once more; one that is stuck, gone, unreadable or on a foreign host falls
back to the list from the committed cursor. A tie group the list cannot page through is read by
an export of that instant wherever the walk meets it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import closing
from itertools import chain
from typing import Any

from promosync.connectors.batches import StreamWriter
from promosync.connectors.http import ApiClient
from promosync.connectors.keyset import OversizeReader, TieGroupTooLarge
from promosync.connectors.paging import Page
from promosync.connectors.read_ahead import read_ahead
from promosync.connectors.report import SyncReport
from promosync.connectors.voucherify import client as api
from promosync.connectors.voucherify import exports
from promosync.connectors.voucherify.customer_exports import (
    PathChoice,
    choose_path,
    export_parameters,
    pages,
    tie_parameters,
)
from promosync.connectors.voucherify.export_state import saved, start
from promosync.connectors.voucherify.streams import CUSTOMERS
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

PATHS = ("auto", "list", "export")
WINDOW = "window"  # the purpose of an export of a read's window (sync_exports)
ATTEMPTS = 2  # exports made for one read when the first ends ERROR


class _FirstTotal:
    """A client that remembers the `total` of the first answer (the list's first page)."""

    def __init__(self, client: ApiClient) -> None:
        self.client, self.total, self.answered = client, None, False

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        body = self.client.get_json(path, params)
        if not self.answered:
            self.answered = True
            self.total = body.get("total") if isinstance(body, dict) else None
        return body


def read_customers(
    client: ApiClient,
    writer: StreamWriter,
    partition: str | None,
    after: str | None,
    before: str,
    path: str = "auto",
) -> str | None:
    """Write the customers with after < updated_at < before; return the cursor now committed
    (`partition` None: a backfill window, no cursor). Sets the report's mode and its why."""
    if path not in PATHS:
        raise ValueError(f"path must be one of {', '.join(PATHS)}, not {path!r}")
    report, warehouse = writer.report, writer.warehouse
    oversize = _tie_reader(client, warehouse)
    if path != "list" and (saved_before := _saved_window(writer, partition, after)):
        report.mode, report.mode_reason = "export", "resumed a saved export"
        return _by_export(client, writer, partition, after, saved_before, oversize)
    if path == "export":
        _report(report, PathChoice("export", "asked for", 0, 0))
        return _by_export(client, writer, partition, after, before, oversize)
    totals = _FirstTotal(client)
    walk = api.customers(totals, after, before, oversize)
    first = next(walk, None) if path == "auto" else None
    if path == "auto" and first is not None:
        choice = choose_path(len(first), totals.total, CUSTOMERS.required("page_size"))
        _report(report, choice)
        if choice.mode == "export":
            walk.close()
            return _by_export(client, writer, partition, after, before, oversize)
    else:
        report.mode = "list"
    source = chain([first], walk) if first is not None else walk
    with closing(read_ahead(source)) as listed:
        return writer.commit_pages(listed, partition, cursor=after)


def _report(report: SyncReport, choice: PathChoice) -> None:
    report.mode, report.mode_reason = choice.mode, choice.reason
    report.other_path_requests = choice.other_requests or None


def _saved_window(writer: StreamWriter, partition: str | None, after: str | None) -> str | None:
    """The end of a saved export's window, when one was made for this read (same start)."""
    found = saved(writer.warehouse, CUSTOMERS.name, WINDOW)
    if found is None or found.parameters.get("after") != after:
        return None
    if found.parameters.get("partition") != partition:
        return None
    return found.parameters.get("before")


def _by_export(
    client: ApiClient,
    writer: StreamWriter,
    partition: str | None,
    after: str | None,
    before: str,
    oversize: OversizeReader,
) -> str | None:
    """Read the window by an export; the list from `after` if no export can be read."""
    warehouse, failure = writer.warehouse, None
    parameters = {"after": after, "before": before, "partition": partition}
    for _ in range(ATTEMPTS):
        run = start(
            client, warehouse, CUSTOMERS.name, WINDOW, parameters,
            create=lambda: exports.create(client, "customer", export_parameters(after, before)),
            same=lambda saved: saved.get("after") == after and saved.get("partition") == partition,
        )  # fmt: skip
        window_end = run.parameters["before"]
        try:
            export = exports.wait(client, run.export_id)
            rows = exports.rows(client, export)
            read = pages(rows, warehouse, after, window_end)
            cursor = writer.commit_pages(read, partition, cursor=after)
        except exports.ExportFailed as error:
            run.forget(warehouse)
            failure = error
            log.warning("%s: %s", CUSTOMERS.name, error)
            if error.retry:
                continue
            break
        run.forget(warehouse)
        return cursor
    writer.report.mode = "list"
    writer.report.mode_reason = f"export failed ({failure}); read by the list instead"
    with closing(read_ahead(api.customers(client, after, before, oversize))) as listed:
        return writer.commit_pages(listed, partition, cursor=after)


def _tie_reader(client: ApiClient, warehouse: Warehouse) -> OversizeReader:
    """Reads a tie group past the list's page cap through an export of its instant."""

    def read(instant: str) -> Iterator[Page]:
        purpose = f"tie:{instant}"
        run = start(
            client, warehouse, CUSTOMERS.name, purpose, {"instant": instant},
            create=lambda: exports.create(client, "customer", tie_parameters(instant)),
            same=lambda saved: True,
        )  # fmt: skip
        try:
            export = exports.wait(client, run.export_id)
            yield from pages(exports.rows(client, export), warehouse, None, instant, instant)
        except exports.ExportFailed as error:
            run.forget(warehouse)
            raise TieGroupTooLarge(
                "voucherify", CUSTOMERS.endpoint,
                f"the customers sharing updated_at {instant} are more than the list can page"
                f" through, and their export failed: {error}",
                instant,
            ) from None  # fmt: skip
        run.forget(warehouse)

    return read
