"""The request ledger: every request to a budgeted API is reserved in the warehouse before it is
sent, so a run never passes its allowance and several processes share one cycle's budget.

A `Spending` reserves in blocks (BLOCK requests, one small transaction each) and keeps, per
cycle, account, stream and run, `requests` (settled: sent and counted) and `reserved` (taken
for requests about to be sent). Their sum never falls below the requests sent, since a block is
reserved before its first request goes out; after a crash (SIGKILL) it counts at most one block
more than was sent, and after a normal end `close()` settles it to exactly the requests sent.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from promosync.connectors.budget import BudgetSettings
from promosync.connectors.database import is_ephemeral, resolve_url
from promosync.connectors.errors import BudgetSpent
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

BLOCK = 25  # requests reserved at once: the most a crash can over-count
TABLE = "request_ledger"
# One reservation at a time per account: PostgreSQL's advisory lock across processes (held to
# the end of the reservation's transaction), this lock between a process's threads (DuckDB
# admits one process per file, so no other process can write it meanwhile).
_PG_LOCK = "SELECT pg_advisory_xact_lock(hashtext('promosync budget ' || :account))"
_LOCAL = threading.Lock()


def account_of(base_url: str, app_id: str) -> str:
    """The ledger's name of a project: the API host and a hash of the app id (half of the key
    pair, so it is no more stored than the token)."""
    digest = hashlib.sha256(app_id.encode()).hexdigest()[:16]
    return f"{urlsplit(base_url).netloc}/app-{digest}"


def new_run_id() -> str:
    """A run id for work outside Dagster (a script, a test)."""
    return f"local-{uuid.uuid4()}"


def cycle_spent(
    warehouse: Warehouse, account: str, cycle_start: datetime, but_run: str | None = None
) -> int:
    """Requests the ledger counts (settled and reserved) for `account` in the cycle starting at
    `cycle_start`, leaving out run `but_run`'s."""
    sql = (
        f"SELECT COALESCE(SUM(requests + reserved), 0) AS n FROM {TABLE}"
        " WHERE account = :account AND cycle_start = :start"
    )
    params: dict[str, object] = {"account": account, "start": cycle_start}
    if but_run is not None:
        sql += " AND run_id <> :run"
        params["run"] = but_run
    return int(warehouse.query(sql, params)[0]["n"])


def run_spent(warehouse: Warehouse, account: str, cycle_start: datetime, run_id: str) -> int:
    """Requests the ledger counts for one run (all its streams) in the cycle."""
    sql = (
        f"SELECT COALESCE(SUM(requests + reserved), 0) AS n FROM {TABLE}"
        " WHERE account = :account AND cycle_start = :start AND run_id = :run"
    )
    params = {"account": account, "start": cycle_start, "run": run_id}
    return int(warehouse.query(sql, params)[0]["n"])


def keeps_ledger(warehouse: Warehouse) -> bool:
    """Whether `warehouse` outlives the run (an in-memory one has no ledger to share)."""
    return not is_ephemeral(resolve_url(warehouse.url, allow_ephemeral=True))


@contextmanager
def counted(
    client: Any,
    warehouse: Warehouse,
    settings: BudgetSettings,
    account: str,
    stream: str,
    run_id: str | None = None,
) -> Iterator[None]:
    """Count every request `client` sends meanwhile in the ledger, unbounded: a push or a check
    is the user's own business, so it is never cut off by the pulls' allowance, but the pulls'
    allowances see what it spent (and the vendor's own cycle block still stops it)."""
    if not keeps_ledger(warehouse):
        yield
        return
    spending = Spending(warehouse, settings, account, stream, run_id or new_run_id(), bounded=False)
    client.spending = spending
    try:
        yield
    finally:
        client.spending = None
        spending.settle(final=True)


