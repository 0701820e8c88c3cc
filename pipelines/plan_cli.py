"""`promosync plan`: requests per billing cycle the Voucherify schedules will cost, against the
budget; a first load's or a backfill's requests and cycles. The logic is connectors/forecast.py;
this reads the schedules, the warehouse (read-only) and the options, and prints."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from itertools import takewhile

import typer
from promosync.connectors import cycle_report, forecast
from promosync.connectors.budget import BudgetSettings
from promosync.connectors.database import display_url, missing_duckdb_file
from promosync.connectors.errors import ConfigError
from promosync.connectors.voucherify.streams import CUSTOMERS
from promosync.connectors.voucherify.streams import STREAMS as VOUCHERIFY
from promosync.connectors.warehouse import DATABASE_ERRORS, warehouse_url
from promosync.pipelines.status_cli import _open_read_only, text_table

DAYS = forecast.DAYS_PER_CYCLE


def parse_share(text: str) -> float:
    """`1%` or `0.01` as 0.01; BadParameter otherwise."""
    try:
        value = float(text[:-1]) / 100 if text.strip().endswith("%") else float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise typer.BadParameter(f"{text!r} is not a share such as 1% or 0.01")
    return value


def scheduled_jobs(chosen: list[str]) -> list[forecast.Job]:
    """The schedules whose jobs read Voucherify streams, as the forecast sees them: runs a
    30-day cycle from the cron, the streams selected, the config that makes a run sweep or
    reconcile. `chosen` names some; empty: every one (each is off until turned on)."""
    from dagster._utils.schedules import cron_string_iterator
    from promosync.pipelines.definitions import defs

    repository = defs.get_repository_def()
    known = {schedule.name: schedule for schedule in repository.schedule_defs}
    if unknown := [name for name in chosen if name not in known]:
        raise typer.BadParameter(f"no schedule {', '.join(unknown)}; one of {', '.join(known)}")
    jobs = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for name in chosen or sorted(known):
        schedule = known[name]
        job = repository.get_job(schedule.job_name)
        keys = job.asset_layer.executable_asset_keys if job.asset_layer else set()
        streams = tuple(s for s in VOUCHERIFY.values() if any(k.path == [s.name] for k in keys))
        if not streams:
            continue
        ticks = cron_string_iterator(start.timestamp(), schedule.cron_schedule, "UTC")
        end = start.timestamp() + DAYS * 86_400
        runs = sum(1 for _ in takewhile(lambda tick, end=end: tick.timestamp() < end, ticks))
        ops = (getattr(job, "run_config", None) or {}).get("ops", {})
        configs = [ops.get(s.name, {}).get("config", {}) for s in streams]
        jobs.append(
            forecast.Job(
                name, runs, streams,
                full_sweep=any(c.get("full_sweep") for c in configs),
                reconcile=any(c.get("reconcile") for c in configs),
            )
        )  # fmt: skip
    return jobs


def _observed(now: datetime) -> cycle_report.Observed | None:
    """The workload the warehouse shows; None when there is no warehouse yet."""
    url = warehouse_url()
    if missing_duckdb_file(url):
        return None
    store = None
    try:
        store = _open_read_only(url)
        return cycle_report.observed(store, now)
    except DATABASE_ERRORS as error:
        typer.echo(
            f"note: warehouse {display_url(url)} not read ({type(error).__name__});"
            " the options alone count"
        )
        return None
    finally:
        if store is not None:
            store.dispose()


def _budget_line(settings: BudgetSettings) -> str:
    limits = settings.limits
    if not limits.per_cycle:
        return "budget  no cycle quota (plan sandbox or unlimited, no requests_per_cycle)"
    plan = settings.plan or "custom"
    return (
        f"budget  plan {plan}: {limits.per_cycle:,} requests a cycle; routine share"
        f" {settings.share:.0%} = {settings.cap():,}; first-load share"
        f" {settings.first_load_share:.0%} = {settings.cap(first_load=True):,}"
    )


def _load_lines(title: str, load: forecast.Load) -> list[str]:
    rows = [("stream", "requests", "what")]
    rows += [(stream, f"{requests:,}", what) for stream, requests, what in load.lines]
    lines = [title, text_table(rows), f"total {load.total:,} requests"]
    if load.cycles is None:
        lines.append("no cycle quota: it runs at the pace the API allows")
    elif not load.cycles:
        lines.append("the first-load share is 0: it can never complete; raise first_load_share")
    else:
        lines.append(
            f"at the first-load share ({load.cap:,} a cycle) it takes {load.cycles} cycle"
            + ("s" if load.cycles > 1 else "")
        )
    return lines


def plan(
    customers: int = typer.Option(
        None, min=0, help="Customers to plan for (default: the warehouse's live customers)."
    ),
    campaigns: int = typer.Option(
        None, min=0, help="Loyalty campaigns (default: those the warehouse has read)."
    ),
    changed_per_day: str = typer.Option(
        None,
        help="Share of customers changing a day, e.g. 1% (default: the warehouse's last"
        " 7 days of updated_at).",
    ),
    reverify_per_cycle: int = typer.Option(
        None,
        min=0,
        help="Unchanged customers re-verified a cycle (default: the rolling sweep's pace,"
        " PROMOSYNC_VOUCHERIFY_SWEEP_DAYS or a week stretched to what the share affords).",
    ),
    segment_reads: float = typer.Option(
        forecast.SEGMENT_READS,
        min=0.0,
        max=1.0,
        help="Share of visited customers whose segments cost a request of their own (0:"
        " segments from the activity's events, a sample of 3 checked a run).",
    ),
    schedule: str = typer.Option(
        "", help="Schedules to count, comma-separated (default: every one reading Voucherify)."
    ),
    first_load: bool = typer.Option(
        False, help="Also forecast a first load of every customer (shown anyway before one)."
    ),
    backfill_customers: int = typer.Option(
        None, min=0, help="Also forecast a backfill window holding this many customers."
    ),
    budget_plan: str = typer.Option(
        None, "--plan", help="The Voucherify plan (default PROMOSYNC_VOUCHERIFY_PLAN)."
    ),
    share: float = typer.Option(
        None, min=0.0, max=1.0, help="The routine share (default PROMOSYNC_VOUCHERIFY_SHARE)."
    ),
) -> None:
    """Forecast the Voucherify requests a billing cycle of the schedules costs, against the
    budget, and say which schedule to slow down when it does not fit; a first load's or a
    backfill's requests and cycles. Reads the warehouse only; sends no request."""
    try:
        settings = BudgetSettings.from_env(plan=budget_plan, share=share)
    except ConfigError as error:
        typer.echo(f"plan: {error}", err=True)
        raise typer.Exit(2) from None
    rate = None if changed_per_day is None else parse_share(changed_per_day)
    seen = _observed(datetime.now(UTC))
    size = customers if customers is not None else (seen.customers if seen else 0)
    if not size:
        typer.echo(
            "plan: no customers to plan for: the warehouse has none yet; give"
            " --customers N --changed-per-day 1%",
            err=True,
        )
        raise typer.Exit(2)
    if rate is None:
        rate = seen.changed_per_day if seen and seen.changed_per_day is not None else None
    if rate is None:
        typer.echo("plan: no change rate: give --changed-per-day, e.g. 1%", err=True)
        raise typer.Exit(2)
    workload = forecast.Workload(
        customers=size, changed_per_day=rate,
        campaigns=campaigns if campaigns is not None else (seen.campaigns if seen else 0),
        reverify_per_cycle=reverify_per_cycle, segment_reads=segment_reads,
    ).resolved(settings)  # fmt: skip
    jobs = scheduled_jobs([name.strip() for name in schedule.split(",") if name.strip()])
    result = forecast.forecast(jobs, workload, settings)
    lines = [
        _budget_line(settings),
        f"workload  {workload.customers:,} customers, {workload.changed_per_day:.2%} changing a"
        f" day ({math.ceil(workload.changed_per_cycle):,} a cycle), {workload.campaigns}"
        f" campaigns, {workload.reverified:,} re-verified a cycle",
        "",
        text_table(
            [("schedule", "stream", "runs", "per run", "per cycle", "what")]
            + [
                (
                    line.schedule,
                    line.stream,
                    f"{_runs_of(jobs, line.schedule):,.0f}",
                    f"{line.per_run:,.1f}",
                    f"{line.per_cycle:,}",
                    line.what,
                )
                for line in result.lines
            ]
        ),
        "",
    ]
    if result.cap is None:
        lines.append(f"total {result.total:,} requests a cycle (no cycle quota to keep)")
    else:
        verdict = "fits" if result.fits else f"does NOT fit: {result.over:,} over"
        lines.append(
            f"total {result.total:,} requests a cycle of the share's {result.cap:,}"
            f" ({result.total / result.cap if result.cap else math.inf:.0%}): {verdict}"
        )
    lines += [f"  advice: {advice}" for advice in result.advice]
    if first_load or (seen is None or seen.first_load):
        load = forecast.first_load(list(VOUCHERIFY.values()), workload, settings)
        lines += ["", *_load_lines("first load (every stream from the start)", load)]
    if backfill_customers is not None:
        load = forecast.backfill(backfill_customers, settings)
        lines += ["", *_load_lines(f"backfill ({CUSTOMERS.name})", load)]
    typer.echo("\n".join(lines))
    if not result.fits:
        raise typer.Exit(1)


def _runs_of(jobs: list[forecast.Job], schedule: str) -> float:
    return next(job.runs_per_cycle for job in jobs if job.schedule == schedule)
