"""Several processes creating promosync's tables, then its views, at once on an empty
PostgreSQL schema (a multiprocess Dagster run's first steps, two first syncs): every one
succeeds. Without the warehouse's DDL lock, `CREATE TABLE IF NOT EXISTS` and `CREATE OR REPLACE
VIEW` race in PostgreSQL's catalog (`duplicate key value violates unique constraint
"pg_type_typname_nsp_index"`).
"""

from __future__ import annotations

import multiprocessing
import uuid

import pytest
import sqlalchemy as sa
from promosync.connectors.views import create_views
from promosync.connectors.warehouse import Warehouse

from tests.conftest import POSTGRES_URL

PROCESSES = 4
ROUNDS = 3


def create_tables_after(url: str, start: multiprocessing.synchronize.Barrier) -> None:
    """Wait for the others, create the tables, wait again, create the analyst views: the
    process's exit code says if either failed."""
    store = Warehouse(url)
    with store.engine.connect():  # connected before the barrier: the DDL itself starts together
        start.wait(timeout=30)
        store.create_tables()
        start.wait(timeout=30)
        create_views(store)
    store.dispose()


@pytest.mark.postgres
def test_processes_creating_tables_and_views_at_once_all_succeed() -> None:
    context = multiprocessing.get_context("fork")
    admin = sa.create_engine(POSTGRES_URL)
    try:
        for _ in range(ROUNDS):
            schema = f"race_{uuid.uuid4().hex[:12]}"
            with admin.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
            start = context.Barrier(PROCESSES)
            racers = [
                context.Process(target=create_tables_after, args=(url, start))
                for _ in range(PROCESSES)
            ]
            for racer in racers:
                racer.start()
            for racer in racers:
                racer.join(timeout=60)
            assert [racer.exitcode for racer in racers] == [0] * PROCESSES
            with admin.connect() as conn:
                created = (
                    conn.exec_driver_sql(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                        (schema,),
                    )
                    .scalars()
                    .all()
                )
            assert {"sync_state", "voucherify_customers", "customer_360"} <= set(created)
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()
