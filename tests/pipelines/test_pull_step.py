"""A pull step's failures: retried only when a retry can pass, and reported by their real cause
(never "Exceeded max_retries of 2"); the other streams of the run still run."""

from __future__ import annotations

import pytest
from promosync.connectors import stream
from promosync.connectors.warehouse import WarehouseError
from promosync.pipelines import run

from tests.reliability.cli import small


@pytest.fixture
def configured(sandbox, tmp_path, monkeypatch) -> str:
    """Voucherify on a 20-customer sandbox, a fresh DuckDB file."""
    small(sandbox, 20)
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    monkeypatch.setenv("VOUCHERIFY_BASE_URL", sandbox.voucherify_url)
    monkeypatch.setenv("VOUCHERIFY_APP_ID", sandbox.settings.voucherify_app_id)
    monkeypatch.setenv("VOUCHERIFY_APP_TOKEN", sandbox.settings.voucherify_app_token)
    monkeypatch.setenv("WAREHOUSE_URL", url)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return url


def _failing(monkeypatch, error: Exception) -> list[int]:
    """Make the loyalty transactions sync raise `error`; the list counts its attempts."""
    attempts: list[int] = []

    def fail(*_: object, **__: object) -> None:
        attempts.append(1)
        raise error

    monkeypatch.setitem(stream._SYNC_FUNCTIONS, "voucherify_loyalty_transactions", fail)
    return attempts


def test_an_unexpected_error_is_tried_once_and_named_by_its_cause(configured, monkeypatch):
    attempts = _failing(monkeypatch, KeyError("points"))

    outcome = run.execute_pull("voucherify")

    assert len(attempts) == 1  # a bug does not pass on a retry: none made
    (failure,) = outcome.failures
    assert (failure.stream, failure.message) == (
        "voucherify_loyalty_transactions",
        "unexpected KeyError: 'points'",
    )
    assert "Traceback" not in failure.message and "KeyError" in failure.trace
    statuses = {summary.stream: summary.status for summary in outcome.summaries}
    assert statuses == {
        "voucherify_customers": "ok",  # the streams that do not depend on it still ran
        "voucherify_customer_activities": "ok",
        "voucherify_customer_segments": "ok",
        "voucherify_loyalty_transactions": "failed",
    }


def test_a_transient_warehouse_error_is_retried_and_its_cause_kept(configured, monkeypatch):
    cause = "voucherify_loyalty_transactions: the warehouse failed: deadlock detected"
    attempts = _failing(monkeypatch, WarehouseError(cause, transient=True))

    outcome = run.execute_pull("voucherify", streams=["voucherify_loyalty_transactions"])

    assert len(attempts) == 3  # the RetryPolicy's two retries
    (failure,) = outcome.failures
    assert failure.message == f"WarehouseError: {cause}"
    assert "max_retries" not in failure.message


def test_a_permanent_error_is_not_retried(configured, monkeypatch):
    attempts = _failing(monkeypatch, WarehouseError("the warehouse refused a value"))

    outcome = run.execute_pull("voucherify", streams=["voucherify_loyalty_transactions"])

    assert len(attempts) == 1
    assert [f.message for f in outcome.failures] == ["the warehouse refused a value"]


def test_run_pull_still_raises_for_library_callers(configured, monkeypatch):
    _failing(monkeypatch, KeyError("points"))
    with pytest.raises(RuntimeError, match=r"^unexpected KeyError: 'points'$"):
        run.run_pull("voucherify", streams=["voucherify_loyalty_transactions"])
