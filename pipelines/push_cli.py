"""`promosync push …`: send warehouse rows or a CSV file to Voucherify or Talon.One."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

import typer
from promosync.connectors import config, stopping
from promosync.connectors.http import ApiError, ConfigError
from promosync.connectors.locks import WarehouseBusy, warehouse_lock
from promosync.connectors.push.audit import PushReport
from promosync.connectors.push.runs import DEFAULT_LOCK_WAIT
from promosync.connectors.warehouse import Warehouse, WarehouseError, warehouse_url

push_app = typer.Typer(help="Push changed rows (a sql/push query or a CSV file) to the platforms.")

QUERY = typer.Option(None, "--query", help="A query name in sql/push/ (default: the operation's).")
FILE = typer.Option(
    None, "--file", help="A UTF-8 CSV file (a regular file) with a header row, instead of a query."
)
DRY_RUN = typer.Option(
    False, "--dry-run", help="Print the batches that would be sent; send nothing."
)
FORCE = typer.Option(False, "--force", help="Send every row, even those unchanged since last push.")
DEADLINE = typer.Option(
    300.0,
    "--deadline",
    help="Seconds to wait for Voucherify's async actions before leaving them pending.",
)
LOCK_WAIT = typer.Option(
    DEFAULT_LOCK_WAIT,
    "--lock-wait",
    min=0,
    help="Seconds to wait while another run of this push holds its lock (0: refuse at once).",
)
SHOWN_PROBLEMS = 50


def _require(platform: str) -> None:
    """Exit 2 with one line naming the variables `platform` needs that are not set."""
    missing = config.missing([platform])
    if missing:
        typer.echo(f"Set {', '.join(missing)} in the environment first.", err=True)
        raise typer.Exit(2)


def _print(report: PushReport) -> None:
    if report.error and not report.stopped_by:  # the answer first: what stopped the run
        typer.echo(f"error: {report.error}", err=True)
    for line in report.batches:
        typer.echo(line)
    shown = report.problems[:SHOWN_PROBLEMS]
    for problem in shown:
        where = f"row {problem.number}" if problem.number is not None else "file"
        typer.echo(f"{where} ({problem.key or '-'}): {problem.status}: {problem.reason}", err=True)
    if report.rows_failed > len(shown):
        hidden = report.rows_failed - len(shown)
        typer.echo(f"… {hidden} more in push_row_results (run_id {report.run_id})", err=True)
    typer.echo(
        f"{report.destination} {report.operation}: {report.outcome} — "
        f"considered {report.rows_considered}, invalid {report.rows_invalid}, "
        f"unchanged {report.rows_skipped}, sent {report.rows_sent}, failed {report.rows_failed}, "
        f"requests {report.requests}, {len(report.batches)} batch(es), run {report.run_id}"
    )
    if report.stopped_by:
        typer.echo(
            f"stopped by {report.stopped_by} at a safe point: what is above was sent and recorded;"
            " the next run sends the rest and never sends a row twice",
            err=True,
        )
    if report.outcome == "pending" or (report.stopped_by and report.async_action_ids):
        typer.echo("async actions are still running; the next run resumes them (never re-sends)")


def _signal_exit(signal_name: str) -> typer.Exit:
    """The shell's exit code for a stop by a signal: 128 + its number (130 SIGINT, 143 SIGTERM)."""
    return typer.Exit(128 + signal.Signals[signal_name].value)


