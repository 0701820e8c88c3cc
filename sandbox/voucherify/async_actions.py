"""Bulk customer jobs: FIFO, ENQUEUED → IN_PROGRESS → DONE/FAILED, applied when they finish.

A job with at least one row done ends DONE (operation_status SUCCESS); one that could not read its
input at all ends FAILED. One in which every row failed ends as the `voucherify_all_rows_failed`
reading says: FAILED (the default), DONE with `done_count: 0` (as the spec's examples), or DONE
with operation_status FAILED; `result` lists the failures in each.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promosync.sandbox.voucherify import params
from promosync.sandbox.voucherify.csv_import import import_rows
from promosync.sandbox.voucherify.instants import iso
from promosync.sandbox.voucherify.state import VoucherifyState, invalid_field

REPORT_DAYS_US = 30 * 86_400_000_000


@dataclass
class Job:
    """One async action: its payload until it finishes, its result afterwards."""

    id: str
    type: str
    request_id: str
    created_us: int
    start_us: int
    finish_us: int
    payload: Any
    status: str | None = None  # DONE or FAILED once applied
    operation_status: str | None = None  # SUCCESS or FAILED once applied
    result: dict[str, Any] | None = None

    def public(self, now: int, with_result: bool = True) -> dict[str, Any]:
        """The AsyncAction as seen at `now`."""
        operation = self.operation_status or "UNKNOWN"
        if self.status is not None:
            status, progress, changed = self.status, 100, self.finish_us
            elapsed = self.finish_us - self.start_us
        elif now < self.start_us:
            status, progress, changed, elapsed = "ENQUEUED", 0, self.created_us, 0
        else:
            status, changed, elapsed = "IN_PROGRESS", self.start_us, now - self.start_us
            progress = min(99, elapsed * 100 // max(1, self.finish_us - self.start_us))
        body: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "status": status,
            "operation_status": operation,
            "created_at": iso(self.created_us),
            "updated_at": iso(changed),
            "request_id": self.request_id,
            "processing_time": elapsed // 1000,
            "progress": progress,
            "object": "async_action",
        }
        if with_result and self.result is not None:
            body["result"] = self.result
        return body


class AsyncActions:
    """Every async action of the project, and the heap of those still to finish."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        # Every row a job applied, as (async action id, type, source_id): proof of exactly-once.
        self.applied: list[tuple[str, str, str]] = []
        self._pending: list[tuple[int, str]] = []
        self._queue_free_us = 0

    def enqueue(self, kind: str, payload: Any, request_id: str, now: int, seconds: float) -> Job:
        """Queue a job behind every earlier one; it runs for `seconds` once started."""
        duration = int(seconds * 1_000_000)
        # A job waits in the queue for at least a fifth of its time, and behind every earlier one.
        start = max(now + duration // 5, self._queue_free_us)
        finish = start + duration - duration // 5
        self._queue_free_us = finish
        job = Job(
            f"aa_{now:014x}{len(self.jobs):04x}", kind, request_id, now, start, finish, payload
        )
        self.jobs[job.id] = job
        heapq.heappush(self._pending, (finish, job.id))
        return job

    def settle(self, state: VoucherifyState, now: int, all_rows_failed: str) -> list[Job]:
        """Apply, in finishing order, every job due by `now` (see the module on its status)."""
        done = []
        while self._pending and self._pending[0][0] <= now:
            _, job_id = heapq.heappop(self._pending)
            job = self.jobs[job_id]
            applied = APPLY[job.type](state, job)
            _conclude(job, all_rows_failed)
            self.applied += [(job.id, job.type, source_id) for source_id in applied]
            job.payload = None
            done.append(job)
        return done

    def get(self, job_id: str, now: int) -> dict[str, Any]:
        """GET /v1/async-actions/{id}."""
        job = self.jobs.get(job_id)
        if job is None:
            raise params.not_found("async_action", job_id)
        return job.public(now)

    def list(self, query: Mapping[str, str], now: int, end_bound: str) -> dict[str, Any]:
        """GET /v1/async-actions: newest first, created before (or, `inclusive`, at) `end_date`."""
        limit = params.integer(query, "limit", 10, 1, 100)
        end = params.instant(query, "end_date")
        if end is not None and end_bound == "inclusive":
            end += 1
        jobs = [j for j in reversed(self.jobs.values()) if end is None or j.created_us < end]
        return {
            "object": "list",
            "data_ref": "async_actions",
            "async_actions": [j.public(now, with_result=False) for j in jobs[:limit]],
            "has_more": len(jobs) > limit,
        }


def _conclude(job: Job, all_rows_failed: str) -> None:
    done, failed = job.result["done_count"], job.result["failed_count"]  # type: ignore[index]
    every_row_failed = done == 0 and failed > 0
    if done or (every_row_failed and all_rows_failed == "done"):
        job.status, job.operation_status = "DONE", "SUCCESS"
    elif every_row_failed and all_rows_failed == "done_operation_failed":
        job.status, job.operation_status = "DONE", "FAILED"
    else:
        job.status, job.operation_status = "FAILED", "FAILED"


def _bulk_result(job: Job, done: int, errors: list[dict[str, str]]) -> None:
    job.result = {
        "done_count": done,
        "failed_count": len(errors),
        "reports": [],
        "reports_available_till": iso(job.finish_us + REPORT_DAYS_US),
        "errors": errors,
    }


def _apply_bulk(state: VoucherifyState, job: Job) -> list[str]:
    applied, errors = [], []
    for row in job.payload:
        source_id = row.get("source_id") if isinstance(row, dict) else None
        if not isinstance(row, dict):
            reason = "customer: must be an object"
        elif not isinstance(source_id, str) or not source_id:
            reason = "source_id: property is required"
        else:
            reason = invalid_field(row)
        if reason is None:
            fields = {k: v for k, v in row.items() if k != "id"}
            state.upsert(fields, job.finish_us)
            applied.append(source_id)
        else:
            error = {"message": "Invalid customer", "details": reason, "key": "invalid_customer"}
            errors.append({**error, "source_id": source_id if isinstance(source_id, str) else ""})
    _bulk_result(job, len(applied), errors)
    return applied


def _apply_metadata(state: VoucherifyState, job: Job) -> list[str]:
    applied, errors = [], []
    for source_id in job.payload["source_ids"]:
        if not isinstance(source_id, str) or not source_id:
            details = f"source_id: must be a non-empty string (actual value is {source_id!r})"
            errors.append(
                {"message": "Invalid source_id", "details": details, "key": "invalid_source_id"}
            )
            continue
        state.upsert({"source_id": source_id, "metadata": job.payload["metadata"]}, job.finish_us)
        applied.append(source_id)
    _bulk_result(job, len(applied), errors)
    return applied


def _apply_csv(state: VoucherifyState, job: Job) -> list[str]:
    rows, problem = import_rows(job.payload)
    applied, failed = [], []
    for number, source_id, fields, reason in rows:
        if reason is None and not source_id and state.store.resolve(fields["id"]) is None:
            reason = f"id: customer {fields['id']} does not exist and no source_id was given"
        if reason is None:
            customer, _ = state.upsert(fields, job.finish_us)
            applied.append(customer.get("source_id") or customer["id"])
        else:
            failed.append({"source_id": source_id, "row": number, "reason": reason})
    done = len(applied)
    message = problem or f"{done} customer(s) imported successfully, {len(failed)} failed."
    job.result = {
        "message": message,
        "failed": failed,
        "done_count": done,
        "failed_count": len(failed),
    }
    return applied


APPLY = {
    "CUSTOMERS.BULK_UPDATE": _apply_bulk,
    "CUSTOMERS.METADATA_UPDATE": _apply_metadata,
    "CUSTOMERS.IMPORT_CSV": _apply_csv,
}
