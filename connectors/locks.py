"""Warehouse locks: one holder of a name at a time, across processes, hosts and threads.

`warehouse_lock(warehouse, name, wait_seconds)` holds `name` on that warehouse for the block:
- PostgreSQL: a session advisory lock on a connection of its own (autocommit, so no transaction
  stays open), keyed by a hash of the database, the current schema and the name, so two schemas
  or databases never collide; the holder is named from `pg_stat_activity`.
- DuckDB: DuckDB lets one process open a database file, so a connection held open for the block
  keeps every other process out, and a lock per file and name orders this process's threads.
- any other database: a row in `promosync_locks` (unique on the name), kept fresh by a heartbeat
  and taken over once it has expired (its holder died).

A holder held elsewhere is waited for up to `wait_seconds` (a stop asked for by a signal ends the
wait), then `WarehouseBusy` says who holds it.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from promosync.connectors import stopping
from promosync.connectors.database import display_url
from promosync.connectors.warehouse import Warehouse, WarehouseError, warehouse_error

log = logging.getLogger(__name__)

POLL_SECONDS = (0.1, 2.0)  # first and longest pause between two attempts
LOCK_ROW_TTL = timedelta(seconds=60)  # a lock row not refreshed for this long is taken over
_DUCKDB_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class WarehouseBusy(WarehouseError):
    """The lock is held by another process (or thread) beyond the time allowed to wait."""


def holder_label(name: str) -> str:
    """Who takes a lock, as other processes will see it: the name, this pid and host."""
    return f"promosync {name} (pid {os.getpid()} on {socket.gethostname()})"


def _attempts(try_once: Callable[[], str | None], wait_seconds: float) -> None:
    """Call `try_once` (None: taken, else what holds it) until it succeeds or the wait is over."""
    started = time.monotonic()
    pause = POLL_SECONDS[0]
    while True:
        holder = try_once()
        if holder is None:
            return
        waited = time.monotonic() - started
        if pause == POLL_SECONDS[0] and wait_seconds > 0:  # once, before the first pause
            log.info("%s; waiting for it up to %.0f s", holder, wait_seconds)
        if waited >= wait_seconds:
            raise WarehouseBusy(
                f"{holder}; waited {waited:.1f} s for it. Try again once that run has finished,"
                " or allow a longer wait"
            )
        stopping.sleep(min(pause, wait_seconds - waited))
        pause = min(POLL_SECONDS[1], pause * 2)


# --- PostgreSQL: advisory locks ----------------------------------------------------------------

_pg_locks = sa.table(
    "pg_locks", sa.column("locktype"), sa.column("classid"), sa.column("objid"),
    sa.column("objsubid"), sa.column("granted"), sa.column("pid"),
)  # fmt: skip
_pg_activity = sa.table(
    "pg_stat_activity", sa.column("pid"), sa.column("application_name"),
    sa.column("client_addr"), sa.column("backend_start"),
)  # fmt: skip


def _pg_holder(conn: sa.Connection, key: int) -> str:
    """The session holding advisory lock `key` (a bigint lock shows as classid:objid, subid 1)."""
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    locks, activity = _pg_locks.c, _pg_activity.c
    query = (
        sa.select(activity.pid, activity.application_name, activity.client_addr,
                  activity.backend_start)
        .select_from(_pg_locks.join(_pg_activity, locks.pid == activity.pid))
        .where(locks.locktype == "advisory", locks.granted, locks.objsubid == 1,
               sa.cast(locks.classid, sa.BigInteger) == high,
               sa.cast(locks.objid, sa.BigInteger) == low)
    )  # fmt: skip
    row = conn.execute(query).first()
    if row is None:
        return "another session (it has just ended)"
    who = row.application_name or "another client"
    client = row.client_addr or "local"
    since = f"{row.backend_start:%Y-%m-%d %H:%M:%S %Z}" if row.backend_start else "?"
    return f"{who} (PostgreSQL backend {row.pid}, client {client}, connected since {since})"


@contextmanager
def _postgresql_lock(warehouse: Warehouse, name: str, wait_seconds: float) -> Iterator[None]:
    scope = sa.func.concat("promosync:", sa.func.current_database(), ":",
                           sa.func.current_schema(), ":", name)  # fmt: skip
    with warehouse.engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        key = conn.execute(sa.select(sa.func.hashtextextended(scope, 0))).scalar_one()
        application = conn.execute(sa.select(sa.func.current_setting("application_name")))
        previous = application.scalar_one()

        def try_once() -> str | None:
            if conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one():
                return None
            return f"the lock {name!r} is held by {_pg_holder(conn, key)}"

        _attempts(try_once, wait_seconds)
        label = holder_label(name)[:63]  # PostgreSQL keeps 63 bytes of application_name
        conn.execute(sa.select(sa.func.set_config("application_name", label, False)))
        try:
            yield
        finally:
            try:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                conn.execute(sa.select(sa.func.set_config("application_name", previous, False)))
            except sa.exc.DBAPIError:  # the session is gone, and its lock with it
                raw.invalidate()


# --- DuckDB: the file, and a lock per file and name inside this process -------------------------

_held_here: dict[tuple[str, str], threading.Lock] = {}
_holders_here: dict[tuple[str, str], str] = {}
_registry = threading.Lock()


def _duckdb_holder(error: BaseException) -> str | None:
    found = _DUCKDB_HOLDER.search(str(getattr(error, "orig", None) or error))
    if found is None:
        return None
    pid, program = found["pid"], os.path.basename(found["program"])
    return f"another process (PID {pid}, {program}: another promosync run, or a DuckDB client)"


def duckdb_file_in_use(error: BaseException, url: str) -> str | None:
    """A one-line reason when `error` is DuckDB refusing a file another process holds, or None."""
    holder = _duckdb_holder(error)
    if holder is None:
        return None
    shown = display_url(url)
    return f"the warehouse {shown} is in use by {holder}; DuckDB lets one process open a file"


@contextmanager
def _duckdb_lock(warehouse: Warehouse, name: str, wait_seconds: float) -> Iterator[None]:
    database = warehouse.engine.url.database or ":memory:"
    path = database if database == ":memory:" else os.path.realpath(database)
    slot = (f"{path}#{id(warehouse.engine)}" if path == ":memory:" else path, name)
    with _registry:
        lock = _held_here.setdefault(slot, threading.Lock())
    held: list[sa.Connection] = []

    def try_once() -> str | None:
        if not lock.acquire(blocking=False):
            holder = _holders_here.get(slot, "another thread of this process")
            return f"the lock {name!r} is held by {holder}"
        try:
            held.append(warehouse.engine.connect())  # opens the file: no other process can
        except sa.exc.DBAPIError as error:
            lock.release()
            busy = duckdb_file_in_use(error, warehouse.url)
            if busy is None:
                raise
            return busy
        _holders_here[slot] = f"{holder_label(name)} thread {threading.current_thread().name}"
        return None

    _attempts(try_once, wait_seconds)
    try:
        yield
    finally:
        _holders_here.pop(slot, None)
        held[0].close()
        lock.release()


# --- any other database: a lock row -----------------------------------------------------------

LOCKS = sa.Table(
    "promosync_locks",
    sa.MetaData(),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)


def _now() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the zone


@contextmanager
def _row_lock(warehouse: Warehouse, name: str, wait_seconds: float) -> Iterator[None]:
    LOCKS.create(warehouse.engine, checkfirst=True)
    me = f"{holder_label(name)} thread {threading.get_ident()}"
    rows = LOCKS.c

    def try_once() -> str | None:
        now = _now()
        with warehouse.engine.begin() as conn:
            row = conn.execute(sa.select(rows.holder, rows.expires_at)
                               .where(rows.name == name)).first()  # fmt: skip
            if row is not None and _as_utc(row.expires_at) > now:
                return f"the lock {name!r} is held by {row.holder}"
            if row is not None:  # its holder stopped refreshing it: it died
                conn.execute(sa.delete(LOCKS).where(rows.name == name, rows.holder == row.holder))
        try:
            with warehouse.engine.begin() as conn:
                values = {"name": name, "holder": me, "acquired_at": now,
                          "expires_at": now + LOCK_ROW_TTL}  # fmt: skip
                conn.execute(sa.insert(LOCKS).values(**values))
        except sa.exc.IntegrityError:
            return f"the lock {name!r} is held by another process (it took it a moment ago)"
        return None

    _attempts(try_once, wait_seconds)
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(LOCK_ROW_TTL.total_seconds() / 4):
            try:
                with warehouse.engine.begin() as conn:
                    conn.execute(sa.update(LOCKS).where(rows.name == name, rows.holder == me)
                                 .values(expires_at=_now() + LOCK_ROW_TTL))  # fmt: skip
            except sa.exc.DBAPIError as error:  # the next beat tries again
                log.warning("could not refresh the lock %r: %s", name, type(error).__name__)

    beat = threading.Thread(target=heartbeat, name=f"lock {name}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        done.set()
        beat.join()
        with warehouse.engine.begin() as conn:
            conn.execute(sa.delete(LOCKS).where(rows.name == name, rows.holder == me))


@contextmanager
def warehouse_lock(warehouse: Warehouse, name: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold lock `name` on `warehouse` for the block; WarehouseBusy if another holds it too long.

    Waits at most `wait_seconds` (0: refuse at once); StopRequested if a signal asks for a stop
    meanwhile; WarehouseError if the warehouse cannot be reached.
    """
    kinds = {"postgresql": _postgresql_lock, "duckdb": _duckdb_lock}
    take = kinds.get(warehouse.dialect, _row_lock)
    with ExitStack() as held:
        try:
            held.enter_context(take(warehouse, name, max(0.0, wait_seconds)))
        except sa.exc.DBAPIError as error:
            raise warehouse_error(error, warehouse.url, f"taking the lock {name!r}") from None
        yield
