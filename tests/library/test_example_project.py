"""examples/acme-analytics, a user's own Dagster project that adds promosync through its
Component: `dg list defs` shows promosync's definitions beside the project's own, and its jobs
bring the sandbox's data into the warehouse exactly, with the project's own asset downstream.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from promosync.connectors.warehouse import Warehouse

from tests.reliability.checks import talon_one_parity, voucherify_parity
from tests.reliability.cli import small

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "acme-analytics"
DG = Path(sys.executable).with_name("dg")


@pytest.fixture
def environment(sandbox, tmp_path, monkeypatch) -> dict[str, str]:
    """What the project's user sets: the sandbox's URLs and keys, a DuckDB file, DAGSTER_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    settings = sandbox.settings
    env = {
        "VOUCHERIFY_BASE_URL": sandbox.voucherify_url,
        "VOUCHERIFY_APP_ID": settings.voucherify_app_id,
        "VOUCHERIFY_APP_TOKEN": settings.voucherify_app_token,
        "TALON_ONE_BASE_URL": sandbox.talon_one_url,
        "TALON_ONE_API_KEY": settings.talon_one_api_key,
        "TALON_ONE_MANAGEMENT_KEY": settings.talon_one_management_key,
        "WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "DAGSTER_HOME": str(home),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(PROJECT / "src"))
    return env


def test_dg_lists_promosync_beside_the_projects_own_definitions(environment) -> None:
    listed = subprocess.run(
        [str(DG), "list", "defs", "--json"],
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assets = {asset["asset_key"]: asset for asset in found["assets"]}
    assert assets["customers_with_email"]["dependency_keys"] == ["promosync/voucherify_customers"]
    assert assets["promosync/voucherify_customer_activities"]["dependency_keys"] == [
        "promosync/voucherify_customers"
    ]
    assert assets["promosync/voucherify_customers"]["group_name"] == "promosync_voucherify"
    checks = {check["key"] for check in found["asset_checks"]}
    assert "promosync/voucherify_customers:primary_key_unique" in checks
    assert {job["name"] for job in found["jobs"]} >= {
        "promosync_voucherify_pull",
        "promosync_talon_one_pull",
        "promosync_checks",
    }
    assert "promosync_voucherify_pull_hourly" in {s["name"] for s in found["schedules"]}
    assert {r["name"] for r in found["resources"]} >= {"warehouse", "promosync_warehouse"}


def test_the_projects_jobs_sync_both_platforms_exactly(
    environment, sandbox, voucherify_admin, talon_one_admin
) -> None:
    from acme_analytics.definitions import defs as load  # the project's own entry point

    small(sandbox, 40)  # the wiring is under test here, not the paging

    defs = load()
    dg.Definitions.validate_loadable(defs)
    with dg.DagsterInstance.ephemeral() as instance:
        for job in ("promosync_voucherify_pull", "promosync_talon_one_pull"):
            result = defs.resolve_job_def(job).execute_in_process(instance=instance)
            assert result.success
        own = defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection={dg.AssetKey("customers_with_email")}
        )
        result = own.execute_in_process(instance=instance)
    (materialization,) = result.asset_materializations_for_node("customers_with_email")
    store = Warehouse(environment["WAREHOUSE_URL"])
    try:
        with_email = store.query(
            "SELECT count(*) AS n FROM voucherify_customers"
            " WHERE _deleted_at IS NULL AND email IS NOT NULL"
        )[0]["n"]
        assert materialization.metadata["rows"].value == with_email > 0
        for verdict in (
            voucherify_parity(voucherify_admin, store),
            talon_one_parity(talon_one_admin, store),
        ):
            assert verdict.lost == verdict.duplicated == verdict.stale == 0, str(verdict)
    finally:
        store.dispose()
