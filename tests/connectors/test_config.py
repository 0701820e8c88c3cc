"""One path from the environment to the clients: the Dagster resources and the CLI commands
build their settings in connectors/config.py, so a variable such as
PROMOSYNC_VOUCHERIFY_REQUESTS_PER_MINUTE reaches both, and a bad value is one line naming it."""

from __future__ import annotations

import pytest
from promosync.connectors import config
from promosync.connectors.errors import ConfigError
from promosync.pipelines.cli import app
from promosync.pipelines.resources import VoucherifyResource
from promosync.pipelines.talon_one_assets import TalonOneResource
from typer.testing import CliRunner

VOUCHERIFY = {
    "VOUCHERIFY_BASE_URL": "http://127.0.0.1:9",
    "VOUCHERIFY_APP_ID": "app-id",
    "VOUCHERIFY_APP_TOKEN": "app-token-s3cret",
}
TALON_ONE = {"TALON_ONE_BASE_URL": "http://127.0.0.1:9", "TALON_ONE_API_KEY": "api-key-s3cret"}


def test_variables_set_what_is_not_given_and_a_given_value_wins() -> None:
    environ = {**VOUCHERIFY, config.VOUCHERIFY_REQUESTS_PER_MINUTE: "900"}
    assert config.voucherify(environ=environ).requests_per_minute == 900
    assert config.voucherify(environ=environ, requests_per_minute=60).requests_per_minute == 60
    assert config.voucherify(environ=VOUCHERIFY).requests_per_minute is None  # server's pace
    environ = {**TALON_ONE, config.TALON_ONE_MANAGEMENT_PER_SECOND: "1.5"}
    settings = config.talon_one(environ=environ, requests_per_minute=120)
    assert (settings.requests_per_minute, settings.management_per_second) == (120, 1.5)
    assert config.talon_one(environ=TALON_ONE).management_per_second == 3.0  # documented limit
    assert config.talon_one(environ=environ, management_per_second=0).management_per_second is None
    assert config.missing(["voucherify", "talon_one"], VOUCHERIFY) == list(
        config.REQUIRED["talon_one"]
    )


@pytest.mark.parametrize("value", ["abc", "0", "-5", "inf"])
def test_a_bad_pace_names_its_variable(value: str) -> None:
    environ = {**VOUCHERIFY, config.VOUCHERIFY_REQUESTS_PER_MINUTE: value}
    message = f"^{config.VOUCHERIFY_REQUESTS_PER_MINUTE} must be a number above 0, not '{value}'$"
    with pytest.raises(ConfigError, match=message):
        config.voucherify(environ=environ)


def test_the_resources_pace_by_the_same_variables(monkeypatch) -> None:
    monkeypatch.setenv(config.VOUCHERIFY_REQUESTS_PER_MINUTE, "900")
    monkeypatch.setenv(config.TALON_ONE_REQUESTS_PER_MINUTE, "600")
    voucherify = VoucherifyResource(
        base_url=VOUCHERIFY["VOUCHERIFY_BASE_URL"], app_id="a", app_token="t"
    )
    assert voucherify.client().limiter.rate == 900 / 60
    field_wins = VoucherifyResource(**voucherify.model_dump() | {"requests_per_minute": 120})
    assert field_wins.client().limiter.rate == 120 / 60
    talon_one = TalonOneResource(base_url=TALON_ONE["TALON_ONE_BASE_URL"], api_key="k")
    assert talon_one.client().integration.limiter.rate == 600 / 60


def test_promosync_push_reads_the_same_variables(tmp_path) -> None:
    env = {
        **VOUCHERIFY,
        "WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}",
        config.VOUCHERIFY_REQUESTS_PER_MINUTE: "fast",
    }
    result = CliRunner().invoke(app, ["push", "metadata", "--dry-run"], env=env)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "push failed: PROMOSYNC_VOUCHERIFY_REQUESTS_PER_MINUTE must be a number above 0, not 'fast'"
    )
    assert "s3cret" not in result.stdout + result.stderr
