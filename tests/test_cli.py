"""The `promosync sandbox` command as a user runs it: two URL lines, then serve until a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests
from promosync.connectors.warehouse import Warehouse


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "promosync.pipelines.cli", "sandbox", "--customers", "50", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _urls(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stdout is not None
    lines = [process.stdout.readline().strip() for _ in range(2)]
    assert [line.split("=", 1)[0] for line in lines] == [
        "VOUCHERIFY_BASE_URL",
        "TALON_ONE_BASE_URL",
    ]
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_sandbox_prints_urls_first_serves_and_stops_cleanly_on_signal(stop: signal.Signals) -> None:
    process = _start("--seed", "3")
    try:
        urls = _urls(process)
        assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
        customers = requests.get(
            f"{urls['VOUCHERIFY_BASE_URL']}/v1/customers",
            headers={"X-App-Id": "sandbox-app-id", "X-App-Token": "sandbox-app-token"},
            timeout=10,
        ).json()
        assert customers["total"] == 50
        programs = requests.get(
            f"{urls['TALON_ONE_BASE_URL']}/v1/loyalty_programs",
            headers={"Authorization": "ManagementKey-v1 sandbox-management-key"},
            timeout=10,
        )
        assert programs.status_code == 200
        process.send_signal(stop)
        assert process.wait(timeout=15) == 0
    finally:
        process.kill()
        process.wait()


def test_sandbox_accepts_the_credentials_it_is_given() -> None:
    process = _start("--voucherify-app-id", "my-id", "--voucherify-app-token", "my-token")
    try:
        url = _urls(process)["VOUCHERIFY_BASE_URL"]
        default = {"X-App-Id": "sandbox-app-id", "X-App-Token": "sandbox-app-token"}
        chosen = {"X-App-Id": "my-id", "X-App-Token": "my-token"}
        assert requests.get(f"{url}/v1/customers", headers=default, timeout=10).status_code == 401
        assert requests.get(f"{url}/v1/customers", headers=chosen, timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)


def _sync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promosync.pipelines.cli", "sync", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def sync_env(sandbox, tmp_path) -> dict[str, str]:
    return {
        "VOUCHERIFY_BASE_URL": sandbox.voucherify_url,
        "VOUCHERIFY_APP_ID": sandbox.settings.voucherify_app_id,
        "VOUCHERIFY_APP_TOKEN": sandbox.settings.voucherify_app_token,
        "TALON_ONE_BASE_URL": sandbox.talon_one_url,
        "TALON_ONE_API_KEY": sandbox.settings.talon_one_api_key,
        "TALON_ONE_MANAGEMENT_KEY": sandbox.settings.talon_one_management_key,
        "WAREHOUSE_URL": f"duckdb:///{tmp_path / 'w.duckdb'}",
        "DAGSTER_HOME": "",
    }


def _customers_in(env: dict[str, str]) -> int:
    warehouse = Warehouse(env["WAREHOUSE_URL"])
    warehouse.create_tables()
    try:
        return warehouse.query("SELECT count(*) AS n FROM voucherify_customers")[0]["n"]
    finally:
        warehouse.dispose()


def test_sync_prints_a_table_of_every_stream(sync_env) -> None:
    done = _sync(sync_env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["stream", "inserted", "updated"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {
        "voucherify_customers",
        "voucherify_customer_activities",
        "voucherify_customer_segments",
        "voucherify_loyalty_transactions",
        "talon_one_customer_profiles",
        "talon_one_loyalty_programs",
        "talon_one_loyalty_cards",
        "talon_one_loyalty_transactions",
        "talon_one_loyalty_balances",
    }
    assert rows["voucherify_customers"][1] == "300"
    assert _customers_in(sync_env) == 300


def test_sync_of_one_stream_runs_only_that_stream(sync_env) -> None:
    done = _sync(sync_env, "--only", "voucherify_customers")
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()[1:]] == ["voucherify_customers"]


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        ({}, ["--only", "voucherify_customer"], "unknown platform or stream"),
        ({"VOUCHERIFY_APP_TOKEN": ""}, [], "Set VOUCHERIFY_APP_TOKEN"),
        ({"VOUCHERIFY_APP_TOKEN": "wrong-s3cret"}, ["--only", "voucherify"], "HTTP 401"),
        (
            {"VOUCHERIFY_BASE_URL": "http://127.0.0.1:9"},
            ["--only", "voucherify"],
            "cannot connect to 127.0.0.1:9",
        ),
        ({"VOUCHERIFY_BASE_URL": "http://api.remote.io"}, ["--only", "voucherify"], "plain http"),
        ({"TALON_ONE_MANAGEMENT_KEY": "wrong-s3cret"}, ["--only", "talon_one"], "HTTP 401"),
    ],
)
def test_bad_input_ends_quickly_with_a_clear_message_and_no_change(
    sync_env, voucherify_admin, change: dict[str, str], args: list[str], message: str
) -> None:
    env = {**sync_env, **change}
    done = _sync(env, *args)
    assert done.returncode != 0
    output = " ".join((done.stdout + done.stderr).split())
    assert message in output
    assert "wrong-s3cret" not in output
    assert "Traceback" not in output
    routes = voucherify_admin.get("/_sandbox/stats").json()["routes"]
    assert all(route["count"] == 1 for route in routes)  # nothing was retried
    assert _customers_in(env) == 0


# Runs the CLI in a process where the sandbox extra's distributions cannot be imported.
WITHOUT_SANDBOX_EXTRA = """
import sys
from importlib.abc import MetaPathFinder

class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"starlette", "uvicorn", "sortedcontainers", "multipart"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NotInstalled())
from promosync.pipelines.cli import app
app(sys.argv[1:], prog_name="promosync")
"""


def test_sandbox_without_its_extra_says_how_to_install_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_SANDBOX_EXTRA, "sandbox", "--customers", "5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "pip install 'promosync[sandbox]'" in lines[0]
