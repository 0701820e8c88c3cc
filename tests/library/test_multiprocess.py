"""promosync's assets under Dagster's multiprocess executor, every step in its own process: on
PostgreSQL several start at once on an empty schema and the warehouse ends in exact parity; on
an embedded DuckDB file the warehouse's concurrency pool, limited to 1 in the instance, lets one
step at a time use it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import dagster as dg
import pytest
import sqlalchemy as sa
from promosync.connectors.warehouse import Warehouse

from promosync import build_definitions
from tests.conftest import POSTGRES_URL
from tests.reliability.checks import voucherify_parity
from tests.reliability.cli import small

JOB = "mp_voucherify_pull"


def pull_job() -> dg.JobDefinition:
    """The job each step's process rebuilds (a reconstructable target lives at module level)."""
    defs = build_definitions(platforms=["voucherify"], key_prefix="mp", schedules="none")
    return defs.resolve_job_def(JOB)


def duckdb_job() -> dg.JobDefinition:
    """Two Voucherify streams that depend on nothing: the executor would run them together."""
    streams = ["voucherify_customers", "voucherify_loyalty_transactions"]
    defs = build_definitions(streams=streams, push=False, views=False, schedules="none")
    return defs.resolve_job_def("voucherify_pull")


@pytest.fixture
def schema_url(sandbox, monkeypatch) -> Iterator[str]:
    """An empty PostgreSQL schema (no promosync table yet) and the sandbox in the environment."""
    small(sandbox, 40)
    schema = f"mp_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    settings = sandbox.settings
    monkeypatch.setenv("VOUCHERIFY_BASE_URL", sandbox.voucherify_url)
    monkeypatch.setenv("VOUCHERIFY_APP_ID", settings.voucherify_app_id)
    monkeypatch.setenv("VOUCHERIFY_APP_TOKEN", settings.voucherify_app_token)
    monkeypatch.setenv("WAREHOUSE_URL", url)
    yield url
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.mark.postgres
def test_each_step_in_its_own_process_reaches_parity(schema_url, voucherify_admin, tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.execute_job(
            dg.reconstructable(pull_job),
            instance=instance,
            run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 4}}}},
        )
        assert result.success
        materialized = result.get_asset_materialization_events()
    assert {event.asset_key.path[-1] for event in materialized} == {
        "voucherify_customers",
        "voucherify_customer_activities",
        "voucherify_customer_segments",
        "voucherify_loyalty_transactions",
    }
    processes = {event.pid for event in materialized}
    assert os.getpid() not in processes and len(processes) == len(materialized)
    store = Warehouse(schema_url)
    try:
        verdict = voucherify_parity(voucherify_admin, store)
    finally:
        store.dispose()
    assert verdict.lost == verdict.duplicated == verdict.stale == 0, str(verdict)


def test_on_duckdb_the_pool_lets_one_step_at_a_time_use_the_file(sandbox, monkeypatch, tmp_path):
    small(sandbox, 40)
    settings = sandbox.settings
    monkeypatch.setenv("VOUCHERIFY_BASE_URL", sandbox.voucherify_url)
    monkeypatch.setenv("VOUCHERIFY_APP_ID", settings.voucherify_app_id)
    monkeypatch.setenv("VOUCHERIFY_APP_TOKEN", settings.voucherify_app_token)
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    limit = {"concurrency": {"pools": {"default_limit": 1}}}
    home = tmp_path / "home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home), overrides=limit) as instance:
        result = dg.execute_job(dg.reconstructable(duckdb_job), instance=instance)
        assert result.success
        events = result.all_events
    # Dagster held a step back for the pool, then ran each in its own process, one after the other.
    held = [
        e for e in events if "blocked by limit for pool promosync_warehouse" in (e.message or "")
    ]
    assert held
    steps = [e for e in events if e.is_step_start or e.is_step_success]
    assert [e.event_type_value for e in steps] == ["STEP_START", "STEP_SUCCESS"] * 2
    assert steps[0].step_key == steps[1].step_key != steps[2].step_key == steps[3].step_key
    assert steps[0].pid != steps[2].pid
