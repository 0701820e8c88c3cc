"""The push CLI (dry run), the push assets and jobs, and the resume sensor."""

from __future__ import annotations

import dagster as dg
import pytest
from promosync.connectors.warehouse import Warehouse
from promosync.pipelines.push_assets import PUSH_ASSETS, PUSH_JOBS, PUSH_SENSORS, resume_request
from promosync.pipelines.push_cli import push_app
from promosync.pipelines.resources import default_resources
from promosync.pipelines.talon_one_assets import talon_one_resources
from typer.testing import CliRunner

from tests.connectors.test_push_voucherify import insert


@pytest.fixture
def configured(sandbox, voucherify_admin, tmp_path, monkeypatch):
    voucherify_admin.put("/_sandbox/config", json={"async_action_seconds": 0.2})
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    settings = sandbox.settings
    monkeypatch.setenv("VOUCHERIFY_BASE_URL", sandbox.voucherify_url)
    monkeypatch.setenv("VOUCHERIFY_APP_ID", settings.voucherify_app_id)
    monkeypatch.setenv("VOUCHERIFY_APP_TOKEN", settings.voucherify_app_token)
    monkeypatch.setenv("TALON_ONE_BASE_URL", sandbox.talon_one_url)
    monkeypatch.setenv("TALON_ONE_API_KEY", settings.talon_one_api_key)
    monkeypatch.setenv("WAREHOUSE_URL", url)
    store = Warehouse(url)
    store.create_tables()
    insert(
        store,
        "push_voucherify_metadata",
        [{"source_id": f"d-{i}", "metadata": f'{{"n": {i}}}'} for i in range(12)],
    )
    store.dispose()
    return url


def test_dry_run_prints_batches_and_sends_nothing(configured, voucherify_admin, talon_one_admin):
    before = voucherify_admin.get("/_sandbox/stats").json()["total"]
    result = CliRunner().invoke(push_app, ["metadata", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "batch 1: POST /v1/customers/bulk/async — 12 rows" in result.output
    assert "dry_run" in result.output
    assert voucherify_admin.get("/_sandbox/stats").json()["total"] == before
    result = CliRunner().invoke(push_app, ["talon-profiles", "--dry-run"])
    assert result.exit_code == 0 and talon_one_admin.get("/_sandbox/stats").json()["total"] == 0


def test_cli_push_then_nothing_left(configured, voucherify_admin) -> None:
    first = CliRunner().invoke(push_app, ["metadata"])
    assert first.exit_code == 0 and "succeeded" in first.output and "sent 12" in first.output
    second = CliRunner().invoke(push_app, ["metadata", "--force", "--query", "voucherify_metadata"])
    assert "sent 12" in second.output
    unknown = CliRunner().invoke(push_app, ["metadata", "--query", "nope"])
    assert unknown.exit_code == 1 and "no push query 'nope'" in unknown.output


def definitions() -> dg.Definitions:
    resources = {**default_resources(), **talon_one_resources()}
    return dg.Definitions(
        assets=PUSH_ASSETS, jobs=PUSH_JOBS, sensors=PUSH_SENSORS, resources=resources
    )


def test_push_job_materializes_with_counts(configured) -> None:
    result = (
        definitions()
        .resolve_job_def("voucherify_push")
        .execute_in_process(
            run_config={
                "ops": {
                    "voucherify_push_csv_import": {"config": {"dry_run": True}},
                    "voucherify_push_customers": {"config": {"dry_run": True}},
                }
            },
        )
    )
    (materialization,) = result.asset_materializations_for_node("voucherify_push_metadata")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert (metadata["rows_sent"], metadata["outcome"]) == (12, "succeeded")


def test_resume_sensor_requests_a_resume_only_run_once() -> None:
    skip, cursor = resume_request({}, None, 1000.0)
    assert isinstance(skip, dg.SkipReason) and "no pending" in skip.skip_message
    request, cursor = resume_request({"metadata": ["aa_1"]}, None, 1000.0)
    assert isinstance(request, dg.RunRequest)
    assert request.run_config["ops"]["voucherify_push_metadata"]["config"] == {"resume_only": True}
    again, same = resume_request({"metadata": ["aa_1"]}, cursor, 1060.0)
    assert isinstance(again, dg.SkipReason) and "waiting" in again.skip_message and same == cursor
    assert isinstance(resume_request({"metadata": ["aa_1"]}, cursor, 2000.0)[0], dg.RunRequest)
