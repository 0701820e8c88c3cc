"""`promosync sync`: every platform's pull through Dagster, one line per failure first, then a
table of what each stream did; a signal stops it at the next committed batch."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, TypeVar

import typer
from promosync.connectors import config, stopping
from promosync.connectors.database import display_url, is_ephemeral
from promosync.connectors.warehouse import Warehouse, WarehouseError, warehouse_url
from promosync.pipelines.progress import ProgressPrinter
from promosync.pipelines.status_cli import text_table

if TYPE_CHECKING:  # the run module imports Dagster: only when a sync runs
    from promosync.pipelines.run import PullOutcome, StreamSummary

EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}  # 128 + the signal's number, as a shell reports it
Result = TypeVar("Result")


def _err(line: str) -> None:
    typer.echo(line, err=True)


def sync(
    only: str = typer.Option(
        None, help="One platform (voucherify, talon_one) or one stream (e.g. voucherify_customers)."
    ),
    full_refresh: bool = typer.Option(
        False, help="Reset the selected streams' cursors, re-read everything, mark rows gone."
    ),
    full_sweep: bool = typer.Option(False, help="Visit every customer's activity and segments."),
    backfill: tuple[str, str] | None = typer.Option(
        None,
        metavar="START END",
        help="Re-read [START, END): customers by updated_at, transactions by creation date.",
    ),
    allow_ephemeral_warehouse: bool = typer.Option(
        False, help="Accept a warehouse that ends with the run (duckdb:///:memory:), to experiment."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also print traces and retries."),
    progress_every: float = typer.Option(
        30.0, min=0.1, help="Seconds between a stream's progress lines when not on a terminal."
    ),
) -> None:
    """Pull the platforms into the warehouse through Dagster, then print what each stream did."""
    if full_refresh and backfill:
        raise typer.BadParameter(
            "a full refresh re-reads everything and a backfill one window: give one of them",
            param_hint="--full-refresh / --backfill",
        )
    from promosync.pipelines.run import resolve_only  # imports Dagster: after the quick checks

    try:
        selection = resolve_only(only)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--only") from None
    missing = config.missing(selection)
    if missing:
        _err(f"Set {', '.join(missing)} in the environment first.")
        raise typer.Exit(2)
    try:  # the URL, its driver and its persistence, before any request is sent
        store = Warehouse(warehouse_url(), allow_ephemeral=allow_ephemeral_warehouse or None)
    except WarehouseError as error:
        _err(f"sync failed: {error}")
        raise typer.Exit(1) from None
    store.dispose()
    if is_ephemeral(store.engine.url):
        _err(f"note: {display_url(store.url)} keeps nothing once this sync ends (allowed)")

    options = {
        "full_refresh": full_refresh,
        "backfill": tuple(backfill) if backfill else None,
        "full_sweep": full_sweep,
        "allow_ephemeral": allow_ephemeral_warehouse,
    }
    stopping.reset()
    outcomes = []
    main = threading.current_thread() is threading.main_thread()  # where signals are handled
    with (
        stopping.on_signals() if main else nullcontext(),
        _printing(verbose, progress_every) as printer,
    ):
        for platform, streams in selection.items():
            outcomes.append(_pull(platform, streams, options, printer))
    raise typer.Exit(_report(outcomes, verbose))


def _pull(
    platform: str, streams: list[str] | None, options: dict, printer: ProgressPrinter
) -> PullOutcome:
    """One platform's pull in a worker thread (signals stay with the main thread), or its streams
    as skipped when a signal came first; an error of the run itself becomes a failure."""
    from promosync.pipelines.run import (
        PullOutcome,
        StepFailure,
        StreamSummary,
        execute_pull,
        streams_by_platform,
    )

    selected = streams or streams_by_platform()[platform]
    if stopping.stop_requested():
        return PullOutcome(platform, [StreamSummary(s, {}, "skipped") for s in selected])
    try:
        return _in_worker(lambda: execute_pull(platform, streams=streams, **options), printer)
    except Exception as error:  # e.g. run config Dagster refuses: the run never started
        failure = StepFailure(platform, f"unexpected {type(error).__name__}: {error}", "")
        return PullOutcome(platform, [StreamSummary(s, {}, "skipped") for s in selected], [failure])


def _in_worker(work: Callable[[], Result], printer: ProgressPrinter) -> Result:
    """Run `work` in a thread, printing progress from this one until it ends."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["result"] = work()
        except BaseException as error:  # handed to the main thread
            box["error"] = error

    worker = threading.Thread(target=target, name="promosync-sync", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.2)
        printer.tick()
    printer.tick()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


