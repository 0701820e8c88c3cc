"""A promosync Dagster webserver for tests: its instance config, start-up and GraphQL client."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
WEBSERVER = Path(sys.executable).with_name("dagster-webserver")
START_SECONDS = 60


@dataclass(frozen=True)
class DagsterUI:
    """A running webserver: its base URL and the warehouse its runs write to."""

    url: str
    warehouse_url: str

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        """POST a GraphQL document to /graphql; its `data`, or a failure with the errors."""
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=30
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            pytest.fail(f"GraphQL errors: {body['errors']}")
        return body["data"]


def instance_yaml(home: Path) -> str:
    """The repo's dagster.yaml with every storage directory moved under `home`."""
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())

    def relocate(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: relocate_dir(value) if key == "base_dir" else relocate(value)
                    for key, value in node.items()}  # fmt: skip
        return node

    def relocate_dir(value: str) -> str:
        path = Path(value)
        return str(
            home / (path.relative_to(".dagster") if path.is_relative_to(".dagster") else path)
        )

    return yaml.safe_dump(relocate(config))


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll /server_info until the webserver answers; fail with its log if it never does."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(f"{url}/server_info", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    pytest.fail(f"dagster-webserver did not answer within {START_SECONDS} s:\n{log.read_text()}")
