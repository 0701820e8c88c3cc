"""Exports a stream is reading, saved in `sync_exports` so a killed run resumes with the same one.

The export id and the window it was made for are committed before the first status poll. A run
that finds a saved export for the same purpose, made from the same starting cursor, adopts it
(its window too: the saved `before` is an earlier signpost, so the cursor still never passes the
instant a run started) instead of paying for another; one that is gone or ended ERROR is dropped
and a new one made. The entry is removed once its rows are committed or it cannot be used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from promosync.connectors.http import ApiClient
from promosync.connectors.voucherify import exports
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

TABLE = "sync_exports"
KEY = ("stream", "purpose")


@dataclass
class ExportRun:
    """One export a read uses: its id, the window it covers, and whether a run before made it."""

    stream: str
    purpose: str
    export_id: str
    parameters: dict[str, Any]
    resumed: bool = False

    def forget(self, warehouse: Warehouse) -> None:
        """Drop the saved entry: the export's rows are committed, or it cannot be used."""
        warehouse.delete_rows(TABLE, {"stream": self.stream, "purpose": self.purpose})


def saved(warehouse: Warehouse, stream: str, purpose: str) -> ExportRun | None:
    """The export saved for `stream` and `purpose`, if any."""
    rows = warehouse.query(
        f"SELECT export_id, parameters FROM {TABLE} WHERE stream = :stream AND purpose = :purpose",
        {"stream": stream, "purpose": purpose},
    )
    if not rows:
        return None
    row = rows[0]
    return ExportRun(stream, purpose, row["export_id"], orjson.loads(row["parameters"]), True)


def start(
    client: ApiClient,
    warehouse: Warehouse,
    stream: str,
    purpose: str,
    parameters: Mapping[str, Any],
    create: Callable[[], str],
    same: Callable[[Mapping[str, Any]], bool],
) -> ExportRun:
    """The export to read for `purpose`: a saved one that `same` accepts and that can still be
    read, else a new one from `create`, saved (committed) before anything waits for it."""
    found = saved(warehouse, stream, purpose)
    if found is not None:
        if same(found.parameters) and _usable(client, found.export_id):
            log.info("%s: resuming export %s (%s)", stream, found.export_id, purpose)
            return found
        found.forget(warehouse)
    run = ExportRun(stream, purpose, create(), dict(parameters))
    row = {
        "stream": stream,
        "purpose": purpose,
        "export_id": run.export_id,
        "parameters": orjson.dumps(run.parameters).decode(),
        "created_at": datetime.now(UTC),
    }
    warehouse.put_row(TABLE, KEY, row)
    return run


def _usable(client: ApiClient, export_id: str) -> bool:
    try:
        return exports.status(client, export_id).get("status") != "ERROR"
    except exports.ExportFailed:
        return False
