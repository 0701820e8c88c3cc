"""`promosync rejects`: the records a pull could not read, and marking them resolved."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from promosync.connectors import reject_log
from promosync.connectors.database import display_url, missing_duckdb_file
from promosync.connectors.health import RAW_TABLES
from promosync.connectors.warehouse import (
    DATABASE_ERRORS,
    Warehouse,
    WarehouseError,
    warehouse_error,
    warehouse_url,
)

rejects_app = typer.Typer(help="Records a pull could not read (sync_rejects).")
SHOWN_CHARS = 120  # of a record, per line
KEYS = typer.Option(None, "--key", help="Only this record key (repeatable).")


@contextmanager
def _warehouse(doing: str, *, read_only: bool) -> Iterator[Warehouse]:
    """The configured warehouse, or one line saying why it cannot be used and exit 1; a DuckDB
    file that does not exist is not created."""
    url = warehouse_url()
    store = None
    try:
        if missing_duckdb_file(url):
            raise WarehouseError(f"{display_url(url)} does not exist: run `promosync sync` first")
        store = Warehouse(url, read_only=read_only)
        yield store
    except DATABASE_ERRORS as error:
        typer.echo(f"rejects: {warehouse_error(error, url, doing)}", err=True)
        raise typer.Exit(1) from None
    except WarehouseError as error:
        typer.echo(f"rejects: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        if store is not None:
            store.dispose()


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
    stream = _stream(stream)
    with _warehouse("listing the rejects", read_only=True) as store:
        rows = reject_log.listed(store, stream, everything=all_)
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
    _stream(stream)
    with _warehouse("resolving rejects", read_only=False) as store:
        count = reject_log.resolve(store, stream, key or [], note)
    typer.echo(f"{count} reject(s) of {stream} marked resolved")
