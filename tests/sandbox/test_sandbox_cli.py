"""`promosync sandbox` takes every limit, quota and reading as an option, and refuses bad ones."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests
from promosync.pipelines.cli import app
from promosync.sandbox.server import spawn
from promosync.sandbox.settings import described
from typer.testing import CliRunner

DOCS = Path(__file__).resolve().parents[2] / "docs" / "SANDBOX.md"


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


def test_help_lists_every_setting_and_the_docs_describe_each():
    shown = CliRunner().invoke(app, ["sandbox", "--help"], env={"COLUMNS": "250"})
    assert shown.exit_code == 0
    documented = DOCS.read_text()
    for name in described():
        assert option(name) in shown.output, name
        assert f"`{name}`" in documented, f"docs/SANDBOX.md does not describe {name}"


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--voucherify-plan", "gold"], "gold"),
        (["--talon-one-profiles-order", "random"], "random"),
        (["--voucherify-requests-per-cycle", "-5"], "greater than or equal to 0"),
        (["--voucherify-cycle-seconds", "0"], "voucherify_cycle_seconds"),
        (["--voucherify-cycle-start", "yesterday"], "ISO 8601 instant"),
    ],
)
def test_bad_values_fail_with_a_message_before_serving(arguments, fragment):
    result = CliRunner().invoke(app, ["sandbox", *arguments], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    assert fragment in result.output and "BASE_URL" not in result.output


def test_options_reach_the_running_sandbox():
    process, urls = spawn(
        "--customers", "20", "--voucherify-plan", "sandbox", "--voucherify-requests-per-cycle",
        "7", "--voucherify-compress-windows", "--voucherify-cycle-seconds", "7200",
        "--talon-one-profiles-order", "hash", "--voucherify-customers-has-more", "absent",
        quiet=True,
    )  # fmt: skip
    try:
        voucherify = urls["VOUCHERIFY_BASE_URL"]
        config = requests.get(f"{voucherify}/_sandbox/config", timeout=10).json()
        assert (config["voucherify_plan"], config["voucherify_requests_per_cycle"]) == (
            "sandbox",
            7,
        )
        assert config["voucherify_compress_windows"] is True
        assert config["talon_one_profiles_order"] == "hash"
        headers = {"X-App-Id": "sandbox-app-id", "X-App-Token": "sandbox-app-token"}
        response = requests.get(f"{voucherify}/v1/customers", headers=headers, timeout=10)
        assert response.headers["X-Rate-Limit-Limit"] == "100"
        assert "has_more" not in response.json()
        # The hour, compressed 360 times (a 30-day cycle in 7,200 s), ends within 10 seconds.
        assert time.time() < int(response.headers["X-Rate-Limit-Retry"]) <= time.time() + 11
        stats = requests.get(f"{voucherify}/_sandbox/stats", timeout=10).json()["quota"]
        assert stats["window_scale"] == 360 and stats["limits"]["per_cycle"] == 7
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT.*Z", stats["by_app_id"]["sandbox-app-id"]["cycle"]["end"]
        )
    finally:
        process.kill()
        process.wait()
