"""The Dagster definitions load, and the pull job runs against the sandbox with useful metadata."""

from __future__ import annotations

import dagster as dg
import pytest
from promosync.connectors.warehouse import Warehouse
from promosync.pipelines import run
from promosync.pipelines.definitions import defs

STREAMS = {
    "voucherify_customers",
    "voucherify_customer_activities",
    "voucherify_customer_segments",
    "voucherify_loyalty_transactions",
}


def test_definitions_load_with_described_assets_jobs_and_stopped_schedules() -> None:
    repository = defs.get_repository_def()
    assets = {key.to_user_string(): spec for key, spec in repository.assets_defs_by_key.items()}
    assert set(assets) >= STREAMS
    for name in STREAMS:
        asset = assets[name]
        key = dg.AssetKey(name)
        assert asset.descriptions_by_key[key], f"{name} has no description"
        assert asset.group_names_by_key[key] == "voucherify"
        assert {"api", "sql"} <= set(asset.specs_by_key[key].kinds)
    for job in ("voucherify_pull", "voucherify_reconcile"):
        assert defs.resolve_job_def(job)
    for schedule in repository.schedule_defs:
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


@pytest.fixture
def configured(sandbox, tmp_path, monkeypatch):
    """The environment a user sets, pointing at the sandbox and a fresh DuckDB file."""
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    monkeypatch.setenv("VOUCHERIFY_BASE_URL", sandbox.voucherify_url)
    monkeypatch.setenv("VOUCHERIFY_APP_ID", sandbox.settings.voucherify_app_id)
    monkeypatch.setenv("VOUCHERIFY_APP_TOKEN", sandbox.settings.voucherify_app_token)
    monkeypatch.setenv("WAREHOUSE_URL", url)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return url


def test_pull_job_materializes_every_stream_with_metadata(configured, voucherify_admin) -> None:
    summaries = {s.stream: s.metadata for s in run.run_pull("voucherify")}
    assert set(summaries) == STREAMS
    customers = summaries["voucherify_customers"]
    assert customers["inserted"] == 300
    assert customers["requests"] >= 3 and customers["rate_limited"] == 0
    assert customers["cursor_after"] and "cursor_before" not in customers  # first run
    assert summaries["voucherify_customer_activities"]["entities"] == 300
    served = voucherify_admin.get("/_sandbox/stats").json()["total"]
    assert served == sum(m["requests"] for m in summaries.values())


def test_backfill_needs_both_ends_in_order(configured) -> None:
    with pytest.raises(RuntimeError, match=r"backfill_start .* must be before backfill_end"):
        run.run_pull("voucherify", backfill=("2025-02-01T00:00:00Z", "2025-01-01T00:00:00Z"))


def test_reconcile_job_marks_deleted_customers(configured, voucherify_admin) -> None:
    run.run_pull("voucherify")
    voucherify_admin.post("/_sandbox/mutate", json={"delete_customers": 3}).raise_for_status()
    with run.instance() as instance:
        result = defs.resolve_job_def("voucherify_reconcile").execute_in_process(instance=instance)
    (materialization,) = result.asset_materializations_for_node("voucherify_customers")
    assert materialization.metadata["deleted"].value == 3


def test_wrong_credentials_fail_the_run_with_a_clear_message(configured, monkeypatch) -> None:
    monkeypatch.setenv("VOUCHERIFY_APP_TOKEN", "wrong-s3cret")
    with pytest.raises(RuntimeError, match="HTTP 401") as raised:
        run.run_pull("voucherify")
    assert "wrong-s3cret" not in str(raised.value)


def test_a_pull_past_its_budget_succeeds_deferring_the_rest_and_the_ledger_counts_it(
    configured, voucherify_admin, monkeypatch
) -> None:
    # A first load may spend 10 % of a 200-request cycle: 20 requests for the whole run.
    monkeypatch.setenv("PROMOSYNC_VOUCHERIFY_REQUESTS_PER_CYCLE", "200")
    monkeypatch.setenv("PROMOSYNC_VOUCHERIFY_FIRST_LOAD_SHARE", "0.1")
    summaries = {s.stream: s.metadata for s in run.run_pull("voucherify")}
    served = voucherify_admin.get("/_sandbox/stats").json()["total"]
    assert served == sum(m["requests"] for m in summaries.values()) <= 20
    activities = summaries["voucherify_customer_activities"]
    assert activities["deferred"] == 300 - activities["entities"] > 0
    assert "deferred to the next run" in activities["warning"]
    assert activities["cycle_cap"] == 20 and activities["cycle_spent"] <= 20
    # Segments come from the visited customers' events: those wait with the sample unread.
    assert summaries["voucherify_customer_segments"]["deferred"] == activities["entities"]
    ledger = Warehouse(configured).query(
        "SELECT SUM(requests) AS sent, SUM(reserved) AS reserved FROM request_ledger"
    )
    assert (ledger[0]["sent"], ledger[0]["reserved"]) == (served, 0)
