"""Push to Voucherify: CSV import, bulk metadata and bulk customer updates, as async actions.

Crash safety: each request is recorded in `push_jobs` as an `intent` before it is sent and gets
its async action id right after the 202, so a run killed at any instant leaves a ledger that the
next run (or the resume sensor) reads first: it polls the open actions instead of sending their
rows again (see `connectors.push.async_actions.recover_intents` for a crash that fell between a
POST and the recording of its id).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promosync.connectors.http import ApiClient, ApiError, UncertainOutcome
from promosync.connectors.push import audit, jobs
from promosync.connectors.push.async_actions import (
    DEFAULT_BACKOFF,
    Backoff,
    ended,
    poll_actions,
    recover_intents,
    row_outcomes,
)
from promosync.connectors.push.audit import PushReport, RowResult
from promosync.connectors.push.customers import csv_import_row, customer_row, metadata_row
from promosync.connectors.push.hashing import select_changed
from promosync.connectors.push.plans import Batch, csv_batches, customers_batches, metadata_batches
from promosync.connectors.push.rows import csv_rows, query_rows, unreadable
from promosync.connectors.push.validate import prepare_rows
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

DESTINATION = "voucherify"
DEFAULT_DEADLINE = 300.0  # seconds a run waits for its async actions before leaving them pending


@dataclass(frozen=True)
class Operation:
    """A kind of push: how a row is built, where rows come from by default, how they batch."""

    build: Callable[[dict[str, Any]], tuple[str, Any]]
    default_query: str
    plan: Callable[[list], tuple[list[Batch], list[RowResult]]]


OPERATIONS = {
    "csv_import": Operation(csv_import_row, "voucherify_customers", csv_batches),
    "metadata": Operation(metadata_row, "voucherify_metadata", metadata_batches),
    "customers": Operation(customer_row, "voucherify_customers", customers_batches),
}


def _run_row(warehouse: Warehouse, report: PushReport, run_id: str) -> dict[str, Any] | None:
    return report.row() if run_id == report.run_id else audit.load_run(warehouse, run_id)


def _finisher(warehouse: Warehouse, report: PushReport) -> Callable[[jobs.Job, dict], None]:
    """What to do when an action ends: row results, hashes of applied rows, then the job."""

    def finish(job: jobs.Job, action: dict[str, Any]) -> None:
        rows = jobs.job_rows(warehouse, job.job_id)
        failures, applied = row_outcomes(action, rows)
        run = _run_row(warehouse, report, job.run_id)
        if run is not None:
            audit.record_results(warehouse, run, failures, job.job_id)
        if job.run_id == report.run_id:
            report.problems += failures
        if applied:
            confirmed = [(r["row_key"], r["content_hash"]) for r in rows if r["row_key"] in applied]
            audit.save_hashes(warehouse, DESTINATION, job.operation, job.run_id, confirmed)
        jobs.close_job(job, ended(action), action)
        jobs.save_job(warehouse, job)
        log.info("async action %s %s: %d row(s) refused", job.async_action_id,
                 action.get("status"), len(failures))  # fmt: skip

    return finish


def _settle(warehouse: Warehouse, run: dict[str, Any]) -> dict[str, Any]:
    """Recount a run's failures from its row results and derive its outcome from its jobs."""
    run_jobs = jobs.run_jobs(warehouse, run["run_id"])
    run["rows_failed"] = (run["rows_invalid"] or 0) + audit.rejected_count(warehouse, run["run_id"])
    run["outcome"] = jobs.run_outcome(run_jobs, run["rows_failed"], run["error"])
    return run


def _lost(warehouse: Warehouse, report: PushReport, job: jobs.Job) -> None:
    reason = "the request never reached Voucherify (its run stopped); the rows are sent again"
    rows = jobs.job_rows(warehouse, job.job_id)
    results = [RowResult(r["row_number"], r["row_key"], "rejected", reason) for r in rows]
    run = _run_row(warehouse, report, job.run_id)
    if run is not None:
        audit.record_results(warehouse, run, results, job.job_id)


def _resume(
    client: ApiClient,
    warehouse: Warehouse,
    report: PushReport,
    operation: str | None,
    deadline: float,
    backoff: Backoff,
) -> None:
    """Poll the actions earlier runs left open (recovering unrecorded ids first)."""
    pending = jobs.open_jobs(warehouse, DESTINATION, operation)
    if not pending:
        return
    intents = [job for job in pending if job.status == "intent"]
    recover_intents(client, intents, jobs.known_action_ids(warehouse))
    for job in intents:
        jobs.save_job(warehouse, job)
        if job.status == "lost":
            _lost(warehouse, report, job)
    sent = [job for job in pending if job.status == "sent"]
    report.resumed_action_ids = [job.async_action_id for job in sent if job.async_action_id]
    poll_actions(client, sent, deadline, _finisher(warehouse, report), backoff)
    for run_id in {job.run_id for job in pending} - {report.run_id}:
        run = audit.load_run(warehouse, run_id)
        if run is not None:
            warehouse.write_batch("push_runs", ["run_id"], [_settle(warehouse, run)])


def _post(client: ApiClient, batch: Batch) -> str:
    if batch.is_csv:
        body: dict[str, Any] = {"files": {"file": ("customers.csv", batch.body, "text/csv")}}
    else:
        body = {"data": batch.body, "headers": {"Content-Type": "application/json"}}
    response = client.request("POST", batch.path, expect_json=True, repeatable=False, **body)
    return response.parsed_json["async_action_id"]


