"""Running `promosync` as a user does, for the CLI tests: in-process (typer's runner, the same
`app` the console script calls) or as a real process that signals can reach."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import requests
from promosync.pipelines.cli import app
from typer.testing import CliRunner

from tests.conftest import TEST_SETTINGS


def env_for(sandbox: Any, url: str, **changes: str) -> dict[str, str]:
    """The environment a user sets: both platforms on the sandbox, the warehouse at `url`."""
    settings = sandbox.settings
    return {
        "VOUCHERIFY_BASE_URL": sandbox.voucherify_url,
        "VOUCHERIFY_DOWNLOAD_URL": sandbox.voucherify_download_url,
        "VOUCHERIFY_APP_ID": settings.voucherify_app_id,
        "VOUCHERIFY_APP_TOKEN": settings.voucherify_app_token,
        "TALON_ONE_BASE_URL": sandbox.talon_one_url,
        "TALON_ONE_API_KEY": settings.talon_one_api_key,
        "TALON_ONE_MANAGEMENT_KEY": settings.talon_one_management_key,
        "WAREHOUSE_URL": url,
        "DAGSTER_HOME": "",
        "PROMOSYNC_ALLOW_EPHEMERAL_WAREHOUSE": "",
        "COLUMNS": "2000",  # no wrapping of long messages
        **changes,
    }


def promosync(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process: its exit code, stdout, and stderr."""
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def one_line(text: str) -> str:
    """`text` with every whitespace run as one space (messages are matched whole)."""
    return " ".join(text.split())


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`promosync ARGS` in a process of its own, stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "promosync.pipelines.cli", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def small(sandbox: Any, customers: int, **settings: Any) -> None:
    """Reset both simulators to `customers` customers (and `settings`) for a quicker test."""
    body = {**TEST_SETTINGS, "customers": customers, **settings}
    for url in (sandbox.voucherify_url, sandbox.talon_one_url):
        requests.post(f"{url}/_sandbox/reset", json=body, timeout=60).raise_for_status()


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The summary table's rows by stream: the cells split on whitespace."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["stream", "inserted"])
    return {line.split()[0]: line.split() for line in lines[header + 1 :]}
