"""The Dagster webserver of promosync on a free port, its own instance, the test sandbox."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from promosync.sandbox.server import Sandbox

from tests.ui.webserver import (
    REPO,
    WEBSERVER,
    DagsterUI,
    free_port,
    instance_yaml,
    wait_until_serving,
)


@pytest.fixture(scope="module")
def dagster_ui(
    sandbox_server: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DagsterUI]:
    """`dagster-webserver -m promosync.pipelines.definitions` on a temporary instance and
    warehouse."""
    root = tmp_path_factory.mktemp("dagster_ui")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(home))
    settings = sandbox_server.settings
    warehouse_url = f"duckdb:///{root / 'warehouse.duckdb'}"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "WAREHOUSE_URL": warehouse_url,
        "VOUCHERIFY_BASE_URL": sandbox_server.voucherify_url,
        "VOUCHERIFY_APP_ID": settings.voucherify_app_id,
        "VOUCHERIFY_APP_TOKEN": settings.voucherify_app_token,
        "TALON_ONE_BASE_URL": sandbox_server.talon_one_url,
        "TALON_ONE_API_KEY": settings.talon_one_api_key,
        "TALON_ONE_MANAGEMENT_KEY": settings.talon_one_management_key,
    }
    port = free_port()
    log = root / "webserver.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(WEBSERVER), "-m", "promosync.pipelines.definitions",
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, log)
        yield DagsterUI(url, warehouse_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