@dataclass
class Spending:
    """What one stream's run may send to one budgeted account, and what it sent.

    `allowance` (None: no cycle quota) is the run's, less what its other streams spent; `cap` is
    promosync's share of the cycle over every run, checked again at each reservation so that
    concurrent runs never pass it together. `spend_one()` comes before every request sent.
    """

    warehouse: Warehouse
    settings: BudgetSettings
    account: str
    stream: str
    run_id: str
    first_load: bool = False
    bounded: bool = True  # False: counted only (a push, a check), no allowance or cap
    now: datetime | None = None
    block: int = BLOCK
    cycle_start: datetime = field(init=False)
    allowance: int | None = field(init=False)
    cap: int | None = field(init=False)
    sent: int = field(init=False, default=0)
    reserved: int = field(init=False, default=0)  # this Spending's requests + reserved
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        now = self.now or datetime.now(UTC)
        self.cycle_start, _ = self.settings.cycle(now)
        others = cycle_spent(self.warehouse, self.account, self.cycle_start, self.run_id)
        mine = run_spent(self.warehouse, self.account, self.cycle_start, self.run_id)
        run_allowance = self.settings.allowance(others, now, self.first_load)
        self.allowance = None if run_allowance is None else max(0, run_allowance - mine)
        self.cap = self.settings.cap(self.first_load)
        if not self.bounded:
            self.allowance = self.cap = None

    def spend_one(self) -> None:
        """Count one request about to be sent; BudgetSpent (nothing sent) if none is left."""
        with self._lock:
            if self.sent >= self.reserved:
                self._reserve()
            self.sent += 1

    def _reserve(self) -> None:
        want = self.block
        if self.allowance is not None:
            want = min(want, self.allowance - self.reserved)
            if want <= 0:
                raise BudgetSpent(f"this run's allowance of {self.allowance:,} requests is spent")
        key = {
            "start": self.cycle_start, "account": self.account, "stream": self.stream,
            "run": self.run_id, "now": datetime.now(UTC),
        }  # fmt: skip
        with _LOCAL, self.warehouse.engine.begin() as conn:
            if self.warehouse.dialect == "postgresql":
                conn.execute(sa.text(_PG_LOCK), {"account": self.account})
            if self.cap is not None:
                total = conn.execute(
                    sa.text(
                        f"SELECT COALESCE(SUM(requests + reserved), 0) FROM {TABLE}"
                        " WHERE account = :account AND cycle_start = :start"
                    ),
                    key,
                ).scalar_one()
                want = min(want, self.cap - int(total))
                if want <= 0:
                    raise BudgetSpent(
                        f"promosync's share of this billing cycle ({self.cap:,} requests) is spent"
                    )
            conn.execute(
                sa.text(
                    f"INSERT INTO {TABLE} (cycle_start, account, stream, run_id, requests,"
                    " reserved, updated_at) VALUES (:start, :account, :stream, :run, 0, :want,"
                    " :now) ON CONFLICT (cycle_start, account, stream, run_id) DO UPDATE SET"
                    f" reserved = {TABLE}.reserved + :want, updated_at = :now"
                ),
                {**key, "want": want},
            )
        self.reserved += want

    def refund(self) -> None:
        """Uncount a request the vendor refused without serving it (a 429, a 401): the ledger
        counts what the vendor bills."""
        with self._lock:
            self.sent = max(0, self.sent - 1)

    def settle(self, final: bool = False) -> None:
        """Count the requests sent as settled; `final` also releases the unused reservation, so
        the ledger then equals the requests sent."""
        with self._lock:
            if not self.reserved:
                return
            sent = self.sent
            keep = "0" if final else f"reserved + requests - {sent:d}"
            key = {
                "start": self.cycle_start, "account": self.account, "stream": self.stream,
                "run": self.run_id,
            }  # fmt: skip
            where = (
                "WHERE cycle_start = :start AND account = :account AND stream = :stream"
                " AND run_id = :run"
            )
            with self.warehouse.engine.begin() as conn:
                if final and not sent:  # nothing billed: no row
                    conn.execute(sa.text(f"DELETE FROM {TABLE} {where}"), key)
                    self.reserved = 0
                    return
                conn.execute(
                    sa.text(
                        f"UPDATE {TABLE} SET reserved = {keep}, requests = :sent,"
                        f" updated_at = :now {where}"
                    ),
                    {**key, "sent": sent, "now": datetime.now(UTC)},
                )
            if final:
                self.reserved = sent

    def cycle_count(self) -> int:
        """The cycle's count in the ledger now (every run, settled and reserved)."""
        return cycle_spent(self.warehouse, self.account, self.cycle_start)
