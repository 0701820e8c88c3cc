"""Push to Voucherify: CSV import, bulk metadata and bulk customer updates, as async actions.

Crash safety: each request is recorded in `push_jobs` as an `intent` before it is sent and gets
its async action id right after the 202, so a run killed at any instant leaves a ledger that the
next run (or the resume sensor) reads first: it polls the open actions instead of sending their
rows again (see `connectors.push.async_actions.recover_intents` for a crash that fell between a
POST and the recording of its id).

One run of an operation at a time: a run holds the warehouse lock `push:voucherify:<operation>`;
and since an intent is recovered by adopting an unrecorded action of its type, which another
operation may have just created, recovering intents and each intent-to-sent window hold the
lock `push:voucherify:ledger` too.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import Any

from promosync.connectors.http import ApiClient, ApiError, UncertainOutcome
from promosync.connectors.locks import warehouse_lock
from promosync.connectors.push import audit, jobs, runs
from promosync.connectors.push.audit import PushReport, RowResult
from promosync.connectors.push.intake import Source
from promosync.connectors.push.loop import plan_and_send
from promosync.connectors.push.spool import Spool
from promosync.connectors.push.validate import Build
from promosync.connectors.voucherify.async_actions import (
    DEFAULT_BACKOFF,
    Backoff,
    poll_actions,
    recover_intents,
)
from promosync.connectors.voucherify.customer_rows import csv_import_row, customer_row, metadata_row
from promosync.connectors.voucherify.ledger import finisher, record_lost, settle
from promosync.connectors.voucherify.plans import (
    Batch,
    Planner,
    csv_batches,
    customers_batches,
    metadata_batches,
)
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

DESTINATION = "voucherify"
DEFAULT_DEADLINE = 300.0  # seconds a run waits for its async actions before leaving them pending
LEDGER_LOCK, LEDGER_WAIT = f"push:{DESTINATION}:ledger", 600.0  # held for one POST at a time


@dataclass(frozen=True)
class Operation:
    """A kind of push: how a row is built, where rows come from by default, how they batch."""

    build: Build
    default_query: str
    plan: Planner


OPERATIONS = {
    "csv_import": Operation(csv_import_row, "voucherify_customers", csv_batches),
    "metadata": Operation(metadata_row, "voucherify_metadata", metadata_batches),
    "customers": Operation(customer_row, "voucherify_customers", customers_batches),
}


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
    if intents:
        with warehouse_lock(warehouse, LEDGER_LOCK, LEDGER_WAIT):
            recover_intents(client, intents, jobs.known_action_ids(warehouse))
            for job in intents:
                jobs.save_job(warehouse, job)
    for job in intents:
        if job.status == "lost":
            record_lost(warehouse, report, job)
    sent = [job for job in pending if job.status == "sent"]
    report.resumed_action_ids = [job.async_action_id for job in sent if job.async_action_id]
    poll_actions(client, sent, deadline, finisher(warehouse, report), backoff)
    for run_id in {job.run_id for job in pending} - {report.run_id}:
        run = audit.load_run(warehouse, run_id)
        if run is not None:
            warehouse.write_batch("push_runs", ["run_id"], [settle(warehouse, run)])


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


def _send_batch(
    client: ApiClient,
    warehouse: Warehouse,
    report: PushReport,
    spool: Spool,
    sequence: int,
    batch: Batch,
) -> bool:
    """Send one batch between its intent and its recorded id; False at a refusal (recorded)."""
    job = jobs.Job(
        f"{report.run_id}:{sequence}", report.run_id, DESTINATION, report.operation,
        f"POST {batch.path}", batch.action_type, sequence, len(batch.numbers), len(batch.body),
    )  # fmt: skip
    with warehouse_lock(warehouse, LEDGER_LOCK, LEDGER_WAIT):
        jobs.record_intent(warehouse, job, spool.changes(batch.numbers))
        try:
            job.async_action_id = _send(client, warehouse, job, batch)
        except ApiError as error:
            jobs.close_job(job, "failed")
            jobs.save_job(warehouse, job)
            start = 1
            for chunk in spool.changes(batch.numbers):
                results = [RowResult(c.number, c.key, "rejected", str(error)) for c in chunk]
                start += audit.record_results(warehouse, report, results, job.job_id, start)
                report.note(results)
            report.error = str(error)
            return False
        job.status, job.sent_at = "sent", audit.utc_now()
        jobs.save_job(warehouse, job)
    report.rows_sent += len(batch.numbers)
    report.async_action_ids.append(job.async_action_id)
    log.info("voucherify %s: request %d sent (%d rows), async action %s recorded",
             report.operation, sequence, len(batch.numbers), job.async_action_id)  # fmt: skip
    return True


def _push(
    client: ApiClient,
    warehouse: Warehouse,
    report: PushReport,
    operation: str | None,
    send: tuple[Operation, Source] | None,
    deadline: float,
    backoff: Backoff,
) -> None:
    """Resume the open jobs of `operation` (None: of all), then send what changed, if asked."""
    _resume(client, warehouse, report, operation, deadline, backoff)
    if send is None:
        return
    spec, source = send
    one = partial(_send_batch, client, warehouse, report)
    if not plan_and_send(warehouse, report, source, spec.plan, one, in_flight=True):
        return
    own = [job for job in jobs.run_jobs(warehouse, report.run_id) if job.status == "sent"]
    poll_actions(client, own, deadline, finisher(warehouse, report), backoff)


def _outcome(warehouse: Warehouse, report: PushReport) -> str:
    """The run's outcome from its jobs and row results; a resume is pending while jobs are open."""
    settled = settle(warehouse, report.row())
    report.rows_failed = settled["rows_failed"]
    if report.operation == "resume" and settled["outcome"] not in ("failed", "stopped"):
        return "pending" if jobs.open_jobs(warehouse, DESTINATION) else "succeeded"
    return settled["outcome"]


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
    lock_wait_seconds: float = runs.DEFAULT_LOCK_WAIT,
) -> PushReport:
    """One push run of `operation` (csv_import, metadata or customers); see the module doc.

    WarehouseBusy if another run of the operation holds its lock past `lock_wait_seconds`.
    """
    spec = OPERATIONS[operation]
    source = Source(file, query or spec.default_query, spec.build, "source_id")
    if not resume_only:
        source.check()
    label = "resume" if resume_only else source.label()
    report = PushReport(DESTINATION, operation, label, forced=force)
    deadline = time.monotonic() + deadline_seconds
    if dry_run:
        plan = partial(plan_and_send, warehouse, report, source, spec.plan, in_flight=True)
        return runs.dry_run(report, plan)
    send = None if resume_only else (spec, source)
    with warehouse_lock(warehouse, runs.lock_name(DESTINATION, operation), lock_wait_seconds):
        work = partial(_push, client, warehouse, report, operation, send, deadline, backoff)
        runs.recorded(client, warehouse, report, work, partial(_outcome, warehouse, report))
    return report


def resume_pending(
    client: ApiClient,
    warehouse: Warehouse,
    deadline_seconds: float = DEFAULT_DEADLINE,
    lock_wait_seconds: float = runs.DEFAULT_LOCK_WAIT,
) -> PushReport:
    """Poll every open async action of every operation; send nothing new."""
    report = PushReport(DESTINATION, "resume", "resume")
    deadline = time.monotonic() + deadline_seconds
    with ExitStack() as locks:
        for operation in sorted(OPERATIONS):  # always in one order: two resumes never deadlock
            locks.enter_context(
                warehouse_lock(warehouse, runs.lock_name(DESTINATION, operation), lock_wait_seconds)
            )
        work = partial(_push, client, warehouse, report, None, None, deadline, DEFAULT_BACKOFF)
        runs.recorded(client, warehouse, report, work, partial(_outcome, warehouse, report))
    return report
