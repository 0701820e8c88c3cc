"""Requests per billing cycle a set of scheduled jobs will cost, forecast from the streams'
declarations (page size, cost per entity, export costs) and a workload (customers, campaigns,
the share of customers changing a day), against promosync's share of the cycle.

Plain Python, no Dagster and no I/O: `promosync plan` (pipelines/plan_cli.py) gathers the
workload from the warehouse or its options and prints what this module says. Figures are lower
bounds where a visit may take more than its declared cost (a customer with more than a page of
new activity): the ledger shows the real spend, `promosync status` projects it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from promosync.connectors.budget import DAYS_PER_CYCLE, BudgetSettings
from promosync.connectors.stream import Stream
from promosync.connectors.voucherify.exports import export_cost
from promosync.connectors.voucherify.segments import SAMPLE as SEGMENT_SAMPLE
from promosync.connectors.voucherify.streams import CUSTOMERS, SEGMENTS

# Share of the customers a fan-out visits whose segments cost a request of their own: none,
# since segments come from the segment events the activity visit read (connectors/voucherify/
# segments.py), but for the sample each run checks against the API (`--segment-reads` models
# runs that fall back to a read per customer).
SEGMENT_READS = 0.0
SLOWER = (2, 3, 4, 6, 8, 12, 24, 48, 168)  # slowing factors tried, as cadences a cron can say
HEADROOM = 0.1  # over the forecast, in a share advised: the forecast is a lower bound


@dataclass(frozen=True)
class Workload:
    """What the scheduled runs have to read: sizes and change rates."""

    customers: int
    changed_per_day: float  # share of the customers whose data changes in a day
    campaigns: int = 0  # loyalty campaigns
    transactions_per_day: int = 0  # new loyalty transactions a day, every campaign
    reverify_per_cycle: int | None = None  # None: the rolling sweep's pace (`resolved`)
    segment_reads: float = SEGMENT_READS

    @property
    def reverified(self) -> int:
        """Customers re-verified per cycle though nothing signalled a change."""
        return self.reverify_per_cycle or 0

    def resolved(self, settings: BudgetSettings) -> Workload:
        """This workload with the rolling sweep's pace under `settings` where none was given:
        every customer within `settings.sweep_days_for(customers)`."""
        if self.reverify_per_cycle is not None:
            return self
        days = settings.sweep_days_for(self.customers)
        per_cycle = math.ceil(self.customers * DAYS_PER_CYCLE / days)
        return replace(self, reverify_per_cycle=per_cycle)

    @property
    def changed_per_cycle(self) -> float:
        return self.customers * self.changed_per_day * DAYS_PER_CYCLE


@dataclass(frozen=True)
class Job:
    """A scheduled job as the forecast sees it: its runs a cycle and what each reads."""

    schedule: str
    runs_per_cycle: float
    streams: tuple[Stream, ...]
    full_sweep: bool = False  # every customer's fan-outs visited, each run
    reconcile: bool = False  # every customer id read, each run


@dataclass(frozen=True)
class Line:
    """One stream's cost under one schedule."""

    schedule: str
    stream: str
    per_run: float
    per_cycle: int
    what: str
    kind: str  # "runs" (a cost each run), "changes", "reverify" or "sweep"


@dataclass
class Forecast:
    """The cost of a set of jobs in one cycle, against the share (cap) of the cycle."""

    lines: list[Line]
    cap: int | None  # None: no cycle quota
    per_cycle_quota: int | None
    advice: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(line.per_cycle for line in self.lines)

    @property
    def fits(self) -> bool:
        return self.cap is None or self.total <= self.cap

    @property
    def over(self) -> int:
        """Requests past the share (0 when it fits)."""
        return 0 if self.cap is None else max(0, self.total - self.cap)


def read_cost(rows: float, page_size: int) -> int:
    """Requests a read of `rows` customers costs on the cheapest path: the first list page is
    read in any case; a full first page turns to an export when it is cheaper than the pages."""
    rows = math.ceil(rows)
    if rows < page_size:
        return 1
    return min(math.ceil(rows / page_size), 1 + export_cost(rows))


