"""What the ledger records when a job ends: its rows' results, the hashes of the rows it applied,
and the outcome of the run it belonged to; a job's rows are read a chunk at a time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from promosync.connectors.push import audit, jobs
from promosync.connectors.push.audit import PushReport, RowResult
from promosync.connectors.voucherify.async_actions import ActionRows, ended
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)


def _run_row(warehouse: Warehouse, report: PushReport, run_id: str) -> dict[str, Any] | None:
    return report.row() if run_id == report.run_id else audit.load_run(warehouse, run_id)


class _Results:
    """Row results of one job, written as they come (numbered on) and noted in the report."""

    def __init__(self, warehouse: Warehouse, report: PushReport, job: jobs.Job) -> None:
        self.warehouse, self.report, self.job = warehouse, report, job
        self.run = _run_row(warehouse, report, job.run_id)
        self.written = 0

    def add(self, results: list[RowResult]) -> None:
        if self.run is not None and results:
            start = self.written + 1
            self.written += audit.record_results(
                self.warehouse, self.run, results, self.job.job_id, start
            )
        if self.job.run_id == self.report.run_id:
            self.report.note(results)


def finisher(warehouse: Warehouse, report: PushReport) -> Callable[[jobs.Job, dict], None]:
    """What to do when an action ends: row results, hashes of applied rows, then the job."""

    def finish(job: jobs.Job, action: dict[str, Any]) -> None:
        judged = ActionRows(action, job.row_count)
        if judged.needs_keys():
            for chunk in jobs.job_rows(warehouse, job.job_id):
                judged.see(chunk)
        attributed = judged.attributed()
        results = _Results(warehouse, report, job)
        for chunk in jobs.job_rows(warehouse, job.job_id):
            failures, applied = judged.judge(chunk)
            results.add(failures)
            if attributed and applied:
                audit.save_hashes(warehouse, job.destination, job.operation, job.run_id, applied)
        results.add(judged.leftovers())
        jobs.close_job(job, ended(action), action)
        jobs.save_job(warehouse, job)
        log.info("async action %s %s: %d row(s) refused", job.async_action_id,
                 action.get("status"), results.written)  # fmt: skip

    return finish


def record_lost(warehouse: Warehouse, report: PushReport, job: jobs.Job) -> None:
    """Every row of a job that never reached the platform is rejected (the next run resends)."""
    reason = "the request never reached Voucherify (its run stopped); the rows are sent again"
    results = _Results(warehouse, report, job)
    for chunk in jobs.job_rows(warehouse, job.job_id):
        results.add([RowResult(r.row_number, r.row_key, "rejected", reason) for r in chunk])


def settle(warehouse: Warehouse, run: dict[str, Any]) -> dict[str, Any]:
    """Recount a run's failures from its row results and derive its outcome from its jobs."""
    run_jobs = jobs.run_jobs(warehouse, run["run_id"])
    run["rows_failed"] = (run["rows_invalid"] or 0) + audit.rejected_count(warehouse, run["run_id"])
    run["outcome"] = jobs.run_outcome(run_jobs, run)
    return run
