"""Export calls the export tests share: create, poll, download, parse; every answer validated."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import orjson
import requests

from tests.sandbox.export_contract import assert_export_answer

FAST = {"voucherify_export_seconds": 0.2}


def create(session, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/exports, validated."""
    return assert_export_answer(session.post("/v1/exports", json=body), "ExportsCreateResponseBody")


def get(session, export_id: str) -> dict[str, Any]:
    """GET /v1/exports/{id}, validated."""
    return assert_export_answer(session.get(f"/v1/exports/{export_id}"), "ExportsGetResponseBody")


def finish(session, export_id: str, timeout: float = 10) -> tuple[dict[str, Any], list[str]]:
    """Poll until the export ends; the export and the statuses seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        export = get(session, export_id)
        if not seen or seen[-1] != export["status"]:
            seen.append(export["status"])
        if export["status"] in ("DONE", "ERROR") or time.monotonic() > deadline:
            return export, seen
        time.sleep(0.02)


def fetch(session, url: str) -> requests.Response:
    """GET an absolute URL (the download host's) with the session's app keys."""
    keys = {name: session.headers[name] for name in ("X-App-Id", "X-App-Token")}
    return requests.get(url, headers=keys, timeout=30)


def download(session, url: str) -> str:
    """One export file from the download host, checked against the download operation."""
    response = fetch(session, url)
    assert response.status_code == 200, response.text
    # The spec answers the file as text/plain (openapi-core cannot tell this path from
    # GET /v1/exports/{exportId}, which has the same template, so it is checked here).
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def files_of(session, export: dict[str, Any]) -> list[list[dict[str, str]]]:
    """Every file of a DONE export, parsed."""
    urls = export["result"].get("urls") or [export["result"]["url"]]
    assert urls[0] == export["result"]["url"]
    return [list(csv.DictReader(io.StringIO(download(session, url)))) for url in urls]


def export_rows(session, body: dict[str, Any]) -> list[dict[str, str]]:
    """Create an export, wait for it, and return the rows of all its files."""
    export, _ = finish(session, create(session, body)["id"])
    assert export["status"] == "DONE"
    return [row for rows in files_of(session, export) for row in rows]


def json_text(value: Any) -> str:
    """Compact JSON, as nested values are written in a cell."""
    return orjson.dumps(value).decode()
