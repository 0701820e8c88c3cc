"""The frame of every pull asset: checks at the start, a stop at each committed batch, progress,
and failures as one line that says what to do, retried only when a retry can pass."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TypeVar

import dagster as dg
from promosync.connectors import preflight, stopping
from promosync.connectors.http import ApiError, ConfigError
from promosync.connectors.report import SyncReport
from promosync.connectors.stopping import StopRequested
from promosync.connectors.warehouse import BatchResult, Warehouse, WarehouseError
from promosync.pipelines import progress
from promosync.pipelines.resources import WarehouseResource

Client = TypeVar("Client")


def report_metadata(report: SyncReport) -> dict[str, object]:
    """A stream report as materialization metadata."""
    data = asdict(report)
    data.pop("stream")
    return {key: value for key, value in data.items() if value is not None}


@contextmanager
def fatal_errors(partial: Callable[[], dict[str, Any]] | None = None) -> Iterator[None]:
    """Fail the step at once, as one line, unless a retry can pass (a transient warehouse error).

    Bad credentials, bad config, refused requests, an unusable warehouse and unexpected errors
    (their class and text kept, the trace in the event log) are not retried; neither is a stop
    asked for by a signal, whose `partial` metadata says what was committed before it.
    """
    try:
        stopping.check()
        yield
    except StopRequested as stop:
        metadata = {"stopped_by": stop.signal_name, **(partial() if partial else {})}
        raise dg.Failure(str(stop), metadata=metadata, allow_retries=False) from None
    except dg.Failure:
        raise
    except WarehouseError as error:
        if error.transient:
            raise  # the asset's RetryPolicy tries the step again
        raise dg.Failure(str(error), allow_retries=False) from None
    except (ApiError, ConfigError) as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    except Exception as error:
        message = f"unexpected {type(error).__name__}: {error}"
        raise dg.Failure(message, allow_retries=False) from error


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
        self.started = datetime.now(UTC)

    def track(self, client: Client) -> Client:
        """Count `client`'s requests in this step's progress (both clients of a TalonOne)."""
        parts = [getattr(client, name, None) for name in ("integration", "management")]
        counted = [part for part in parts if part is not None] or [client]
        self.progress.clients.extend(counted)
        return client

    def committed(self, batch: BatchResult) -> None:
        """After each committed batch: count it, and stop here if a signal asked for it."""
        self.progress.inserted += batch.inserted
        self.progress.updated += batch.updated
        stopping.check()

    def partial(self) -> dict[str, Any]:
        """What the step committed before it stopped, as metadata."""
        totals = self.progress.totals()
        totals.pop("retry_causes")
        return {"inserted": self.progress.inserted, "updated": self.progress.updated, **totals}

    def result(self, report: SyncReport, **extra: object) -> dg.MaterializeResult:
        """The materialization: the report, retries (by cause) and any repair made first."""
        metadata: dict[str, Any] = {**report_metadata(report), **extra}
        totals = self.progress.totals()
        metadata["retries"] = totals["retries"]
        if totals["retry_causes"]:
            causes = sorted(totals["retry_causes"].items(), key=lambda item: -item[1])
            metadata["retry_causes"] = ", ".join(f"{cause}: {count}" for cause, count in causes)
        if self.repaired:
            metadata["repaired"] = " | ".join(problem.repaired() for problem in self.repaired)
        return dg.MaterializeResult(metadata=metadata)

    def mark_unseen_deleted(self) -> int:
        """After a full re-read: stamp `_deleted_at` on the rows it did not meet again."""
        return self.store.mark_unseen_deleted(self.stream, self.started)


@contextmanager
def pull_step(
    stream: str, warehouse: WarehouseResource, *, full_refresh: bool = False
) -> Iterator[PullStep]:
    """Open the warehouse for `stream`'s asset: tables checked and repaired, cursors reset on a
    full refresh, and every committed batch a point where a signal stops the step."""
    shown = progress.StreamProgress(stream)
    step: PullStep | None = None
    with (
        progress.running(shown),
        fatal_errors(lambda: step.partial() if step else {}),
        warehouse.warehouse(create_tables=False) as store,
    ):
        refuse = () if full_refresh else (stream,)  # a full refresh resets what would be refused
        repaired = preflight.prepare(store, datetime.now(UTC), refuse_for=refuse)
        if full_refresh:
            store.reset_cursors(stream)
        step = PullStep(stream, store, repaired, shown)
        store.after_commit = step.committed
        yield step
