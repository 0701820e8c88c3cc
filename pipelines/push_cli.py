"""`promosync push …`: send warehouse rows or a CSV file to Voucherify or Talon.One."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import typer
from promosync.connectors.http import ApiError, ConfigError
from promosync.connectors.push.audit import PushReport
from promosync.connectors.warehouse import Warehouse, WarehouseError, warehouse_url

push_app = typer.Typer(help="Push changed rows (a sql/push query or a CSV file) to the platforms.")

QUERY = typer.Option(None, "--query", help="A query name in sql/push/ (default: the operation's).")
FILE = typer.Option(None, "--file", help="A UTF-8 CSV file with a header row, instead of a query.")
DRY_RUN = typer.Option(
    False, "--dry-run", help="Print the batches that would be sent; send nothing."
)
FORCE = typer.Option(False, "--force", help="Send every row, even those unchanged since last push.")
DEADLINE = typer.Option(
    300.0,
    "--deadline",
    help="Seconds to wait for Voucherify's async actions before leaving them pending.",
)
SHOWN_PROBLEMS = 50


def _env(*names: str) -> list[str]:
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        typer.echo(f"Set {', '.join(missing)} in the environment first.", err=True)
        raise typer.Exit(2)
    return [os.environ[name] for name in names]


def _print(report: PushReport) -> None:
    for line in report.batches:
        typer.echo(line)
    for problem in report.problems[:SHOWN_PROBLEMS]:
        where = f"row {problem.number}" if problem.number is not None else "file"
        typer.echo(f"{where} ({problem.key or '-'}): {problem.status}: {problem.reason}", err=True)
    if len(report.problems) > SHOWN_PROBLEMS:
        hidden = len(report.problems) - SHOWN_PROBLEMS
        typer.echo(f"… {hidden} more in push_row_results (run_id {report.run_id})", err=True)
    typer.echo(
        f"{report.destination} {report.operation}: {report.outcome} — "
        f"considered {report.rows_considered}, invalid {report.rows_invalid}, "
        f"unchanged {report.rows_skipped}, sent {report.rows_sent}, failed {report.rows_failed}, "
        f"requests {report.requests}, {len(report.batches)} batch(es), run {report.run_id}"
    )
    if report.error:
        typer.echo(f"error: {report.error}", err=True)
    if report.outcome == "pending":
        typer.echo("async actions are still running; the next run resumes them (never re-sends)")


def _run(push: Callable[[Warehouse], PushReport], query: str | None, file: str | None) -> None:
    if query and file:
        raise typer.BadParameter("give --query or --file, not both")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    store = None
    try:
        store = Warehouse(warehouse_url())
        store.create_tables()
        report = push(store)
    except (ApiError, ConfigError, WarehouseError) as error:
        typer.echo(f"push failed: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        if store is not None:
            store.dispose()
    _print(report)
    if report.outcome == "failed":
        raise typer.Exit(1)


def _voucherify(operation: str, query, file, dry_run, force, deadline) -> None:
    from promosync.connectors.voucherify.client import voucherify_client
    from promosync.connectors.voucherify.push import push

    url, app_id, token = _env("VOUCHERIFY_BASE_URL", "VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN")

    def run(store: Warehouse) -> PushReport:
        client = voucherify_client(url, app_id, token)
        return push(client, store, operation, query=query, file=file, force=force,
                    dry_run=dry_run, deadline_seconds=deadline)  # fmt: skip

    _run(run, query, file)


@push_app.command("csv-import")
def csv_import(
    query: str = QUERY, file: str = FILE, dry_run: bool = DRY_RUN, force: bool = FORCE,
    deadline: float = DEADLINE,
) -> None:  # fmt: skip
    """Import customers into Voucherify as CSV files (POST /v1/customers/importCSV)."""
    _voucherify("csv_import", query, file, dry_run, force, deadline)


@push_app.command("metadata")
def metadata(
    query: str = QUERY, file: str = FILE, dry_run: bool = DRY_RUN, force: bool = FORCE,
    deadline: float = DEADLINE,
) -> None:  # fmt: skip
    """Update Voucherify customer metadata in bulk (grouped by identical metadata)."""
    _voucherify("metadata", query, file, dry_run, force, deadline)


@push_app.command("customers")
def customers(
    query: str = QUERY, file: str = FILE, dry_run: bool = DRY_RUN, force: bool = FORCE,
    deadline: float = DEADLINE,
) -> None:  # fmt: skip
    """Update Voucherify customers in bulk (POST /v1/customers/bulk/async)."""
    _voucherify("customers", query, file, dry_run, force, deadline)


def _talon_one(push_name: str, query, file, dry_run, force, **options: bool) -> None:
    from promosync.connectors.talon_one import push as talon_one_push
    from promosync.connectors.talon_one.client import talon_one_client

    url, key = _env("TALON_ONE_BASE_URL", "TALON_ONE_API_KEY")

    def run(store: Warehouse) -> PushReport:
        push = getattr(talon_one_push, push_name)
        return push(talon_one_client(url, key), store, query=query, file=file, force=force,
                    dry_run=dry_run, **options)  # fmt: skip

    _run(run, query, file)


@push_app.command("talon-profiles")
def talon_profiles(
    query: str = QUERY, file: str = FILE, dry_run: bool = DRY_RUN, force: bool = FORCE,
    row_results: bool = typer.Option(False, "--row-results", help="Record each profile's result."),
) -> None:  # fmt: skip
    """Upsert Talon.One customer profiles, 1,000 a request (PUT /v2/customer_profiles)."""
    _talon_one("push_profiles", query, file, dry_run, force, row_results=row_results)


@push_app.command("talon-audiences")
def talon_audiences(
    query: str = QUERY, file: str = FILE, dry_run: bool = DRY_RUN, force: bool = FORCE
) -> None:
    """Add and remove Talon.One audience memberships (POST /v2/customer_audiences)."""
    _talon_one("push_audiences", query, file, dry_run, force)


if __name__ == "__main__":
    push_app()
