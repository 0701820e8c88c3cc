"""The `promosync` command line."""

from __future__ import annotations

import logging
import os

import typer
from promosync.pipelines.push_cli import push_app
from promosync.pipelines.status_cli import status

app = typer.Typer(
    help="promosync: keep a SQL warehouse in two-way sync with Voucherify and Talon.One."
)


app.add_typer(push_app, name="push", help="Push warehouse rows back to the platforms.")


app.command()(status)


@app.callback()
def main() -> None:
    """promosync: keep a SQL warehouse in two-way sync with Voucherify and Talon.One."""


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", help="Address both servers listen on."),
    voucherify_port: int = typer.Option(
        0, help="Port of the Voucherify simulator (0: a free one)."
    ),
    talon_one_port: int = typer.Option(0, help="Port of the Talon.One simulator (0: a free one)."),
    customers: int = typer.Option(1000, min=0, help="Number of Voucherify customers generated."),
    talon_one_transactions: int = typer.Option(
        0, min=0, help="Talon.One loyalty transactions in all (0: one to six per ledger)."
    ),
    seed: int = typer.Option(42, help="Seed of the generated data and of fault injection."),
    voucherify_app_id: str = typer.Option("sandbox-app-id", help="Accepted X-App-Id."),
    voucherify_app_token: str = typer.Option("sandbox-app-token", help="Accepted X-App-Token."),
    talon_one_api_key: str = typer.Option("sandbox-api-key", help="Accepted ApiKey-v1 key."),
    talon_one_management_key: str = typer.Option(
        "sandbox-management-key", help="Accepted ManagementKey-v1 key."
    ),
    voucherify_requests_per_minute: int = typer.Option(
        2000, help="Voucherify budget per app id (0: unlimited)."
    ),
    talon_one_requests_per_minute: int = typer.Option(
        0, help="Talon.One Integration API budget per key (0: unlimited)."
    ),
    management_requests_per_second: int = typer.Option(
        3, help="Talon.One Management API limit per endpoint (0: unlimited)."
    ),
    async_action_seconds: float = typer.Option(
        1.0, help="Seconds a Voucherify async action takes to finish."
    ),
    voucherify_download_port: int = typer.Option(
        0, help="Port of the Voucherify export download host (0: a free one)."
    ),
    voucherify_export_seconds: float = typer.Option(
        1.0, min=0, help="Seconds a Voucherify export takes from SCHEDULED to DONE."
    ),
    voucherify_export_rows_per_file: int = typer.Option(
        100_000, min=0, help="Rows per export file; a larger export is split (0: never)."
    ),
    voucherify_export_token_seconds: float = typer.Option(
        600.0, min=0, help="Lifetime of an export download token."
    ),
    voucherify_export_headers: str = typer.Option(
        "titles", help="Export CSV header row: titles (Source ID) or fields (source_id)."
    ),
    voucherify_export_metadata: str = typer.Option(
        "schema_columns", help="Export `metadata` field: schema_columns or json."
    ),
    voucherify_export_bounds: str = typer.Option(
        "exclusive", help="Export filters' $after / $before: exclusive or inclusive."
    ),
    voucherify_activity_touches_updated_at: str = typer.Option(
        "changed_fields",
        help="Which activity moves a customer's updated_at: changed_fields, never or always.",
    ),
    voucherify_segment_move_touches_updated_at: str = typer.Option(
        "no", help="Whether a segment move moves the customer's updated_at: no or yes."
    ),
    voucherify_activity_per_minute: float = typer.Option(
        0.0, min=0, help="Voucherify activity generated in the background per minute (0: none)."
    ),
) -> None:
    """Serve local simulators of Voucherify and Talon.One until interrupted."""
    from promosync.sandbox.server import Sandbox
    from promosync.sandbox.settings import SandboxSettings

    try:
        settings = SandboxSettings(
            seed=seed,
            customers=customers,
            talon_one_transactions=talon_one_transactions,
            voucherify_app_id=voucherify_app_id,
            voucherify_app_token=voucherify_app_token,
            talon_one_api_key=talon_one_api_key,
            talon_one_management_key=talon_one_management_key,
            voucherify_requests_per_minute=voucherify_requests_per_minute,
            talon_one_requests_per_minute=talon_one_requests_per_minute,
            management_requests_per_second=management_requests_per_second,
            async_action_seconds=async_action_seconds,
            voucherify_export_seconds=voucherify_export_seconds,
            voucherify_export_rows_per_file=voucherify_export_rows_per_file,
            voucherify_export_token_seconds=voucherify_export_token_seconds,
            voucherify_export_headers=voucherify_export_headers,
            voucherify_export_metadata=voucherify_export_metadata,
            voucherify_export_bounds=voucherify_export_bounds,
            voucherify_activity_touches_updated_at=voucherify_activity_touches_updated_at,
            voucherify_segment_move_touches_updated_at=voucherify_segment_move_touches_updated_at,
            voucherify_activity_per_minute=voucherify_activity_per_minute,
        )
    except ValueError as exc:  # a word setting given a word it does not take
        raise typer.BadParameter(str(exc)) from None
    server = Sandbox(
        settings,
        host,
        voucherify_port,
        talon_one_port,
        voucherify_download_port=voucherify_download_port,
    )
    typer.echo(f"VOUCHERIFY_BASE_URL={server.voucherify_url}")
    typer.echo(f"TALON_ONE_BASE_URL={server.talon_one_url}")
    typer.echo(f"VOUCHERIFY_DOWNLOAD_URL={server.voucherify_download_url}")
    typer.echo(f"sandbox ready: {customers} customers, seed {seed}; Ctrl-C stops it", err=True)
    server.run_forever()


