"""The ledger of asynchronous requests (`push_jobs`): written before and after each send.

A run writes a job as `intent` (with the keys and hashes it carries, in `push_job_rows`) before
the POST, and the async action id, as `sent`, right after the 202. Every run first reads the open
jobs (`intent` or `sent`) of its destination and polls them; their rows count as in flight, so
they are not sent again while the action runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from promosync.connectors.push.audit import utc_now
from promosync.connectors.push.hashing import Change
from promosync.connectors.warehouse import Warehouse

OPEN = ("intent", "sent")


@dataclass
class Job:
    """One request that starts an async action, as kept in `push_jobs`."""

    job_id: str
    run_id: str
    destination: str
    operation: str
    endpoint: str
    action_type: str | None
    sequence: int
    row_count: int
    payload_bytes: int
    status: str = "intent"
    async_action_id: str | None = None
    async_status: str | None = None
    done_count: int | None = None
    failed_count: int | None = None
    intent_at: datetime = field(default_factory=utc_now)
    sent_at: datetime | None = None
    finished_at: datetime | None = None


def _job(row: dict[str, Any]) -> Job:
    return Job(**{f.name: row[f.name] for f in fields(Job)})


def save_job(warehouse: Warehouse, job: Job) -> None:
    """Write the job's current state."""
    warehouse.write_batch("push_jobs", ["job_id"], [asdict(job)])


def record_intent(warehouse: Warehouse, job: Job, changes: list[Change]) -> None:
    """Record what a request carries before it is sent (rows first: a job never lacks its rows)."""
    rows = [
        {"job_id": job.job_id, "position": position, "row_key": change.row.key,
         "row_number": change.row.number, "content_hash": change.hash}
        for position, change in enumerate(changes, start=1)
    ]  # fmt: skip
    warehouse.write_batch("push_job_rows", ["job_id", "position"], rows)
    save_job(warehouse, job)


def open_jobs(warehouse: Warehouse, destination: str, operation: str | None = None) -> list[Job]:
    """Jobs not yet known to have ended, oldest first."""
    rows = warehouse.query(
        "SELECT * FROM push_jobs WHERE destination = :destination AND status IN ('intent', 'sent')"
        " AND (CAST(:operation AS VARCHAR) IS NULL OR operation = :operation)"
        " ORDER BY intent_at, sequence",
        {"destination": destination, "operation": operation},
    )
    return [_job(row) for row in rows]


def run_jobs(warehouse: Warehouse, run_id: str) -> list[Job]:
    """Every job of one run, in sending order."""
    rows = warehouse.query(
        "SELECT * FROM push_jobs WHERE run_id = :run_id ORDER BY sequence", {"run_id": run_id}
    )
    return [_job(row) for row in rows]


def job_rows(warehouse: Warehouse, job_id: str) -> list[dict[str, Any]]:
    """The rows a job carries, in request order."""
    return warehouse.query(
        "SELECT position, row_key, row_number, content_hash FROM push_job_rows"
        " WHERE job_id = :job_id ORDER BY position",
        {"job_id": job_id},
    )


def in_flight(warehouse: Warehouse, destination: str, operation: str) -> dict[str, str]:
    """Key -> hash of rows carried by open jobs of one operation."""
    rows = warehouse.query(
        "SELECT r.row_key, r.content_hash FROM push_job_rows r"
        " JOIN push_jobs j ON j.job_id = r.job_id"
        " WHERE j.destination = :destination AND j.operation = :operation"
        " AND j.status IN ('intent', 'sent')",
        {"destination": destination, "operation": operation},
    )
    return {row["row_key"]: row["content_hash"] for row in rows}


def known_action_ids(warehouse: Warehouse) -> set[str]:
    """Every async action id the ledger has recorded."""
    rows = warehouse.query(
        "SELECT async_action_id FROM push_jobs WHERE async_action_id IS NOT NULL"
    )
    return {row["async_action_id"] for row in rows}


def close_job(job: Job, status: str, action: dict[str, Any] | None = None) -> None:
    """Mark a job ended: `done`, `failed` or `lost`, with the action's counts when known."""
    job.status = status
    job.finished_at = utc_now()
    result = (action or {}).get("result") or {}
    if action is not None:
        job.async_status = action.get("status")
        job.done_count = result.get("done_count")
        job.failed_count = result.get("failed_count")


def run_outcome(jobs: list[Job], rows_failed: int, error: str | None) -> str:
    """pending while a job is open; failed on an error or a failed/lost job; partial; succeeded."""
    if any(job.status in OPEN for job in jobs):
        return "pending"
    if error or any(job.status in ("failed", "lost") for job in jobs):
        return "failed"
    return "partial" if rows_failed else "succeeded"
