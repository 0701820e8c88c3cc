"""The ledger of asynchronous requests (`push_jobs`): written before and after each send.

A run writes a job as `intent` (with the keys and hashes it carries, in `push_job_rows`) before
the POST, and the async action id, as `sent`, right after the 202. Every run first reads the open
jobs (`intent` or `sent`) of its destination and polls them; their rows count as in flight, so
they are not sent again while the action runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from promosync.connectors.push.audit import utc_now
from promosync.connectors.push.hashing import Change
from promosync.connectors.warehouse import Warehouse

OPEN = ("intent", "sent")
CHUNK_ROWS = 10_000  # job rows written or read together


class JobRow(NamedTuple):
    """A row a job carries: its place in the request, key, input row number and hash."""

    position: int
    row_key: str
    row_number: int
    content_hash: str


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


def record_intent(warehouse: Warehouse, job: Job, changes: Iterable[list[Change]]) -> None:
    """Record what a request carries before it is sent (rows first: a job never lacks its rows).

    `changes` are its rows in request order, a chunk at a time.
    """
    done = 0
    for chunk in changes:
        rows = [
            {"job_id": job.job_id, "position": position, "row_key": change.key,
             "row_number": change.number, "content_hash": change.hash}
            for position, change in enumerate(chunk, start=done + 1)
        ]  # fmt: skip
        warehouse.write_batch("push_job_rows", ["job_id", "position"], rows)
        done += len(chunk)
    save_job(warehouse, job)


def _streamed(warehouse: Warehouse, sql: str, params: dict[str, Any]) -> Iterator[list[Any]]:
    """The rows of a query, CHUNK_ROWS at a time, from a server-side cursor."""
    with warehouse.engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(sa.text(sql), params)
        yield from result.partitions(CHUNK_ROWS)


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


def job_rows(warehouse: Warehouse, job_id: str) -> Iterator[list[JobRow]]:
    """The rows a job carries, in request order, CHUNK_ROWS at a time."""
    sql = (
        "SELECT position, row_key, row_number, content_hash FROM push_job_rows"
        " WHERE job_id = :job_id ORDER BY position"
    )
    for chunk in _streamed(warehouse, sql, {"job_id": job_id}):
        yield [JobRow(*row) for row in chunk]


def in_flight(warehouse: Warehouse, destination: str, operation: str) -> Iterator[list[Any]]:
    """(key, hash) of rows carried by open jobs of one operation, CHUNK_ROWS at a time."""
    sql = (
        "SELECT r.row_key, r.content_hash FROM push_job_rows r"
        " JOIN push_jobs j ON j.job_id = r.job_id"
        " WHERE j.destination = :destination AND j.operation = :operation"
        " AND j.status IN ('intent', 'sent')"
    )
    return _streamed(warehouse, sql, {"destination": destination, "operation": operation})


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


def run_outcome(jobs: list[Job], run: dict[str, Any]) -> str:
    """stopped stays; pending while a job is open; failed on an error, a failed or lost job, or
    when every row read failed; partial; succeeded."""
    if run["outcome"] == "stopped":
        return "stopped"
    if any(job.status in OPEN for job in jobs):
        return "pending"
    if run["error"] or any(job.status in ("failed", "lost") for job in jobs):
        return "failed"
    return outcome_of(run["rows_considered"] or 0, run["rows_failed"] or 0)


def outcome_of(considered: int, failed: int) -> str:
    """succeeded; partial when some rows failed; failed when rows were read and none arrived."""
    if failed and failed >= considered:
        return "failed"
    return "partial" if failed else "succeeded"