REQUIRED_ENV = {
    "voucherify": ("VOUCHERIFY_BASE_URL", "VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN"),
    "talon_one": ("TALON_ONE_BASE_URL", "TALON_ONE_API_KEY"),
}


@app.command()
def sync(
    only: str = typer.Option(
        None, help="One platform (voucherify, talon_one) or one stream (e.g. voucherify_customers)."
    ),
    full_refresh: bool = typer.Option(False, help="Re-read everything from the start."),
    full_sweep: bool = typer.Option(False, help="Visit every customer's activity and segments."),
    backfill: tuple[str, str] | None = typer.Option(
        None,
        metavar="START END",
        help="Re-read [START, END): customers by updated_at, transactions by creation date.",
    ),
) -> None:
    """Pull the platforms into the warehouse through Dagster, then print what each stream did."""
    from promosync.pipelines.run import resolve_only, run_pull
    from rich.console import Console

    console = Console(stderr=True)
    try:
        selection = resolve_only(only)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--only") from None
    missing = [name for p in selection for name in REQUIRED_ENV[p] if not os.environ.get(name)]
    if missing:
        console.print(f"[red]Set {', '.join(missing)} in the environment first.[/red]")
        raise typer.Exit(2)
    window = tuple(backfill) if backfill else None

    summaries = []
    with console.status("starting") as status:
        handler = _StatusHandler(status)
        logging.getLogger("promosync.connectors").addHandler(handler)
        logging.getLogger("promosync.connectors").setLevel(logging.INFO)
        try:
            for platform, streams in selection.items():
                summaries += run_pull(
                    platform,
                    streams=streams,
                    full_refresh=full_refresh,
                    backfill=window,
                    full_sweep=full_sweep,
                )
        except (RuntimeError, ValueError) as error:
            console.print(f"[red]sync failed:[/red] {error}")
            raise typer.Exit(1) from None
        finally:
            logging.getLogger("promosync.connectors").removeHandler(handler)
    typer.echo(_summary_table(summaries))


class _StatusHandler(logging.Handler):
    """Shows the connectors' latest progress line in a rich status spinner."""

    def __init__(self, status) -> None:
        super().__init__(logging.INFO)
        self.status = status

    def emit(self, record: logging.LogRecord) -> None:
        self.status.update(record.getMessage())


def _summary_table(summaries) -> str:
    header = ("stream", "inserted", "updated", "deleted", "requests", "429s", "seconds", "cursor")
    lines = [header]
    for summary in summaries:
        m = summary.metadata
        lines.append(
            (
                summary.stream,
                str(m.get("inserted", 0)),
                str(m.get("updated", 0)),
                str(m.get("deleted", 0)),
                str(m.get("requests", 0)),
                str(m.get("rate_limited", 0)),
                f"{m.get('seconds', 0):.1f}",
                str(m.get("cursor_after", "")),
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in lines
    )


if __name__ == "__main__":
    app()
