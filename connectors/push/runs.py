"""What every push run shares: its warehouse lock, and its record from `running` to the end."""

from __future__ import annotations

from collections.abc import Callable

from promosync.connectors import stopping
from promosync.connectors.http import ApiClient, ApiError
from promosync.connectors.push import audit
from promosync.connectors.push.audit import PushReport
from promosync.connectors.warehouse import Warehouse

DEFAULT_LOCK_WAIT = 60.0  # seconds a run waits for another run of its operation to end


def lock_name(destination: str, operation: str) -> str:
    """The warehouse lock a run of one operation to one destination holds."""
    return f"push:{destination}:{operation}"


def recorded(
    client: ApiClient,
    warehouse: Warehouse,
    report: PushReport,
    work: Callable[[], None],
    outcome: Callable[[], str],
) -> None:
    """Run `work()` as a recorded run: `running` first, then `outcome()` whatever happens.

    An API error fails the run; a stop asked for by a signal ends it `stopped` at a safe point
    (what was sent stays recorded, and the next run goes on from there); an unexpected error is
    recorded and raised.
    """
    spent = client.counters.requests
    audit.save_run(warehouse, report)
    try:
        work()
    except ApiError as error:
        report.error = str(error)
    except stopping.StopRequested as stop:
        report.stopped_by, report.outcome = stop.signal_name, "stopped"
        report.error = f"stopped by {stop.signal_name} at a safe point; the next run goes on"
    except Exception as error:
        report.error = f"ended by an unexpected {type(error).__name__}"
        report.finish("failed")
        audit.save_run(warehouse, report)
        raise
    report.requests = client.counters.requests - spent
    report.finish(outcome())
    audit.save_run(warehouse, report)


def dry_run(report: PushReport, plan: Callable[[], object]) -> PushReport:
    """Run a dry run's `plan()`: nothing recorded; failed if the input could not be used."""
    try:
        plan()
    except stopping.StopRequested as stop:
        report.stopped_by = stop.signal_name
    report.rows_failed = report.rows_invalid
    report.finish("failed" if report.error else "stopped" if report.stopped_by else "dry_run")
    return report
