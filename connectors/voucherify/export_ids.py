"""Every customer id and its counters' digest, from an export of those fields: what the
reconciliation of deletes compares, and the change signal of customers whose `updated_at` did
not move (connectors/voucherify/signals.py).

At 100,000 customers the list walk costs 1,000 requests; the export a create, a few polls and a
download. The export's data is read after it is created, so every customer the warehouse holds
(read before the reconciliation began) is in it unless deleted. A saved export (a killed run)
is reused only while the customers cursor has not moved since it was made: a customer synced
after an old snapshot would otherwise look deleted.
"""

from __future__ import annotations

from promosync.connectors.http import ApiClient
from promosync.connectors.voucherify import exports, signals
from promosync.connectors.voucherify.customer_exports import PathChoice
from promosync.connectors.voucherify.export_state import start
from promosync.connectors.voucherify.streams import CUSTOMERS
from promosync.connectors.warehouse import Warehouse

PURPOSE = "reconcile"
PARAMETERS = {"fields": ["id", *signals.FIELDS], "order": "id"}


def reconcile_path(warehouse: Warehouse, path: str = "auto") -> PathChoice:
    """List walk or id export, whichever costs fewer requests for the customers the warehouse
    holds (the walk: a page per 100, and one more to see the end); `path` forces one."""
    live = f"SELECT count(*) AS n FROM {CUSTOMERS.name} WHERE _deleted_at IS NULL"
    held = warehouse.query(live)[0]["n"]
    pages = held // CUSTOMERS.required("page_size") + 1
    export = exports.export_cost(held)
    if path in ("list", "export"):
        return PathChoice(path, "asked for", pages, export)
    mode = "export" if export < pages else "list"
    reason = f"{held} customers held: {pages} list pages against an export's {export}"
    return PathChoice(mode, reason, pages, export)


def exported_digests(client: ApiClient, warehouse: Warehouse) -> dict[str, str]:
    """Every customer id the API has now, with its counters' digest; ExportFailed when no export
    could be read."""
    cursor = warehouse.read_cursor(CUSTOMERS.name)
    failure: exports.ExportFailed | None = None
    for _ in range(2):  # a second export when the first ends ERROR
        run = start(
            client, warehouse, CUSTOMERS.name, PURPOSE, {"cursor": cursor},
            create=lambda: exports.create(client, "customer", PARAMETERS),
            same=lambda saved: saved.get("cursor") == cursor,
        )  # fmt: skip
        try:
            export = exports.wait(client, run.export_id)
            rows = exports.rows(client, export)
            digests = {row["id"]: signals.cells_digest(row) for row in rows if row.get("id")}
        except exports.ExportFailed as error:
            run.forget(warehouse)
            failure = error
            if error.retry:
                continue
            raise
        except KeyError:
            run.forget(warehouse)
            raise exports.ExportFailed("the id export has no id column") from None
        run.forget(warehouse)
        return digests
    assert failure is not None
    raise failure
