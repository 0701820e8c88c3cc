"""`promosync status`: healthy warehouse exits 0; a stale stream or old pending push exits 1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
import typer
from promosync.connectors import visits
from promosync.connectors.budget import BudgetSettings
from promosync.connectors.voucherify import sync
from promosync.connectors.voucherify.client import voucherify_client
from promosync.connectors.warehouse import Warehouse
from promosync.pipelines.status_cli import status
from typer.testing import CliRunner

from tests.conftest import POSTGRES_URL
from tests.pipelines.test_checks import drop_primary_key, duplicate_rows, open_push_job

app = typer.Typer()
app.command()(status)  # as pipelines/cli.py registers it


@app.callback()
def main() -> None:
    """promosync."""


def lines_of(output: str) -> dict[str, str]:
    """Output lines by their first word (a stream's row by its name)."""
    return {line.split()[0]: line for line in output.splitlines() if line.strip()}


def test_healthy_warehouse_exits_zero(sandbox, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = sandbox.settings
    app_keys = (sandbox.voucherify_url, settings.voucherify_app_id, settings.voucherify_app_token)
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    store = Warehouse(url)
    store.create_tables()
    sync.sync_customers(voucherify_client(*app_keys), store)
    store.dispose()
    for name, value in zip(
        ("VOUCHERIFY_BASE_URL", "VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN"), app_keys, strict=True
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WAREHOUSE_URL", url)

    result = CliRunner().invoke(app, ["status"])

    assert result.exit_code == 0, result.output
    rows = lines_of(result.output)
    assert rows["voucherify_customers"].split()[-2:] == ["300", "ok"]
    assert rows["talon_one_loyalty_programs"].endswith("never synced")
    assert "failed checks  none" in result.output and result.output.rstrip().endswith("ok")
    assert settings.voucherify_app_token not in result.output


def test_stale_stream_pending_push_and_duplicates_exit_nonzero(
    warehouse: Warehouse, monkeypatch
) -> None:
    for name in (
        "VOUCHERIFY_BASE_URL",
        "VOUCHERIFY_APP_ID",
        "VOUCHERIFY_APP_TOKEN",
        "DAGSTER_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    now = datetime.now(UTC)
    cursors = {("voucherify_customers", ""): "2025-06-01T00:00:00.000Z"}
    customer = {"id": "cust_1", "_raw": {}, "_synced_at": now - timedelta(hours=5)}
    warehouse.write_batch("voucherify_customers", ["id"], [customer], cursors)
    with warehouse.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE sync_state SET updated_at = :at"), {"at": now - timedelta(hours=5)}
        )
    programs = [{"id": i, "_raw": {}, "_synced_at": now - timedelta(minutes=5)} for i in (1, 2)]
    warehouse.write_batch("talon_one_loyalty_programs", ["id"], programs)
    drop_primary_key(warehouse, "talon_one_loyalty_programs")
    duplicate_rows(warehouse, "talon_one_loyalty_programs", "id = 2")
    open_push_job(warehouse, "metadata", now - timedelta(hours=3))
    monkeypatch.setenv("WAREHOUSE_URL", warehouse.url)

    result = CliRunner().invoke(app, ["status", "--max-age", "2h"])

    assert result.exit_code == 1, result.output
    rows = lines_of(result.output)
    assert rows["voucherify_customers"].split()[1] == "2025-06-01T00:00:00.000Z"
    assert rows["voucherify_customers"].split()[-3:] == ["5h", "1", "STALE"]
    assert rows["talon_one_loyalty_programs"].split()[-2:] == ["3", "ok"]
    assert "pending pushes  1 pending push job(s), oldest 3h (voucherify metadata" in result.output
    assert "FAIL  fresh: voucherify_customers: last synced 5h ago (> 2h)" in result.output
    assert "FAIL  primary_key_unique: talon_one_loyalty_programs: 1 key(s)" in result.output
    assert "FAIL  pending_pushes:" in result.output
    assert result.output.rstrip().endswith("needs attention")


def test_a_run_that_changed_nothing_still_counts_as_a_sync(tmp_path, monkeypatch) -> None:
    store = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    store.create_tables()
    customer = {"id": "cust_1", "_raw": {}, "_synced_at": datetime(2025, 1, 1, tzinfo=UTC)}
    cursor = {("voucherify_customers", ""): "2025-01-01T00:00:00.000Z"}
    store.write_batch("voucherify_customers", ["id"], [customer], cursor)
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE sync_state SET updated_at = :at"), {"at": datetime(2025, 1, 1)}
        )
    store.dispose()
    monkeypatch.setenv("WAREHOUSE_URL", store.url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert CliRunner().invoke(app, ["status"]).exit_code == 1
    with dg.DagsterInstance.get() as instance:  # an hourly run that found no changed customer
        instance.report_runless_asset_event(dg.AssetMaterialization("voucherify_customers"))

    result = CliRunner().invoke(app, ["status"])

    assert result.exit_code == 0, result.output
    assert lines_of(result.output)["voucherify_customers"].split()[-3:] == ["0s", "1", "ok"]


@pytest.mark.parametrize("arguments", [["--max-age", "soon"], ["--pending-max-age", "2 weeks"]])
def test_bad_duration_is_refused(arguments, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'w.duckdb'}")
    result = CliRunner().invoke(app, ["status", *arguments])
    assert result.exit_code == 2 and "is not a duration such as 30m, 2h or 1d" in result.output


def test_missing_warehouse_needs_attention_and_is_not_created(tmp_path, monkeypatch) -> None:
    path = tmp_path / "nowhere" / "warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{path}")
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 1 and "does not exist: run `promosync sync` first" in result.output
    assert not path.exists()


@pytest.fixture
def synced_file(sandbox, tmp_path, monkeypatch) -> str:
    """A DuckDB warehouse holding every Voucherify customer, synced just now; its URL set."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = sandbox.settings
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    store = Warehouse(url)
    store.create_tables()
    client = voucherify_client(
        sandbox.voucherify_url, settings.voucherify_app_id, settings.voucherify_app_token
    )
    sync.sync_customers(client, store)
    store.dispose()
    monkeypatch.setenv("WAREHOUSE_URL", url)
    monkeypatch.setenv("VOUCHERIFY_BASE_URL", sandbox.voucherify_url)
    monkeypatch.setenv("VOUCHERIFY_APP_ID", settings.voucherify_app_id)
    monkeypatch.setenv("VOUCHERIFY_APP_TOKEN", settings.voucherify_app_token)
    return url


@pytest.mark.parametrize(
    ("deleted", "tolerance", "code"), [(10, "5", 0), (30, "5", 1), (287, "5", 1), (30, "20", 0)]
)
def test_a_count_gap_over_the_tolerance_needs_attention(
    synced_file, voucherify_admin, deleted: int, tolerance: str, code: int
) -> None:
    voucherify_admin.post("/_sandbox/mutate", json={"delete_customers": deleted})

    result = CliRunner().invoke(app, ["status", "--count-tolerance", tolerance])

    assert result.exit_code == code, result.output
    gap = f"voucherify_customers: 300 live rows, the API reports {300 - deleted}"
    if code:
        assert f"FAIL  count_matches_api: {gap} (off by {deleted}, over {tolerance} %)" in (
            result.output
        )
        assert "run `promosync sync --only voucherify_customers`" in result.output
    else:
        assert "count_matches_api" not in result.output


def test_status_reads_a_read_only_warehouse(synced_file, monkeypatch) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", f"{synced_file}?access_mode=read_only")
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert lines_of(result.output)["voucherify_customers"].split()[-2:] == ["300", "ok"]


def test_status_while_another_process_holds_the_file_says_so(synced_file) -> None:
    path = synced_file.removeprefix("duckdb:///")
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({path!r}); print(1);"
         " sys.stdout.flush(); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "1"  # the lock is held, as by a sync
        result = CliRunner().invoke(app, ["status"])
    finally:
        holder.communicate(timeout=30)
    assert result.exit_code == 75
    python = os.path.realpath(sys.executable)  # as DuckDB names the holder
    assert result.output.strip() == (
        f"warehouse {synced_file} is in use by another process ({python}, PID"
        f" {holder.pid}; a sync?): DuckDB lets no other process read it meanwhile; run"
        " `promosync status` again when it ends"
    )


@pytest.mark.parametrize("url", ["duckdb:///", "duckdb:///:memory:"])
def test_status_refuses_a_warehouse_that_does_not_persist(url, monkeypatch) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", url)
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 1
    assert result.output.startswith(f"warehouse {url}: WAREHOUSE_URL '{url}' names no database")
    assert "Traceback" not in result.output


def test_status_reads_with_a_role_that_may_only_select(monkeypatch) -> None:
    schema, role = f"t_{uuid.uuid4().hex[:12]}", f"reader_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    owner = Warehouse(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    owner.create_tables()
    customer = {"id": "cust_1", "_raw": {}, "_synced_at": datetime.now(UTC)}
    cursor = {("voucherify_customers", ""): "2025-06-01T00:00:00.000Z"}
    owner.write_batch("voucherify_customers", ["id"], [customer], cursor)
    owner.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
    for name in ("VOUCHERIFY_BASE_URL", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    reader = POSTGRES_URL.replace("postgres@", f"{role}@")
    monkeypatch.setenv("WAREHOUSE_URL", f"{reader}?options=-csearch_path%3D{schema}")
    try:
        result = CliRunner().invoke(app, ["status"])
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()
    assert result.exit_code == 0, result.output
    assert lines_of(result.output)["voucherify_customers"].split()[-2:] == ["1", "ok"]


def test_status_shows_the_cycle_s_spend_projection_and_deferred_visits(tmp_path, monkeypatch):
    for name in ("VOUCHERIFY_BASE_URL", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    monkeypatch.setenv("WAREHOUSE_URL", url)
    monkeypatch.setenv("PROMOSYNC_VOUCHERIFY_REQUESTS_PER_CYCLE", "1000")  # share 20 %: 200
    settings = BudgetSettings.from_env()
    now = datetime.now(UTC)
    start, end = settings.cycle(now)
    store = Warehouse(url)
    store.create_tables()
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO request_ledger VALUES (:start, 'api.example.com/app-1', 's', 'r',"
                " 170, 0, :now)"
            ),
            {"start": start, "now": now},
        )
    changed = now - timedelta(hours=3, minutes=5)
    visits.enqueue(store, "voucherify_customer_activities", [("c1", changed), ("c2", now)], "x")
    store.dispose()

    output = CliRunner().invoke(app, ["status"]).output

    assert "share 20% = 200 requests" in output
    spent = re.search(r"api\.example\.com/app-1  spent 170 \(85%\), projected ([\d,]+) by", output)
    assert spent, output
    assert int(spent[1].replace(",", "")) == pytest.approx(170 * (end - start) / (now - start), 1)
    assert "WARN  budget: 170 of the share's 200 requests spent this cycle (85%)" in output
    assert "voucherify_customer_activities  2 waiting, oldest change 3h 5m ago" in output
    monkeypatch.setenv("PROMOSYNC_VOUCHERIFY_SHARE", "20%")
    bad = CliRunner().invoke(app, ["status"])
    assert bad.exit_code == 1
    assert "FAIL  budget: PROMOSYNC_VOUCHERIFY_SHARE='20%' is not a number, e.g. 0.2" in bad.output
