"""Schedules (off by default, valid run config, staggered) and the run-failure sensor's summary."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dagster as dg
import pytest
from promosync.connectors.secrets import scrub
from promosync.pipelines.checks import ASSET_CHECKS
from promosync.pipelines.definitions import talon_one_pull, voucherify_pull, voucherify_reconcile
from promosync.pipelines.push_assets import PUSH_ASSETS, PUSH_JOBS, PUSH_SENSORS
from promosync.pipelines.resources import VoucherifyResource, WarehouseResource
from promosync.pipelines.schedules import (
    EXTRA_JOBS,
    SCHEDULES,
    SENSORS,
    failure_summary,
    promosync_run_failures,
)
from promosync.pipelines.talon_one_assets import TALON_ONE_ASSETS, talon_one_resources
from promosync.pipelines.voucherify_assets import VOUCHERIFY_ASSETS

SECRET = "s3cret-app-token"
EXPECTED = {
    "voucherify_pull_hourly": ("voucherify_pull", "7 * * * *"),
    "talon_one_pull_hourly": ("talon_one_pull", "17 * * * *"),
    "voucherify_reconcile_nightly": ("voucherify_reconcile", "30 3 * * *"),
    "voucherify_push_daily": ("voucherify_push", "0 6 * * *"),
    "talon_one_push_daily": ("talon_one_push", "20 6 * * *"),
    "promosync_checks_hourly": ("promosync_checks", "45 * * * *"),
}


def definitions(**resources) -> dg.Definitions:
    """The project's assets and jobs with this module's schedules, sensors and checks."""
    return dg.Definitions(
        assets=[*VOUCHERIFY_ASSETS, *TALON_ONE_ASSETS, *PUSH_ASSETS],
        asset_checks=ASSET_CHECKS,
        jobs=[voucherify_pull, talon_one_pull, voucherify_reconcile, *PUSH_JOBS, *EXTRA_JOBS],
        schedules=SCHEDULES,
        sensors=[*PUSH_SENSORS, *SENSORS],
        resources={**talon_one_resources(), **resources},
    )


@pytest.fixture
def defs(tmp_path, monkeypatch) -> dg.Definitions:
    """Definitions whose resources resolve without the environment."""
    monkeypatch.setenv("TALON_ONE_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TALON_ONE_API_KEY", "key")
    voucherify = VoucherifyResource(base_url="http://127.0.0.1:9", app_id="id", app_token="token")
    warehouse = WarehouseResource(url=f"duckdb:///{tmp_path / 'w.duckdb'}")
    return definitions(voucherify=voucherify, warehouse=warehouse)


def test_every_schedule_and_sensor_is_described_and_off_by_default() -> None:
    assert {s.name: (s.job_name, s.cron_schedule) for s in SCHEDULES} == EXPECTED
    for schedule in SCHEDULES:
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        assert schedule.execution_timezone == "UTC" and schedule.description
    for sensor in SENSORS:
        assert sensor.default_status == dg.DefaultSensorStatus.STOPPED and sensor.description
    starts = [tuple(cron.split()[:2]) for _, cron in EXPECTED.values()]
    assert len(set(starts)) == len(starts), "two schedules start in the same minute"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_tick_requests_a_run_with_valid_config(defs: dg.Definitions, name: str) -> None:
    schedule = defs.resolve_schedule_def(name)
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 1, 4, 6, tzinfo=UTC)
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    job = defs.resolve_job_def(schedule.job_name)
    dg.validate_run_config(job, request.run_config)


def test_weekly_sweep_visits_every_customer(defs: dg.Definitions) -> None:
    job = defs.resolve_job_def("voucherify_full_sweep")
    ops = dg.validate_run_config(job, {})["ops"]
    assert set(ops) == {
        "voucherify_customers", "voucherify_customer_activities", "voucherify_customer_segments"
    }  # fmt: skip
    assert ops["voucherify_customer_activities"]["config"]["full_sweep"] is True
    assert ops["voucherify_customer_segments"]["config"]["full_sweep"] is True
    assert ops["voucherify_customers"]["config"]["full_refresh"] is False


def test_checks_job_selects_every_check_and_no_asset(defs: dg.Definitions) -> None:
    job = defs.resolve_job_def("promosync_checks")
    assert len(job.graph.node_dict) == len(ASSET_CHECKS)
    assert not job.asset_layer.selected_asset_keys


def test_scrub_masks_known_values_and_credential_shapes() -> None:
    text = (
        f"bad {SECRET}; X-App-Token: other; Authorization: ManagementKey-v1 abc123;"
        " postgresql://user:hunter2@db/x"
    )
    masked = scrub(text, [SECRET, ""])
    assert masked == (
        "bad ***; X-App-Token: ***; Authorization: ManagementKey-v1 ***; postgresql://user:***@db/x"
    )


def test_summary_falls_back_to_the_run_message_and_trims_long_errors() -> None:
    summary = failure_summary("voucherify_pull", "r1", [], "resource init failed", [])
    assert summary == "run failed: job voucherify_pull, run r1\n  run: resource init failed"
    long = failure_summary("j", "r", [("step", "x" * 2000)], "", []).splitlines()[1]
    assert len(long) < 520 and long.endswith("…")


@dg.op
def refused() -> None:
    """Fail as a connector would if a credential leaked into an error."""
    raise RuntimeError(f"voucherify GET /v1/customers: HTTP 401 for token {SECRET}")


@dg.op
def fine() -> None:
    """Succeed."""


@dg.job
def partly_failing() -> None:
    """One failing step beside a succeeding one."""
    refused()
    fine()


def test_run_failure_sensor_logs_job_run_and_failed_step_without_the_secret(monkeypatch) -> None:
    monkeypatch.setenv("VOUCHERIFY_APP_TOKEN", SECRET)
    with dg.DagsterInstance.ephemeral() as instance:
        result = partly_failing.execute_in_process(instance=instance, raise_on_error=False)
        context = dg.build_run_status_sensor_context(
            sensor_name="promosync_run_failures",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
        ).for_run_failure()
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append
        context.log.addHandler(handler)
        promosync_run_failures(context)

    (record,) = records
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        f"run failed: job partly_failing, run {result.run_id}\n"
        "  refused: RuntimeError: voucherify GET /v1/customers: HTTP 401 for token ***"
    )
