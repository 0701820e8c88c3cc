"""What one stream's run did, measured the same way for every connector."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from promosync.connectors.http import BudgetSpent, RequestCounters
from promosync.connectors.stream import Stream
from promosync.connectors.warehouse import DATABASE_ERRORS, Warehouse, warehouse_error

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What one stream's run did; becomes the asset's materialization metadata."""

    stream: str
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rejected: int = 0  # records that could not be read (sync_rejects), each counted once
    entities: int = 0  # customers, campaigns, profiles or cards visited by a fan-out
    requests: int = 0
    rate_limited: int = 0
    cursor_before: str | None = None
    cursor_after: str | None = None
    seconds: float = 0.0
    mode: str | None = None  # which path a stream took, when it has more than one
    mode_reason: str | None = None  # why it took that path
    other_path_requests: int | None = None  # what the path not taken was expected to cost
    planned_requests: int | None = None  # entities visited x the stream's cost per entity
    # The request budget (connectors/spending.py), for a budgeted API:
    allowance: int | None = None  # requests this run could send (None: no cycle quota)
    cycle_spent: int | None = None  # the billing cycle's count in the ledger, every run
    cycle_cap: int | None = None  # promosync's share of the cycle, in requests
    deferred: int | None = None  # entities still owed a visit (the visit queue), for a fan-out
    signals: int | None = None  # customers owed an activity visit: their counters' digest moved
    sweep: int | None = None  # the rolling sweep's slice: least recently verified, added to visit
    sample: str | None = None  # a derived table checked against the API: how many, the outcome
    warning: str | None = None  # why the run stopped short of the work (it still succeeded)

    def add(self, inserted: int, updated: int) -> None:
        self.inserted += inserted
        self.updated += updated

    def plan(self, stream: Stream, entities: int) -> None:
        """Count `entities` visits at the stream's declared cost, what a planner would budget."""
        if stream.cost_per_entity is None:
            raise ValueError(f"{stream.name} visits entities: declare its cost_per_entity")
        self.planned_requests = (self.planned_requests or 0) + entities * stream.cost_per_entity

    @property
    def written(self) -> int:
        return self.inserted + self.updated


class _Counted(Protocol):
    @property
    def counters(self) -> RequestCounters: ...


@contextmanager
def measured(stream: Stream, client: _Counted, warehouse: Warehouse) -> Iterator[SyncReport]:
    """A report of the stream's run: requests spent, time taken, stream-wide cursor around it.

    A database error (a value of a new type, a read-only warehouse) becomes a WarehouseError
    that says so; the batch it hit was rolled back with its cursor. The allowance spent
    (BudgetSpent) ends the block early but is no failure: the report's `warning` says so, and
    what was committed stays.
    """
    report = SyncReport(stream.name, cursor_before=warehouse.read_cursor(stream.name))
    requests, limited = client.counters.requests, client.counters.rate_limited
    started = time.monotonic()
    try:
        yield report
    except DATABASE_ERRORS as error:
        raise warehouse_error(error, warehouse.url, stream.name) from None
    except BudgetSpent as spent:
        report.warning = f"stopped early, the rest deferred to the next run: {spent}"
        log.warning("%s: %s", stream.name, report.warning)
    report.requests = client.counters.requests - requests
    report.rate_limited = client.counters.rate_limited - limited
    report.seconds = round(time.monotonic() - started, 3)
    if report.cursor_after is None:
        report.cursor_after = warehouse.read_cursor(stream.name)