@contextmanager
def _printing(verbose: bool, interval: float) -> Iterator[ProgressPrinter]:
    """Progress on stderr: a status line on a terminal, else a line per stream per interval."""
    from rich.console import Console
    from rich.text import Text  # plain text: a message's brackets are not markup

    console = Console(stderr=True)
    with console.status("starting") if console.is_terminal else nullcontext() as spinner:
        if spinner is None:
            printer = ProgressPrinter(_err, None, interval, verbose)
        else:
            show = lambda line: spinner.update(Text(line))  # noqa: E731
            printer = ProgressPrinter(
                lambda line: console.print(Text(line)), show, interval, verbose
            )
        logger = logging.getLogger("promosync")
        level = logger.level
        logger.addHandler(printer)
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)
        try:
            yield printer
        finally:
            logger.removeHandler(printer)
            logger.setLevel(level)


def _report(outcomes: list[PullOutcome], verbose: bool) -> int:
    """Print the failures (one line each, traces with --verbose), then the table; the exit code."""
    shown: dict[str, list[str]] = {}
    for outcome in outcomes:
        for failure in outcome.failures:
            shown.setdefault(failure.message, []).append(failure.stream)
    for message, streams in shown.items():
        _err(f"sync failed: {message} ({', '.join(streams)})")
    if verbose:
        for failure in (f for outcome in outcomes for f in outcome.failures if f.trace):
            _err(f"\n{failure.stream}:\n{failure.trace}")
    summaries = [s for outcome in outcomes for s in outcome.summaries]
    for summary in summaries:  # out of request budget: a success, but the user should know
        if warning := summary.metadata.get("warning"):
            _err(f"{summary.stream}: {warning}")
    typer.echo(summary_table(summaries))
    signal_name = next((o.stopped_by for o in outcomes if o.stopped_by), None)
    try:  # a signal that came after the last step still ends the run as stopped
        stopping.check()
    except stopping.StopRequested as stop:
        signal_name = signal_name or stop.signal_name
    if signal_name:
        _err(
            f"stopped by {signal_name} after the last committed batch; what the table shows is"
            " saved, and the next `promosync sync` goes on from there"
        )
        return EXIT_CODES.get(signal_name, 130)
    return 1 if shown else 0


COUNTED = ("inserted", "updated", "deleted", "rejected", "requests", "rate_limited", "retries")
HEADER = ("stream", "inserted", "updated", "deleted", "rejected", "requests", "429s", "retries",
          "seconds", "cursor", "status")  # fmt: skip


def _row(summary: StreamSummary) -> tuple[str, ...]:
    m = summary.metadata
    counted = summary.status in ("ok", "stopped")  # a stopped stream shows what it committed
    counts = [str(m.get(key, 0)) if counted else "-" for key in COUNTED]
    seconds = f"{m['seconds']:.1f}" if "seconds" in m else "-"
    return (summary.stream, *counts, seconds, str(m.get("cursor_after") or "-"), summary.status)


def summary_table(summaries: list[StreamSummary]) -> str:
    """One row per stream: rows (rejected: records kept in sync_rejects), requests, 429s,
    retries, seconds, cursor and how it ended."""
    return text_table([HEADER, *(_row(summary) for summary in summaries)])
