"""`promosync rejects`: the records a pull could not read, and marking them resolved."""

from __future__ import annotations

import typer
from promosync.connectors import reject_log
from promosync.connectors.health import RAW_TABLES
from promosync.connectors.warehouse import Warehouse, WarehouseError, warehouse_url

rejects_app = typer.Typer(help="Records a pull could not read (sync_rejects).")
SHOWN_CHARS = 120  # of a record, per line
KEYS = typer.Option(None, "--key", help="Only this record key (repeatable).")


def _stream(name: str | None) -> str | None:
    if name is not None and name not in RAW_TABLES:
        raise typer.BadParameter(f"{name!r} is not a stream; choose one of {', '.join(RAW_TABLES)}")
    return name


@rejects_app.command("list")
def list_rejects(
    stream: str = typer.Option(None, help="Only this stream's rejects."),
    all_: bool = typer.Option(False, "--all", help="Resolved rejects too."),
) -> None:
    """Show each reject: stream, key, field, reason, when it was last met, and the record."""
    store = Warehouse(warehouse_url())
    try:
        rows = reject_log.listed(store, _stream(stream), everything=all_)
    except WarehouseError as error:
        typer.echo(f"rejects: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.dispose()
    for row in rows:
        state = f"resolved ({row['resolution']})" if row["resolved_at"] else "unresolved"
        typer.echo(
            f"{row['stream']}  {row['record_key']}  {row['field']} {row['reason']}"
            f"  [{state}, seen {row['seen_at']}]"
        )
        typer.echo(f"    {str(row['record'])[:SHOWN_CHARS]}")
    typer.echo(f"{len(rows)} reject(s)")


@rejects_app.command()
def resolve(
    stream: str = typer.Argument(..., help="The stream whose rejects are resolved."),
    key: list[str] = KEYS,
    note: str = typer.Option("marked resolved", help="Why: kept as the resolution."),
) -> None:
    """Mark a stream's unresolved rejects (or only those with `--key`) resolved."""
    store = Warehouse(warehouse_url())
    try:
        count = reject_log.resolve(store, _stream(stream), key or [], note)
    finally:
        store.dispose()
    typer.echo(f"{count} reject(s) of {stream} marked resolved")
