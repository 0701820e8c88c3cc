"""The frame of every pull asset: checks at the start, progress counted at each committed batch,
and failures as one line that says what to do, retried only when a retry can pass."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import dagster as dg
from promosync.connectors import preflight
from promosync.connectors.report import SyncReport
from promosync.connectors.spending import Spending, keeps_ledger
from promosync.connectors.warehouse import BatchResult, Warehouse
from promosync.pipelines import progress
from promosync.pipelines.asset_policy import fatal_errors, report_metadata
from promosync.pipelines.resources import WarehouseResource

Client = TypeVar("Client")


class PullStep:
    """One pull asset's run: its warehouse, the clients it counts, and what it committed."""

    def __init__(
        self,
        stream: str,
        store: Warehouse,
        repaired: list[preflight.Problem],
        shown: progress.StreamProgress,
    ) -> None:
        self.stream, self.store, self.repaired, self.progress = stream, store, repaired, shown
        self.spending: Spending | None = None

    def budget(self, client: Client, api: Any, run_id: str, first_load: bool) -> Client:
        """Keep `api`'s request budget (when it has one, Voucherify's) for `client`: each request
        is reserved in the request ledger before it is sent, never past this run's allowance
        (a first load or a backfill has its own share)."""
        settings = getattr(api, "budget_settings", None)
        if settings is None or not keeps_ledger(self.store):
            return client  # an in-memory warehouse ends with the run: no ledger to share
        self.spending = Spending(
            self.store, settings(), api.account(), self.stream, run_id, first_load
        )
        client.spending = self.spending  # type: ignore[attr-defined]
        return client

    def track(self, client: Client) -> Client:
        """Count `client`'s requests in this step's progress (both clients of a TalonOne; none
        of a client that keeps no counters)."""
        parts = [getattr(client, name, None) for name in ("integration", "management")]
        counted = [part for part in parts if part is not None] or [client]
        self.progress.clients.extend(part for part in counted if hasattr(part, "counters"))
        return client

    def committed(self, batch: BatchResult) -> None:
        """After each committed batch: count it (the stream's writer then stops on a signal)."""
        self.progress.inserted += batch.inserted
        self.progress.updated += batch.updated
        if self.spending is not None:  # what was sent counts as settled now its data is kept
            self.spending.settle()

    def partial(self) -> dict[str, Any]:
        """What the step committed before it stopped, as metadata."""
        totals = self.progress.totals()
        totals.pop("retry_causes")
        return {"inserted": self.progress.inserted, "updated": self.progress.updated, **totals}

    def result(self, report: SyncReport, **extra: object) -> dg.MaterializeResult:
        """The materialization: the report, retries (by cause) and any repair made first."""
        if (spending := self.spending) is not None:
            spending.settle(final=True)
            report.allowance, report.cycle_cap = spending.allowance, spending.cap
            report.cycle_spent = spending.cycle_count()
        metadata: dict[str, Any] = {**report_metadata(report), **extra}
        totals = self.progress.totals()
        metadata["retries"] = totals["retries"]
        if totals["retry_causes"]:
            metadata["retry_causes"] = progress.causes_text(totals["retry_causes"])
        if self.repaired:
            metadata["repaired"] = " | ".join(problem.repaired() for problem in self.repaired)
        return dg.MaterializeResult(metadata=metadata)


@contextmanager
def pull_step(
    stream: str, warehouse: WarehouseResource, *, full_refresh: bool = False
) -> Iterator[PullStep]:
    """Open the warehouse for `stream`'s asset: tables checked and repaired (a full refresh,
    which resets the stream's cursors, is not refused for them), committed batches counted."""
    shown = progress.StreamProgress(stream)
    step: PullStep | None = None
    with (
        progress.running(shown),
        fatal_errors(lambda: step.partial() if step else {}),
        warehouse.warehouse(create_tables=False) as store,
    ):
        refuse = () if full_refresh else (stream,)  # a full refresh resets what would be refused
        repaired = preflight.prepare(store, datetime.now(UTC), refuse_for=refuse)
        step = PullStep(stream, store, repaired, shown)
        store.after_commit = step.committed
        try:
            yield step
        finally:  # a failed or stopped step too: the ledger then holds exactly what was sent
            if step.spending is not None:
                step.spending.settle(final=True)