def _per_customer(stream: Stream) -> bool:
    return CUSTOMERS.name in stream.depends_on


def _visit_cost(stream: Stream, workload: Workload) -> float:
    """Requests one customer's visit costs: the declared cost, segments' times their share."""
    cost = float(stream.required("cost_per_entity"))
    return cost * workload.segment_reads if stream.name == SEGMENTS.name else cost


def _stream_lines(job: Job, workload: Workload, reverifies: bool, reads: float) -> list[Line]:
    """`reads`: runs a cycle of every job reading customers (they share one cursor)."""
    runs, lines = job.runs_per_cycle, []
    for stream in job.streams:
        if stream.cost_per_entity is None:  # a top-level list (customers)
            changed = workload.changed_per_cycle / reads
            per_run = read_cost(changed, stream.required("page_size"))
            what = f"{changed:,.0f} changed customers a run"
            if job.reconcile:
                per_run += min(
                    math.ceil(workload.customers / stream.required("page_size")),
                    export_cost(workload.customers),
                )
                what += ", every id (deletes)"
            per_cycle = round(per_run * runs)
            lines.append(Line(job.schedule, stream.name, per_run, per_cycle, what, "runs"))
            continue
        if _per_customer(stream):
            cost = _visit_cost(stream, workload)
            if job.full_sweep:
                visits, what, kind = workload.customers * runs, "every customer, each run", "sweep"
            else:
                visits, what, kind = workload.changed_per_cycle, "each changed customer", "changes"
            per_cycle = math.ceil(visits * cost)
            if stream.name == SEGMENTS.name and not job.full_sweep:
                per_cycle += SEGMENT_SAMPLE * runs  # the sample checked against the API
                what += f", {SEGMENT_SAMPLE} sampled a run"
            lines.append(Line(job.schedule, stream.name, per_cycle / runs, per_cycle, what, kind))
            if reverifies and (slice_cost := math.ceil(workload.reverified * cost)):
                lines.append(
                    Line(
                        job.schedule, f"{stream.name} (re-verification)", slice_cost / runs,
                        slice_cost, f"{workload.reverified:,} unchanged customers a cycle",
                        "reverify",
                    )
                )  # fmt: skip
            continue
        # A fan-out over the loyalty campaigns: the list, then each campaign's new transactions.
        page = stream.required("page_size")
        new = workload.transactions_per_day * DAYS_PER_CYCLE / runs
        per_run = (
            max(1, math.ceil(workload.campaigns / page))
            + workload.campaigns * stream.cost_per_entity
            + math.floor(new / page)
        )
        what = f"{workload.campaigns} campaigns, each run"
        lines.append(Line(job.schedule, stream.name, per_run, round(per_run * runs), what, "runs"))
    return lines


def forecast(jobs: Sequence[Job], workload: Workload, settings: BudgetSettings) -> Forecast:
    """The cycle's cost of `jobs` and, when it does not fit the share, what to slow down."""
    result = _costed(jobs, workload, settings)
    if not result.fits:
        result.advice = _advice(jobs, workload, settings, result)
    return result


def _costed(jobs: Sequence[Job], workload: Workload, settings: BudgetSettings) -> Forecast:
    workload = workload.resolved(settings)
    # The re-verification slice rides on the incremental job that runs most often.
    incremental = [
        job for job in jobs if not job.full_sweep and any(map(_per_customer, job.streams))
    ]
    sweeping = max(incremental, key=lambda job: job.runs_per_cycle, default=None)
    reads = sum(job.runs_per_cycle for job in jobs if CUSTOMERS in job.streams) or 1
    lines = [line for job in jobs for line in _stream_lines(job, workload, job is sweeping, reads)]
    return Forecast(lines, settings.cap(), settings.limits.per_cycle or None)


