"""The `promosync sandbox` command as a user runs it: two URL lines, then serve until a signal."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sandbox", "--customers", "50", *args],
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
