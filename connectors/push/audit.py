"""The push audit in the warehouse: runs, row results, and the hashes of what was pushed."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from promosync.connectors.push.rows import Rejection
from promosync.connectors.warehouse import Warehouse

OUTCOMES = ("running", "succeeded", "partial", "pending", "failed", "stopped", "dry_run")
KEPT_PROBLEMS = 100  # problems a report holds for display; push_row_results holds every one


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
    problems: list[RowResult] = field(default_factory=list)  # the first rows that did not arrive
    stopped_by: str | None = None  # the signal that stopped the run at a safe point
    recorded_invalid: int = field(default=0, repr=False)  # validation results written so far
    _clock: float = field(default_factory=time.monotonic, repr=False)

    def note(self, results: Iterable[RowResult]) -> None:
        """Keep the first KEPT_PROBLEMS problems for display."""
        for result in results:
            if len(self.problems) >= KEPT_PROBLEMS:
                return
            self.problems.append(result)

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
    start: int = 1,
) -> int:
    """Write row results of a run (a report, or a `push_runs` row), numbered from `start`."""
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
        for index, result in enumerate(results, start=start)
    ]
    if rows:
        warehouse.write_batch("push_row_results", ["result_id"], rows)
    return len(rows)


def record_invalid(warehouse: Warehouse, report: PushReport, results: list[RowResult]) -> None:
    """Write validation results of the report's run after those already written."""
    start = report.recorded_invalid + 1
    report.recorded_invalid += record_results(warehouse, report, results, None, start)


def pushed_hashes(
    warehouse: Warehouse, destination: str, operation: str, keys: list[str]
) -> dict[str, str]:
    """The hash of the last successful push of each of `keys` that has one."""
    where = "WHERE destination = :destination AND operation = :operation AND row_key"
    params: dict[str, Any] = {"destination": destination, "operation": operation, "keys": keys}
    if warehouse.dialect in ("duckdb", "postgresql"):  # one array parameter, however many keys
        query = sa.text(f"SELECT row_key, content_hash FROM push_hashes {where}"
                        " IN (SELECT unnest(CAST(:keys AS VARCHAR[])))")  # fmt: skip
    else:
        query = sa.text(f"SELECT row_key, content_hash FROM push_hashes {where} IN :keys")
        query = query.bindparams(sa.bindparam("keys", expanding=True))
    with warehouse.engine.connect() as conn:
        return dict(conn.execute(query, params).all())


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


def rejected_count(warehouse: Warehouse, run_id: str) -> int:
    """Rows of a run the destination refused."""
    rows = warehouse.query(
        "SELECT count(*) AS n FROM push_row_results WHERE run_id = :run_id AND status = 'rejected'",
        {"run_id": run_id},
    )
    return int(rows[0]["n"])
