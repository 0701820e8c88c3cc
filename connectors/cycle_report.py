"""What the warehouse says of the billing cycle and of the workload: the ledger's spend, its
projection to the cycle's end, the visits deferred, and the sizes and change rate a forecast
starts from. Reads only (`promosync status` and `promosync plan` open the warehouse read-only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from promosync.connectors import spending, visits
from promosync.connectors.budget import BudgetSettings
from promosync.connectors.cursor import WHOLE_STREAM
from promosync.connectors.health import Finding, format_age, live_rows, utc
from promosync.connectors.voucherify.streams import CUSTOMERS, LOYALTY_TRANSACTIONS
from promosync.connectors.warehouse import Warehouse

WARN_AT = 0.8  # of the share: the budget check warns from here
CHANGE_WINDOW = timedelta(days=7)  # how far back the change rate is measured


@dataclass(frozen=True)
class CycleSpend:
    """One account's spend in the current cycle, against promosync's share of it."""

    account: str
    start: datetime
    end: datetime
    spent: int  # the ledger's count (settled and reserved), every run and process
    cap: int | None  # the share in requests (None: no cycle quota)

    def projected(self, now: datetime) -> int:
        """The cycle's spend at its end if it goes on at the rate so far."""
        elapsed = (now - self.start).total_seconds()
        length = (self.end - self.start).total_seconds()
        return self.spent if elapsed <= 0 else round(self.spent * length / elapsed)


@dataclass(frozen=True)
class Deferred:
    """Entities a fan-out stream still owes a visit, and the oldest one's change."""

    stream: str
    count: int
    oldest: datetime | None


def cycle_spend(warehouse: Warehouse, settings: BudgetSettings, now: datetime) -> list[CycleSpend]:
    """Each account's spend in the cycle `now` falls in (none before the first budgeted run)."""
    if not sa.inspect(warehouse.engine).has_table(spending.TABLE):
        return []
    start, end = settings.cycle(now)
    rows = warehouse.query(
        f"SELECT account, COALESCE(SUM(requests + reserved), 0) AS n FROM {spending.TABLE}"
        " WHERE cycle_start = :start GROUP BY account ORDER BY account",
        {"start": start},
    )
    return [CycleSpend(row["account"], start, end, int(row["n"]), settings.cap()) for row in rows]


def account_spend(
    warehouse: Warehouse, settings: BudgetSettings, account: str, now: datetime
) -> CycleSpend:
    """One account's spend in the cycle `now` falls in."""
    start, end = settings.cycle(now)
    spent = spending.cycle_spent(warehouse, account, start)
    return CycleSpend(account, start, end, spent, settings.cap())


def stream_spent(warehouse: Warehouse, spend: CycleSpend, stream: str) -> int:
    """What one stream spent of the account's cycle, every run."""
    rows = warehouse.query(
        f"SELECT COALESCE(SUM(requests + reserved), 0) AS n FROM {spending.TABLE}"
        " WHERE account = :account AND cycle_start = :start AND stream = :stream",
        {"account": spend.account, "start": spend.start, "stream": stream},
    )
    return int(rows[0]["n"])


def deferred_visits(warehouse: Warehouse) -> list[Deferred]:
    """Per fan-out stream, the visits owed and the oldest owed change."""
    if not sa.inspect(warehouse.engine).has_table(visits.TABLE):
        return []
    rows = warehouse.query(
        f"SELECT stream, count(*) AS n, MIN(owed_since) AS oldest FROM {visits.TABLE}"
        " WHERE owed_since IS NOT NULL GROUP BY stream ORDER BY stream"
    )
    return [Deferred(row["stream"], int(row["n"]), utc(row["oldest"])) for row in rows]


def budget_finding(spend: CycleSpend, now: datetime, warn_at: float = WARN_AT) -> Finding:
    """Passed while the cycle's spend stays under `warn_at` of the share; the projection to the
    cycle's end in the summary either way."""
    projected = spend.projected(now)
    details = {
        "cycle_start": spend.start.isoformat(), "cycle_spent": spend.spent,
        "cycle_cap": spend.cap, "projected": projected,
    }  # fmt: skip
    if spend.cap is None:
        summary = f"{spend.spent:,} requests this cycle (no cycle quota)"
        return Finding("budget", spend.account, True, summary, details)
    used = spend.spent / spend.cap if spend.cap else 1.0
    summary = (
        f"{spend.spent:,} of the share's {spend.cap:,} requests spent this cycle ({used:.0%}),"
        f" {projected:,} projected by its end ({spend.end:%Y-%m-%d %H:%M}Z)"
    )
    if used >= warn_at:
        summary += (
            f"; past {warn_at:.0%}: runs will defer work until the cycle resets; see"
            " `promosync plan`"
        )
    return Finding("budget", spend.account, used < warn_at, summary, {**details, "used": used})


def deferred_line(deferred: Deferred, now: datetime) -> str:
    """`stream  N waiting, oldest 3h 5m`."""
    oldest = format_age(now - deferred.oldest) if deferred.oldest else "-"
    return f"{deferred.stream}  {deferred.count:,} waiting, oldest change {oldest} ago"


@dataclass(frozen=True)
class Observed:
    """The workload as the warehouse shows it."""

    customers: int
    campaigns: int
    changed_per_day: float | None  # None: no customer to measure it on
    first_load: bool  # the customers stream has never completed a run


def observed(warehouse: Warehouse, now: datetime) -> Observed:
    """Live customers, loyalty campaigns, and the share of customers changed a day over the
    last week (their `updated_at`)."""
    customers = live_rows(warehouse, CUSTOMERS.name)
    partitions = warehouse.read_cursors(LOYALTY_TRANSACTIONS.name)
    campaigns = len([key for key in partitions if key != WHOLE_STREAM])
    rate = None
    if customers:
        since = now - CHANGE_WINDOW
        rows = warehouse.query(
            f"SELECT count(*) AS n FROM {CUSTOMERS.name}"
            " WHERE _deleted_at IS NULL AND updated_at >= :since",
            {"since": since},
        )
        rate = int(rows[0]["n"]) / customers / CHANGE_WINDOW.days
    first = warehouse.read_cursor(CUSTOMERS.name) is None
    return Observed(customers, campaigns, rate, first)
