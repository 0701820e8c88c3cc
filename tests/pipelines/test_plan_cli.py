"""`promosync plan`: the shipped schedules as the forecast counts them, and its answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from promosync.connectors.warehouse import Warehouse
from promosync.pipelines.cli import app
from promosync.pipelines.plan_cli import scheduled_jobs
from typer.testing import CliRunner


def test_the_shipped_schedules_read_voucherify_hourly_and_nightly_with_no_full_sweep():
    jobs = {job.schedule: job for job in scheduled_jobs([])}
    assert set(jobs) == {"voucherify_pull_hourly", "voucherify_reconcile_nightly"}
    assert jobs["voucherify_pull_hourly"].runs_per_cycle == 720
    assert len(jobs["voucherify_pull_hourly"].streams) == 4
    assert jobs["voucherify_reconcile_nightly"].runs_per_cycle == 30
    assert jobs["voucherify_reconcile_nightly"].reconcile
    assert not any(job.full_sweep for job in jobs.values())


def test_plan_on_an_empty_warehouse_asks_for_the_sizes_then_forecasts_them(tmp_path, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'none.duckdb'}")
    monkeypatch.setenv("PROMOSYNC_VOUCHERIFY_PLAN", "organization")
    runner = CliRunner()
    asked = runner.invoke(app, ["plan"])
    assert asked.exit_code == 2
    assert "give --customers N --changed-per-day 1%" in asked.output
    given = ["plan", "--customers", "10000", "--changed-per-day", "1%", "--campaigns", "3"]
    fits = runner.invoke(app, given)
    assert fits.exit_code == 0, fits.output
    assert "of the share's 60,000" in fits.output and ": fits" in fits.output
    assert "first load" in fits.output  # nothing synced yet: the first load is forecast too
    over = runner.invoke(app, [*given[:2], "100000", "--changed-per-day", "2%", *given[5:]])
    assert over.exit_code == 1 and "does NOT fit" in over.output and "advice:" in over.output
    bad = runner.invoke(app, [*given[:4], "lots"])
    assert bad.exit_code == 2 and "'lots' is not a share such as 1% or 0.01" in bad.output


def test_plan_reads_the_sizes_and_the_change_rate_from_the_warehouse(tmp_path, monkeypatch):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    monkeypatch.setenv("WAREHOUSE_URL", url)
    monkeypatch.setenv("PROMOSYNC_VOUCHERIFY_PLAN", "business")
    now = datetime.now(UTC)
    store = Warehouse(url)
    store.create_tables()
    customers = [
        {"id": f"c{n}", "updated_at": now - timedelta(days=1 if n < 14 else 30), "_raw": {},
         "_synced_at": now}
        for n in range(100)
    ]  # fmt: skip
    cursor = {("voucherify_customers", ""): "2026-01-01T00:00:00.000Z"}
    store.write_batch("voucherify_customers", ["id"], customers, cursor)
    store.dispose()
    result = CliRunner().invoke(app, ["plan"])
    assert result.exit_code == 0, result.output
    # 14 of 100 changed in the last 7 days: 2 % a day; synced once: no first-load forecast.
    assert (
        "workload  100 customers, 2.00% changing a day (60 a cycle), 0 campaigns" in result.output
    )
    assert "first load" not in result.output
