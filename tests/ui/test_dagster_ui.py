"""The Dagster UI in headless Chromium: the asset graph, and a run launched over GraphQL."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
import requests
from promosync.connectors.warehouse import Warehouse
from promosync.pipelines.definitions import defs
from promosync.sandbox.server import Sandbox

from tests.ui.chromium import CHROMIUM, Chromium
from tests.ui.webserver import DagsterUI

ARTIFACTS = Path(__file__).parent / "artifacts"
LOCATION = {
    "repositoryLocationName": "promosync.pipelines.definitions",
    "repositoryName": "__repository__",
}
# Every asset node of the graph carries its full name in `data-tooltip` (the label itself is
# middle-truncated, e.g. "voucher…_customers").
GRAPH_NAMES = (
    "Array.from(document.querySelectorAll('svg foreignObject [data-tooltip]'))"
    ".map(e => e.getAttribute('data-tooltip'))"
)
# True once every node of the graph lies inside the graph's frame, below the toolbar over it.
GRAPH_FITS = """(() => {
  const svg = document.querySelector('svg foreignObject').ownerSVGElement;
  let frame = svg.parentElement;
  while (getComputedStyle(frame).overflow !== 'hidden') frame = frame.parentElement;
  const f = frame.getBoundingClientRect();
  return Array.from(svg.querySelectorAll('foreignObject')).every(e => {
    const r = e.getBoundingClientRect();
    return r.top >= f.top + 64 && r.left >= f.left && r.bottom <= f.bottom && r.right <= f.right;
  });
})()"""
ZOOM_OUT = "document.querySelector('[aria-label=zoom_out]').closest('button').click()"
LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
    ... on Error { message }
  }
}"""
RUN_STATUS = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    ... on Run {
      status
      eventConnection { events { __typename ... on MessageEvent { message } } }
    }
  }
}"""
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def promosync_assets() -> set[str]:
    """The name of every asset in promosync's Definitions."""
    return {key.to_user_string() for key in defs.resolve_all_asset_keys()}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG file; AssertionError if it is not one."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    return struct.unpack(">II", data[16:24])


def test_asset_graph_shows_every_promosync_asset(dagster_ui: DagsterUI, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: this test needs Debian's chromium; `make test` installs it "
            "(scripts/ensure-chromium.sh), or run: apt-get install chromium"
        )
    expected = promosync_assets()
    dagster_ui.graphql("mutation { setNuxSeen }")  # no "join the community" dialog over the graph
    with Chromium(tmp_path / "profile", width=2200, height=1600) as browser:
        browser.goto(f"{dagster_ui.url}/asset-groups")
        assert browser.wait_for("document.querySelector('svg foreignObject') !== null"), (
            "the global asset lineage page drew no graph"
        )
        browser.press("e", alt=True)  # ⌥E: "Expand all groups", so every asset gets its node
        shown: set[str] = set()
        for _ in range(8):  # the graph draws only the nodes inside its frame: zoom out to see all
            shown |= set(browser.wait_for(f"{GRAPH_NAMES}.length && {GRAPH_NAMES}") or [])
            if expected <= shown:
                break
            browser.evaluate(ZOOM_OUT)
            time.sleep(0.5)  # the zoom is animated
        assert expected <= shown, f"assets missing from the graph: {sorted(expected - shown)}"
        browser.wait_for("!document.body.innerText.includes('Loading')", timeout=10)
        for _ in range(8):  # the graph is taller than the window at the zoom it opens with
            if browser.wait_for(GRAPH_FITS, timeout=1):
                break
            browser.evaluate(ZOOM_OUT)
        time.sleep(1)  # the zoom is animated
        screenshot = browser.screenshot(ARTIFACTS / "asset_graph.png")
    width, height = png_size(screenshot)
    assert (width, height) == (2200, 1600)
    assert screenshot.stat().st_size > 50_000, "the screenshot is nearly blank"


def test_materialization_launched_from_graphql_succeeds(
    dagster_ui: DagsterUI, sandbox: Sandbox
) -> None:
    params = {
        "selector": {
            **LOCATION,
            "jobName": "voucherify_pull",
            "assetSelection": [{"path": ["voucherify_customers"]}],
        },
        "runConfigData": {},
    }
    launched = dagster_ui.graphql(LAUNCH_RUN, params=params)["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = dagster_ui.graphql(RUN_STATUS, runId=run_id)["runOrError"]
        if run["status"] in FINISHED:
            break
        time.sleep(0.5)
    messages = [e.get("message") for e in run["eventConnection"]["events"] if e.get("message")]
    assert run["status"] == "SUCCESS", "\n".join(messages[-15:])

    truth = requests.get(f"{sandbox.voucherify_url}/_sandbox/truth/customers", timeout=30).json()
    warehouse = Warehouse(dagster_ui.warehouse_url)
    try:
        rows = warehouse.query("SELECT count(*) AS n FROM voucherify_customers")
    finally:
        warehouse.dispose()
    assert rows[0]["n"] == len(truth) > 0
