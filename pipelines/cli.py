"""The `promosync` command line."""

from __future__ import annotations

import logging
import os
from typing import Any

import typer
from promosync.pipelines.push_cli import push_app
from promosync.pipelines.rejects_cli import rejects_app
from promosync.pipelines.sandbox_options import with_settings_options
from promosync.pipelines.status_cli import status

app = typer.Typer(
    help="promosync: keep a SQL warehouse in two-way sync with Voucherify and Talon.One."
)


app.add_typer(push_app, name="push", help="Push warehouse rows back to the platforms.")
app.add_typer(rejects_app, name="rejects", help="Records a pull could not read; resolve them.")


app.command()(status)


@app.callback()
def main() -> None:
    """promosync: keep a SQL warehouse in two-way sync with Voucherify and Talon.One."""


@app.command()
@with_settings_options
def sandbox(
    host: str = typer.Option("127.0.0.1", help="Address both servers listen on."),
    voucherify_port: int = typer.Option(
        0, help="Port of the Voucherify simulator (0: a free one)."
    ),
    talon_one_port: int = typer.Option(0, help="Port of the Talon.One simulator (0: a free one)."),
    **settings: Any,
) -> None:
    """Serve local simulators of Voucherify and Talon.One until interrupted.

    PUT /_sandbox/config changes the same settings at run time (docs/SANDBOX.md).
    """
    from promosync.sandbox.server import Sandbox
    from promosync.sandbox.settings import SandboxSettings

    try:
        chosen = SandboxSettings(**settings)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    server = Sandbox(chosen, host, voucherify_port, talon_one_port)
    typer.echo(f"VOUCHERIFY_BASE_URL={server.voucherify_url}")
    typer.echo(f"TALON_ONE_BASE_URL={server.talon_one_url}")
    ready = f"sandbox ready: {chosen.customers} customers, seed {chosen.seed}; Ctrl-C stops it"
    typer.echo(ready, err=True)
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
