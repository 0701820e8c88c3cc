"""Warehouse locks: one holder per name and warehouse, across threads and processes; a clear
refusal naming the holder; bounded waits; no collision between schemas; stale rows taken over."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from promosync.connectors import stopping
from promosync.connectors.locks import LOCKS, WarehouseBusy, warehouse_lock
from promosync.connectors.warehouse import Warehouse

from tests.conftest import POSTGRES_URL

HOLD = """
import sys, time
from promosync.connectors.locks import warehouse_lock
from promosync.connectors.warehouse import Warehouse

from tests.conftest import POSTGRES_URL
with warehouse_lock(Warehouse(sys.argv[1]), "push:test:held", 0):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(url: str, seconds: float) -> subprocess.Popen:
    """Another process holding `push:test:held` on `url` for `seconds` (once it printed)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_holder_in_another_thread_is_refused_with_the_holder_named(warehouse) -> None:
    refused: list[str] = []

    def contender() -> None:
        other = Warehouse(warehouse.url)
        try:
            with warehouse_lock(other, "push:test:a", 0):
                refused.append("acquired")
        except WarehouseBusy as busy:
            refused.append(str(busy))
        finally:
            other.dispose()

    with warehouse_lock(warehouse, "push:test:a", 0):
        thread = threading.Thread(target=contender, name="contender")
        thread.start()
        thread.join()
    (message,) = refused
    assert re.fullmatch(
        r"the lock 'push:test:a' is held by promosync push:test:a \(pid \d+ on [^)]+\)[^;]*;"
        r" waited 0\.0 s for it\. Try again once that run has finished, or allow a longer wait",
        message,
    ), message
    assert f"pid {os.getpid()}" in message


def test_another_name_is_not_held_and_a_released_lock_is_free_again(warehouse) -> None:
    with warehouse_lock(warehouse, "push:test:a", 0), warehouse_lock(warehouse, "push:test:b", 0):
        pass
    with warehouse_lock(warehouse, "push:test:a", 0):
        pass


def test_a_waiter_gets_the_lock_once_the_holder_releases_it(warehouse) -> None:
    released = threading.Event()
    order: list[str] = []

    def holder() -> None:
        with warehouse_lock(warehouse, "push:test:wait", 0):
            order.append("held")
            released.wait(10)
            time.sleep(0.3)
            order.append("released")

    thread = threading.Thread(target=holder)
    thread.start()
    while not order:
        time.sleep(0.01)
    other = Warehouse(warehouse.url)
    released.set()
    started = time.monotonic()
    with warehouse_lock(other, "push:test:wait", 10):
        order.append("waiter")
    thread.join()
    other.dispose()
    assert order == ["held", "released", "waiter"]
    assert time.monotonic() - started < 5


def test_a_stop_asked_for_ends_the_wait(warehouse) -> None:
    stopping.reset()
    with warehouse_lock(warehouse, "push:test:stop", 0):
        other = Warehouse(warehouse.url)
        timer = threading.Timer(0.3, stopping.request_stop)
        timer.start()
        started = time.monotonic()
        with pytest.raises(stopping.StopRequested), warehouse_lock(other, "push:test:stop", 30):
            pass
        other.dispose()
    stopping.reset()
    assert time.monotonic() - started < 5


def test_another_process_holding_the_lock_is_named(warehouse) -> None:
    warehouse.dispose()  # DuckDB: let the other process open the file
    holder = _holder(warehouse.url, 30)
    try:
        with pytest.raises(WarehouseBusy) as refused, warehouse_lock(warehouse, "push:test:held"):
            pass
    finally:
        holder.kill()
        holder.wait()
    message = str(refused.value)
    if warehouse.dialect == "duckdb":
        assert message.startswith(
            f"the warehouse {warehouse.url} is in use by another process (PID {holder.pid}, python"
        )
        assert (
            "another promosync run, or a DuckDB client); DuckDB lets one process open a file;"
            in (message)
        )
    else:
        assert message.startswith(
            f"the lock 'push:test:held' is held by promosync push:test:held (pid {holder.pid} on"
        )
    assert message.endswith("Try again once that run has finished, or allow a longer wait")
    # The holder was killed: its lock went with it (no stale lock on either database).
    with warehouse_lock(warehouse, "push:test:held", 10):
        pass


def test_two_postgresql_schemas_never_share_a_lock() -> None:
    schemas = [f"t_lock_{os.getpid()}_{n}" for n in (1, 2)]
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        for schema in schemas:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    first, second = (Warehouse(f"{POSTGRES_URL}?options=-csearch_path%3D{s}") for s in schemas)
    try:
        with (
            warehouse_lock(first, "push:test:same"),
            warehouse_lock(second, "push:test:same"),  # the same name in another schema: free
            pytest.raises(WarehouseBusy),  # and in the same schema: held
            warehouse_lock(Warehouse(first.url), "push:test:same"),
        ):
            pass
    finally:
        first.dispose()
        second.dispose()
        with admin.begin() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_two_duckdb_files_never_share_a_lock(tmp_path) -> None:
    first = Warehouse(f"duckdb:///{tmp_path / 'a.duckdb'}")
    second = Warehouse(f"duckdb:///{tmp_path / 'b.duckdb'}")
    with warehouse_lock(first, "push:test:same", 0), warehouse_lock(second, "push:test:same", 0):
        pass
    first.dispose()
    second.dispose()


# --- any other database: a lock row --------------------------------------------------------


@pytest.fixture
def sqlite_warehouse(tmp_path) -> Warehouse:
    store = Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    yield store
    store.dispose()


def test_a_lock_row_refuses_another_process_and_is_gone_after_release(sqlite_warehouse) -> None:
    holder = _holder(sqlite_warehouse.url, 30)
    try:
        with (
            pytest.raises(WarehouseBusy) as refused,
            warehouse_lock(sqlite_warehouse, "push:test:held", 0.3),
        ):
            pass
    finally:
        holder.terminate()
        holder.wait()
    assert str(refused.value).startswith(
        f"the lock 'push:test:held' is held by promosync push:test:held (pid {holder.pid} on"
    )
    assert "waited 0.3 s for it" in str(refused.value)
    names = sa.select(LOCKS.c.name)
    with (
        warehouse_lock(sqlite_warehouse, "push:test:mine", 0),
        sqlite_warehouse.engine.connect() as c,
    ):
        assert "push:test:mine" in c.execute(names).scalars().all()
    with sqlite_warehouse.engine.connect() as conn:
        assert "push:test:mine" not in conn.execute(names).scalars().all()


def test_a_lock_row_whose_holder_died_is_taken_over_once_expired(sqlite_warehouse) -> None:
    LOCKS.create(sqlite_warehouse.engine, checkfirst=True)
    now = datetime.now(UTC)
    with sqlite_warehouse.engine.begin() as conn:
        conn.execute(
            sa.insert(LOCKS).values(
                name="push:test:dead",
                holder="promosync (pid 1 on gone)",
                acquired_at=now - timedelta(hours=1),
                expires_at=now + timedelta(seconds=1),
            )
        )
    dead = r"held by promosync \(pid 1 on gone\)"
    with (
        pytest.raises(WarehouseBusy, match=dead),
        warehouse_lock(sqlite_warehouse, "push:test:dead"),
    ):
        pass
    with warehouse_lock(sqlite_warehouse, "push:test:dead", 5):  # expires within the wait
        pass