def _send(client: ApiClient, warehouse: Warehouse, job: jobs.Job, batch: Batch) -> str:
    """POST the batch once: after a failure the server may have acted on, look before resending.

    A 5xx, a dropped connection or a cut answer may hide an async action that was created: the
    actions created since the job's intent are listed, and one of its type that no job recorded
    is adopted instead of sending the rows a second time.
    """
    for _ in range(client.max_attempts):
        try:
            return _post(client, batch)
        except UncertainOutcome as error:
            uncertain = error
            recover_intents(client, [job], jobs.known_action_ids(warehouse))
            if job.async_action_id is not None:
                return job.async_action_id
            job.status = "intent"  # it never reached Voucherify: sending again is safe
    raise uncertain


def _send_all(
    client: ApiClient, warehouse: Warehouse, report: PushReport, batches: list[Batch]
) -> None:
    """Send each batch between its intent and its recorded id; stop at the first refusal."""
    for sequence, batch in enumerate(batches, start=1):
        job = jobs.Job(
            f"{report.run_id}:{sequence}", report.run_id, DESTINATION, report.operation,
            f"POST {batch.path}", batch.action_type, sequence, len(batch.changes), len(batch.body),
        )  # fmt: skip
        jobs.record_intent(warehouse, job, batch.changes)
        try:
            job.async_action_id = _send(client, warehouse, job, batch)
        except ApiError as error:
            jobs.close_job(job, "failed")
            jobs.save_job(warehouse, job)
            results = [RowResult(c.row.number, c.row.key, "rejected", str(error))
                       for c in batch.changes]  # fmt: skip
            audit.record_results(warehouse, report, results, job.job_id)
            report.problems += results
            report.error = str(error)
            return
        job.status, job.sent_at = "sent", audit.utc_now()
        jobs.save_job(warehouse, job)
        report.rows_sent += len(batch.changes)
        report.async_action_ids.append(job.async_action_id)
        log.info("voucherify %s: request %d of %d sent, async action %s recorded",
                 report.operation, sequence, len(batches), job.async_action_id)  # fmt: skip


def _plan(
    warehouse: Warehouse, report: PushReport, operation: Operation, file: str | None, query: str
) -> list[Batch]:
    """Read, validate, drop unchanged rows and batch the rest; fill the report's counts."""
    if file:
        rows, rejected = csv_rows(file, "source_id")
        report.error = unreadable(rejected)  # a file that cannot be read fails the run
    else:
        rows, rejected = query_rows(warehouse, query), []
    prepared, refused = prepare_rows(rows, operation.build, "source_id")
    pushed = audit.pushed_hashes(warehouse, DESTINATION, report.operation)
    flying = jobs.in_flight(warehouse, DESTINATION, report.operation)
    changes, report.rows_skipped = select_changed(prepared, pushed, flying, report.forced)
    batches, too_big = operation.plan(changes)
    report.problems = [RowResult.invalid(r) for r in rejected + refused] + too_big
    report.rows_considered = len(rows) + len(rejected)
    report.rows_invalid = report.rows_failed = len(report.problems)
    report.batches = [batch.describe(n) for n, batch in enumerate(batches, start=1)]
    return batches


def push(
    client: ApiClient,
    warehouse: Warehouse,
    operation: str,
    *,
    query: str | None = None,
    file: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    resume_only: bool = False,
    deadline_seconds: float = DEFAULT_DEADLINE,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> PushReport:
    """One push run of `operation` (csv_import, metadata or customers); see the module doc."""
    spec = OPERATIONS[operation]
    source = (
        "resume"
        if resume_only
        else f"file:{file}"
        if file
        else f"query:{query or spec.default_query}"
    )
    report = PushReport(DESTINATION, operation, source, forced=force)
    deadline = time.monotonic() + deadline_seconds
    spent = client.counters.requests
    if dry_run:
        _plan(warehouse, report, spec, file, query or spec.default_query)
        report.finish("dry_run")
        return report
    audit.save_run(warehouse, report)
    try:
        _resume(client, warehouse, report, operation, deadline, backoff)
        if not resume_only:
            batches = _plan(warehouse, report, spec, file, query or spec.default_query)
            audit.record_results(warehouse, report, report.problems)
            _send_all(client, warehouse, report, batches)
            own = [job for job in jobs.run_jobs(warehouse, report.run_id) if job.status == "sent"]
            poll_actions(client, own, deadline, _finisher(warehouse, report), backoff)
    except ApiError as error:
        report.error = str(error)
    report.requests = client.counters.requests - spent
    settled = _settle(warehouse, report.row())
    report.rows_failed = settled["rows_failed"]
    report.finish(settled["outcome"])
    audit.save_run(warehouse, report)
    return report


def resume_pending(
    client: ApiClient, warehouse: Warehouse, deadline_seconds: float = DEFAULT_DEADLINE
) -> PushReport:
    """Poll every open async action of every operation; send nothing new."""
    report = PushReport(DESTINATION, "resume", "resume")
    deadline = time.monotonic() + deadline_seconds
    spent = client.counters.requests
    audit.save_run(warehouse, report)
    try:
        _resume(client, warehouse, report, None, deadline, DEFAULT_BACKOFF)
    except ApiError as error:
        report.error = str(error)
    report.requests = client.counters.requests - spent
    still_open = jobs.open_jobs(warehouse, DESTINATION)
    report.finish("failed" if report.error else "pending" if still_open else "succeeded")
    audit.save_run(warehouse, report)
    return report