def _run(
    push: Callable[[Warehouse], PushReport], query: str | None, file: str | None, lock_wait: float
) -> None:
    if query and file:
        raise typer.BadParameter("give --query or --file, not both")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stopping.reset()  # a new command: no stop asked for yet
    store = None
    try:
        with stopping.on_signals():
            store = Warehouse(warehouse_url())
            with warehouse_lock(store, "create_tables", lock_wait):
                store.create_tables()
            report = push(store)
    except stopping.StopRequested as stop:  # while waiting for a lock: nothing began
        typer.echo(
            f"stopped by {stop.signal_name} before the push began; nothing was sent", err=True
        )
        raise _signal_exit(stop.signal_name) from None
    except WarehouseBusy as error:
        typer.echo(f"push refused: {error} (--lock-wait SECONDS)", err=True)
        raise typer.Exit(1) from None
    except (ApiError, ConfigError, WarehouseError) as error:
        typer.echo(f"push failed: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        if store is not None:
            store.dispose()
    _print(report)
    if report.stopped_by:
        raise _signal_exit(report.stopped_by)
    if report.outcome == "failed":
        raise typer.Exit(1)


def _voucherify(operation: str, query, file, dry_run, force, deadline, lock_wait) -> None:
    from promosync.connectors.spending import counted
    from promosync.connectors.voucherify.push import push

    _require("voucherify")

    def run(store: Warehouse) -> PushReport:
        settings = config.voucherify()  # the settings the Dagster resource uses
        client = settings.client()
        stream = f"voucherify_push_{operation}"
        with counted(client, store, settings.budget, settings.account(), stream):
            return push(client, store, operation, query=query, file=file, force=force,
                        dry_run=dry_run, deadline_seconds=deadline,
                        lock_wait_seconds=lock_wait)  # fmt: skip

    _run(run, query, file, lock_wait)


@push_app.command("csv-import")
def csv_import(
    query: str = QUERY, file: str = FILE, dry_run: bool = DRY_RUN, force: bool = FORCE,
    deadline: float = DEADLINE, lock_wait: float = LOCK_WAIT,
) -> None:  # fmt: skip
    """Import customers into Voucherify as CSV files (POST /v1/customers/importCSV)."""
    _voucherify("csv_import", query, file, dry_run, force, deadline, lock_wait)


@push_app.command("metadata")
def metadata(
    query: str = QUERY, file: str = FILE, dry_run: bool = DRY_RUN, force: bool = FORCE,
    deadline: float = DEADLINE, lock_wait: float = LOCK_WAIT,
) -> None:  # fmt: skip
    """Update Voucherify customer metadata in bulk (grouped by identical metadata)."""
    _voucherify("metadata", query, file, dry_run, force, deadline, lock_wait)


@push_app.command("customers")
def customers(
    query: str = QUERY, file: str = FILE, dry_run: bool = DRY_RUN, force: bool = FORCE,
    deadline: float = DEADLINE, lock_wait: float = LOCK_WAIT,
) -> None:  # fmt: skip
    """Update Voucherify customers in bulk (POST /v1/customers/bulk/async)."""
    _voucherify("customers", query, file, dry_run, force, deadline, lock_wait)


def _talon_one(push_name: str, query, file, dry_run, force, lock_wait, **options: bool) -> None:
    from promosync.connectors.talon_one import push as talon_one_push

    _require("talon_one")

    def run(store: Warehouse) -> PushReport:
        push = getattr(talon_one_push, push_name)
        return push(config.talon_one().client(), store, query=query, file=file, force=force,
                    dry_run=dry_run, lock_wait_seconds=lock_wait, **options)  # fmt: skip

    _run(run, query, file, lock_wait)


@push_app.command("talon-profiles")
def talon_profiles(
    query: str = QUERY, file: str = FILE, dry_run: bool = DRY_RUN, force: bool = FORCE,
    row_results: bool = typer.Option(False, "--row-results", help="Record each profile's result."),
    lock_wait: float = LOCK_WAIT,
) -> None:  # fmt: skip
    """Upsert Talon.One customer profiles, 1,000 a request (PUT /v2/customer_profiles)."""
    _talon_one("push_profiles", query, file, dry_run, force, lock_wait, row_results=row_results)


@push_app.command("talon-audiences")
def talon_audiences(
    query: str = QUERY, file: str = FILE, dry_run: bool = DRY_RUN, force: bool = FORCE,
    lock_wait: float = LOCK_WAIT,
) -> None:  # fmt: skip
    """Add and remove Talon.One audience memberships (POST /v2/customer_audiences)."""
    _talon_one("push_audiences", query, file, dry_run, force, lock_wait)


if __name__ == "__main__":
    push_app()
