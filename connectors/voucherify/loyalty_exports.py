"""A loyalty campaign's transactions read whole through its export, when that is cheaper.

The list of a campaign's transactions has no `total`, so its size shows only as full pages: a
campaign read from its start (a first load, a full refresh) whose first page is full is read by
`POST /v1/loyalties/{campaignId}/transactions/export` (create, a few polls, a file per 100,000
rows) instead of a request per 100; an incremental read (few new transactions, and no export
filter on ids) stays on the list. The export's `details` column is the transaction's whole
`details` object, so the record equals the list's, but for null and `""` (an empty cell, read as
null) and the campaign id, which the sync fills in as it does for the list.

The cursor is the list's: the greatest id read (the list is read in id order after it), committed
once with the last rows; a read that fails half-way leaves it unset, and the list reads the
campaign from its start again (rows are upserted, never doubled).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import closing
from itertools import chain, islice
from typing import Any

import orjson
from promosync.connectors.batches import StreamWriter
from promosync.connectors.http import ApiClient
from promosync.connectors.paging import Page
from promosync.connectors.read_ahead import read_ahead
from promosync.connectors.voucherify import client as api
from promosync.connectors.voucherify import exports
from promosync.connectors.voucherify.export_state import start
from promosync.connectors.voucherify.streams import LOYALTY_TRANSACTIONS

FIELDS = (
    "id", "source_id", "voucher_id", "source", "reason", "type", "details",
    "related_transaction_id", "created_at",
)  # fmt: skip
CHUNK = 2000

log = logging.getLogger(__name__)


def transaction_record(cells: Mapping[str, str]) -> dict[str, Any]:
    """A transaction of the export as the list answers it (empty cells as null)."""
    record: dict[str, Any] = {field: cells.get(field) or None for field in FIELDS}
    if record["details"] is not None:
        try:
            record["details"] = orjson.loads(record["details"])
        except orjson.JSONDecodeError:
            raise exports.ExportFailed("a transaction's details cell is not JSON") from None
    return record


def campaign_pages(client: ApiClient, warehouse: Any, campaign_id: str) -> Iterator[Page]:
    """Every transaction of the campaign, by export: pages without a cursor, then an empty one
    whose cursor is the greatest id read. ExportFailed when the export cannot be read."""
    run = start(
        client, warehouse, LOYALTY_TRANSACTIONS.name, f"campaign:{campaign_id}", {},
        create=lambda: exports.create_campaign_transactions(
            client, campaign_id, {"fields": list(FIELDS)}
        ),
        same=lambda saved: True,  # any snapshot will do: the list goes on after its last id
    )  # fmt: skip
    try:
        rows = exports.rows(client, exports.wait(client, run.export_id))
        greatest = None
        while chunk := list(islice(rows, CHUNK)):
            records = [transaction_record(cells) for cells in chunk]
            ids = [r["id"] for r in records if isinstance(r["id"], str)]
            greatest = max([*ids, *([greatest] if greatest else [])], default=None)
            yield Page(records)
    except exports.ExportFailed:
        run.forget(warehouse)
        raise
    run.forget(warehouse)
    if greatest is not None:
        yield Page([], greatest)


def read_campaign(
    client: ApiClient, writer: StreamWriter, campaign_id: str, start: str | None, path: str
) -> str:
    """Read one campaign's new transactions by the list or its export; the path taken."""
    fill = {"campaign_id": campaign_id}
    source = api.loyalty_transactions(client, campaign_id, start)
    if start is None and path != "list":
        first = next(source, None) if path == "auto" else None
        full = first is not None and len(first) >= LOYALTY_TRANSACTIONS.required("page_size")
        if path == "export" or full:
            source.close()
            try:
                read = campaign_pages(client, writer.warehouse, campaign_id)
                writer.commit_pages(read, campaign_id, cursor=start, fill=fill)
                return "export"
            except exports.ExportFailed as error:
                log.warning(
                    "%s: campaign %s: %s; reading the list", writer.stream.name, campaign_id, error
                )
                source = api.loyalty_transactions(client, campaign_id, start)
        elif first is not None:
            source = chain([first], source)
    with closing(read_ahead(source)) as pages:
        writer.commit_pages(pages, campaign_id, cursor=start, fill=fill)
    return "list"
