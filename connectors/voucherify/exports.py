"""Voucherify exports: create one, wait for it, read its CSV files row by row.

An export costs one create, a few status polls and one download per file, whatever the number of
rows, where a list costs a request per 100. Every request, downloads included, goes through the
client's counted, rate-limited path (downloads count against the quota, docs/SANDBOX.md). The
keys go only to the API and to Voucherify's own download hosts (`VoucherifyClient
.download_origins`): a `result.url` anywhere else is refused before anything is sent there.

Memory: one file's body at a time (bounded by the client's `max_response_bytes`), parsed by the
csv module row by row; rows are never all held as objects.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from promosync.connectors import stopping
from promosync.connectors.http import ApiClient, ApiError
from promosync.connectors.paging import path
from promosync.connectors.voucherify.client import VoucherifyClient, origin

log = logging.getLogger(__name__)

EXPORTS = "/v1/exports"
CAMPAIGN_EXPORT = "/v1/loyalties/{campaignId}/transactions/export"
FIRST_POLL = 0.25  # seconds before the first status poll; doubled after each, up to MAX_POLL
MAX_POLL = 15.0
DEADLINE = 900.0  # seconds an export may take before it is given up as stuck
EXPECTED_POLLS = 5  # status polls a planner counts per export (bench/RESULTS.md)
ROWS_PER_FILE = 100_000  # rows a planner expects per file (the vendor splits large exports)


UNTRUSTED = (
    "not a Voucherify download host: the keys are not sent there (set VOUCHERIFY_DOWNLOAD_URL"
    " if it is yours)"
)


class ExportFailed(Exception):
    """An export that cannot be used (ended ERROR, stuck past its deadline, gone, its files
    unreadable or on a foreign host); the read falls back to the list. `retry`: a new export
    may fare better (one ended ERROR)."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


def create(client: ApiClient, exported_object: str, parameters: Mapping[str, Any]) -> str:
    """`POST /v1/exports`; the new export's id."""
    body = {"exported_object": exported_object, "parameters": dict(parameters)}
    return _created(client, EXPORTS, body)


def create_campaign_transactions(
    client: ApiClient, campaign_id: str, parameters: Mapping[str, Any]
) -> str:
    """`POST /v1/loyalties/{campaignId}/transactions/export`; the new export's id."""
    where = path(CAMPAIGN_EXPORT, campaignId=campaign_id)
    return _created(client, where, {"parameters": dict(parameters)})


def _created(client: ApiClient, where: str, body: dict[str, Any]) -> str:
    if refused := getattr(client, "untrusted_download", None):
        raise ExportFailed(f"exports are served from {refused}, {UNTRUSTED}")
    # Repeatable: a second export made by a retry costs a request and harms nothing.
    try:
        answer = client.request("POST", where, expect_json=True, json=body).parsed_json
    except ApiError as error:
        if error.status in (400, 402, 403, 404, 422):  # refused (the plan, a field): use the list
            raise ExportFailed(f"the export was refused: {error}") from None
        raise
    export_id = answer.get("id") if isinstance(answer, dict) else None
    if not isinstance(export_id, str) or not export_id:
        raise ExportFailed(f"POST {where} answered no export id")
    return export_id


def status(client: ApiClient, export_id: str) -> dict[str, Any]:
    """The export now (`GET /v1/exports/{id}`); ExportFailed if it is gone."""
    try:
        answer = client.get_json(path(EXPORTS + "/{id}", id=export_id))
    except ApiError as error:
        if error.status == 404:
            raise ExportFailed(f"export {export_id} is gone (404)") from None
        raise
    if not isinstance(answer, dict):
        raise ExportFailed(f"GET {EXPORTS}/{export_id} answered no export object")
    return answer


def wait(client: ApiClient, export_id: str, deadline: float | None = None) -> dict[str, Any]:
    """Poll the export with backoff until DONE; ExportFailed on ERROR or past `deadline` seconds
    (None: DEADLINE). Every wait ends at once when a stop is asked for (StopRequested)."""
    deadline = DEADLINE if deadline is None else deadline
    ends, pause = time.monotonic() + deadline, FIRST_POLL
    while True:
        stopping.sleep(min(pause, max(0.0, ends - time.monotonic())))
        export = status(client, export_id)
        state = export.get("status")
        if state == "DONE":
            return export
        if state == "ERROR":
            raise ExportFailed(f"export {export_id} ended ERROR", retry=True)
        if time.monotonic() >= ends:
            raise ExportFailed(f"export {export_id} still {state} after {deadline:g} s")
        pause = min(MAX_POLL, pause * 2)


def file_urls(client: VoucherifyClient, export: Mapping[str, Any]) -> list[str]:
    """Every file of a DONE export, in order (`result.urls` when split, else `result.url`),
    each on a trusted download host."""
    result = export.get("result") or {}
    urls = result.get("urls") or ([result["url"]] if result.get("url") else [])
    if not urls or not all(isinstance(url, str) for url in urls):
        raise ExportFailed(f"export {export.get('id')} is DONE without a file URL")
    for url in urls:
        where = origin(url)
        if where not in client.download_origins:
            client.untrusted_download = where  # this client makes no more exports
            raise ExportFailed(f"export {export.get('id')} is served from {where}, {UNTRUSTED}")
    return urls


def _download(client: VoucherifyClient, url: str) -> bytes:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    return client.request("GET", parts.path, params=params, origin=origin(url)).content


def rows(client: VoucherifyClient, export: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    """Every row of every file of a DONE export, as {field name: cell text}.

    A download that fails (its retries spent, an expired token) is tried once more with the
    fresh URLs a new `GET` of the export hands out; then ExportFailed.
    """
    export_id = str(export.get("id"))
    urls = file_urls(client, export)
    for number in range(len(urls)):
        try:
            body = _download(client, urls[number])
        except ApiError as error:
            log.warning(
                "export %s: file %d failed (%s); asking fresh URLs", export_id, number, error
            )
            try:
                urls = file_urls(client, status(client, export_id))
                body = _download(client, urls[number])
            except (ApiError, IndexError) as again:
                raise ExportFailed(
                    f"export {export_id}: file {number + 1} failed: {again}"
                ) from None
        yield from _parsed(body)


def field_name(header: str) -> str:
    """The field a column header names: `Source ID` and `source_id` both give `source_id`."""
    if header.startswith("metadata."):
        return header
    return "_".join(header.strip().lower().split())


def _parsed(body: bytes) -> Iterator[dict[str, str]]:
    text = io.TextIOWrapper(io.BytesIO(body), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    names = [field_name(column) for column in header]
    for cells in reader:
        if len(cells) != len(names):
            raise ExportFailed(f"an export row has {len(cells)} cells under {len(names)} headers")
        yield dict(zip(names, cells, strict=True))


def export_cost(rows_expected: int) -> int:
    """Requests an export of `rows_expected` rows is planned to cost: create, polls, files."""
    return 1 + EXPECTED_POLLS + max(1, -(-rows_expected // ROWS_PER_FILE))