def _advice(
    jobs: Sequence[Job], workload: Workload, settings: BudgetSettings, result: Forecast
) -> list[str]:
    """Which schedule to slow down (or, for a full sweep, turn off), and by how much; or why no
    cadence fits."""
    cap = result.cap or 0
    advice = []
    for index, job in enumerate(jobs):
        for factor in (f for f in SLOWER if job.runs_per_cycle / f >= 1):
            slower = [*jobs]
            slower[index] = replace(job, runs_per_cycle=job.runs_per_cycle / factor)
            trial = _costed(slower, workload, settings)
            if trial.fits:
                runs = slower[index].runs_per_cycle
                advice.append(
                    f"run {job.schedule} {factor}x less often ({runs:,.0f} runs a cycle):"
                    f" {trial.total:,} of {cap:,}"
                )
                break
        else:
            trial = _costed([*jobs[:index], *jobs[index + 1 :]], workload, settings)
            if job.full_sweep and trial.fits:  # the re-verification slice takes its place
                advice.append(f"turn {job.schedule} off: {trial.total:,} of {cap:,} without it")
    if advice:
        return advice
    if not cap:
        return ["the share is 0: raise budget.share"]
    routine = [job for job in jobs if not job.full_sweep]
    floor = _costed([replace(job, runs_per_cycle=1) for job in routine], workload, settings)
    changes = sum(line.per_cycle for line in floor.lines if line.kind == "changes")
    reverify = sum(line.per_cycle for line in floor.lines if line.kind == "reverify")
    routine_total = _costed(routine, workload, settings).total
    needed = math.ceil(100 * routine_total * (1 + HEADROOM) / (result.per_cycle_quota or 1)) / 100
    sweeps = " with every full sweep off" if len(routine) < len(jobs) else ""
    return [
        f"no cadence fits: the visits of changed customers alone cost {changes:,}"
        f" ({changes / cap:.0%} of the share) and re-verification {reverify:,}; raise the share"
        f" to {needed:.0%} (budget.share {needed:.2f}: the forecast{sweeps} and {HEADROOM:.0%}"
        " headroom), or re-verify fewer customers a cycle"
    ]


@dataclass(frozen=True)
class Load:
    """A one-off load (a first load, a backfill) and how many cycles its share needs."""

    lines: list[tuple[str, int, str]]  # stream, requests, what
    cap: int | None  # requests a cycle at first_load_share (None: no cycle quota)

    @property
    def total(self) -> int:
        return sum(requests for _, requests, _ in self.lines)

    @property
    def cycles(self) -> int | None:
        """Cycles it takes at the first-load share (None: no cycle quota; 0 when the share is 0
        and it can never complete)."""
        if self.cap is None:
            return None
        if not self.cap:
            return 0
        return max(1, math.ceil(self.total / self.cap))


def first_load(streams: Sequence[Stream], workload: Workload, settings: BudgetSettings) -> Load:
    """Reading everything once: every customer, each one's fan-outs, every campaign."""
    lines = []
    for stream in streams:
        if stream.cost_per_entity is None:
            page = stream.required("page_size")
            lines.append(
                (stream.name, read_cost(workload.customers, page), f"{workload.customers:,} rows")
            )
        elif _per_customer(stream):
            requests = math.ceil(workload.customers * _visit_cost(stream, workload))
            what = f"{workload.customers:,} customers (at least a request each)"
            if not requests:
                what = f"{workload.customers:,} customers, from the activity's events"
            lines.append((stream.name, requests, what))
        else:  # each campaign: its first page, then its export when the page is full
            page = stream.required("page_size")
            per_campaign = 1 + export_cost(0)
            requests = (
                max(1, math.ceil(workload.campaigns / page)) + workload.campaigns * per_campaign
            )
            lines.append((stream.name, requests, f"{workload.campaigns} campaigns"))
    return Load(lines, settings.cap(first_load=True))


def backfill(customers: int, settings: BudgetSettings) -> Load:
    """A backfill window holding `customers` changed customers (the customers stream only)."""
    requests = read_cost(customers, CUSTOMERS.required("page_size"))
    return Load([(CUSTOMERS.name, requests, f"{customers:,} rows")], settings.cap(first_load=True))
