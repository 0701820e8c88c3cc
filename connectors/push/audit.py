"""The push audit in the warehouse: runs, row results, and the hashes of what was pushed."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from promosync.connectors.push.hashing import Change
from promosync.connectors.push.rows import Rejection
from promosync.connectors.warehouse import Warehouse

OUTCOMES = ("running", "succeeded", "partial", "pending", "failed", "dry_run")


def utc_now() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class RowResult:
    """One row's fate: invalid (validation), rejected (by the API) or done (asked for)."""

    number: int | None
    key: str | None
    status: str
    reason: str
    detail: dict[str, Any] | None = None

    @classmethod
    def invalid(cls, rejection: Rejection) -> RowResult:
        """A validation failure as a row result."""
        return cls(rejection.number, rejection.key, "invalid", rejection.reason)


@dataclass
class PushReport:
    """What one push run did; saved as a `push_runs` row and reported as metadata."""

    destination: str
    operation: str
    source: str
    forced: bool = False
    run_id: str = field(
        default_factory=lambda: f"push_{utc_now():%Y%m%dT%H%M%S}_{secrets.token_hex(4)}"
    )
    rows_considered: int = 0
    rows_invalid: int = 0
    rows_skipped: int = 0
    rows_sent: int = 0
    rows_failed: int = 0
    requests: int = 0
    async_action_ids: list[str] = field(default_factory=list)
    resumed_action_ids: list[str] = field(default_factory=list)
    outcome: str = "running"
    error: str | None = None
    started_at: datetime = field(default_factory=utc_now)
    finished_at: datetime | None = None
    seconds: float | None = None
    batches: list[str] = field(default_factory=list)  # what each request carries (dry run shows it)
    problems: list[RowResult] = field(default_factory=list)  # every row that did not arrive
    _clock: float = field(default_factory=time.monotonic, repr=False)

    def finish(self, outcome: str) -> None:
        """Stamp the end of the run."""
        self.outcome = outcome
        self.finished_at = utc_now()
        self.seconds = round(time.monotonic() - self._clock, 3)

    def row(self) -> dict[str, Any]:
        """The `push_runs` row."""
        names = (
            "run_id", "destination", "operation", "source", "forced", "rows_considered",
            "rows_invalid", "rows_skipped", "rows_sent", "rows_failed", "requests",
            "async_action_ids", "resumed_action_ids", "outcome", "error", "started_at",
            "finished_at", "seconds",
        )  # fmt: skip
        return {name: getattr(self, name) for name in names}

    def metadata(self) -> dict[str, Any]:
        """Counts, ids and outcome, as Dagster materialization metadata."""
        data = {k: v for k, v in self.row().items() if v not in (None, [])}
        for key in ("started_at", "finished_at"):
            data.pop(key, None)
        data["batches"] = len(self.batches)
        return data


def save_run(warehouse: Warehouse, report: PushReport) -> None:
    """Write (or rewrite) the run's `push_runs` row."""
    warehouse.write_batch("push_runs", ["run_id"], [report.row()])


def load_run(warehouse: Warehouse, run_id: str) -> dict[str, Any] | None:
    """A `push_runs` row, or None."""
    rows = warehouse.query("SELECT * FROM push_runs WHERE run_id = :run_id", {"run_id": run_id})
    return rows[0] if rows else None


def record_results(
    warehouse: Warehouse,
    report_or_run: PushReport | dict[str, Any],
    results: Iterable[RowResult],
    job_id: str | None = None,
) -> int:
    """Write row results of a run (a report, or a `push_runs` row); return how many."""
    run = report_or_run.row() if isinstance(report_or_run, PushReport) else report_or_run
    now = utc_now()
    rows = [
        {
            "result_id": f"{run['run_id']}:{job_id or 'validation'}:{index}",
            "run_id": run["run_id"],
            "job_id": job_id,
            "destination": run["destination"],
            "operation": run["operation"],
            "row_number": result.number,
            "row_key": result.key,
            "status": result.status,
            "reason": result.reason,
            "detail": result.detail,
            "recorded_at": now,
        }
        for index, result in enumerate(results, start=1)
    ]
    if rows:
        warehouse.write_batch("push_row_results", ["result_id"], rows)
    return len(rows)


def pushed_hashes(warehouse: Warehouse, destination: str, operation: str) -> dict[str, str]:
    """The hash of every key's last successful push."""
    rows = warehouse.query(
        "SELECT row_key, content_hash FROM push_hashes"
        " WHERE destination = :destination AND operation = :operation",
        {"destination": destination, "operation": operation},
    )
    return {row["row_key"]: row["content_hash"] for row in rows}


def save_hashes(
    warehouse: Warehouse,
    destination: str,
    operation: str,
    run_id: str,
    confirmed: Iterable[tuple[str, str]],
) -> None:
    """Remember (key, hash) pairs the destination confirmed."""
    now = utc_now()
    rows = [
        {"destination": destination, "operation": operation, "row_key": key,
         "content_hash": digest, "run_id": run_id, "pushed_at": now}
        for key, digest in confirmed
    ]  # fmt: skip
    if rows:
        warehouse.write_batch("push_hashes", ["destination", "operation", "row_key"], rows)


def confirmed(changes: Iterable[Change]) -> list[tuple[str, str]]:
    """(key, hash) of changes that arrived."""
    return [(change.row.key, change.hash) for change in changes]


def rejected_count(warehouse: Warehouse, run_id: str) -> int:
    """Rows of a run the destination refused."""
    rows = warehouse.query(
        "SELECT count(*) AS n FROM push_row_results WHERE run_id = :run_id AND status = 'rejected'",
        {"run_id": run_id},
    )
    return int(rows[0]["n"])
