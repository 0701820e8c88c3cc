"""Voucherify endpoints the streams read, on top of the shared ApiClient and the paging toolkit."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from promosync.connectors.http import ApiClient, ConfigError, HttpSettings, check_base_url
from promosync.connectors.keyset import OversizeReader
from promosync.connectors.paginators import (
    PageNumbers,
    StartingAfter,
    UpdatedAtKeyset,
    oldest_first,
)
from promosync.connectors.paging import JsonClient, Listing, Page, pages
from promosync.connectors.secrets import credential
from promosync.connectors.stream import Stream
from promosync.connectors.voucherify.streams import (
    ACTIVITIES,
    CUSTOMERS,
    LOYALTY_TRANSACTIONS,
    PAGE_LIMIT,
    SEGMENTS,
)

PAGE_CAP = 99  # `page` is accepted only up to 99 on GET /v1/customers and GET /v1/loyalties
CAMPAIGNS = "/v1/loyalties"  # the loyalty campaigns, whose transactions are read one by one
# Where Voucherify serves export files: the only hosts besides the API that get the keys.
DOWNLOAD_HOSTS = (
    "download.voucherify.io",
    "us1.download.voucherify.io",
    "as1.download.voucherify.io",
)


class VoucherifyClient(ApiClient):
    """An ApiClient that also knows the vendor's export download hosts (`download_origins`)."""

    download_origins: frozenset[str] = frozenset(f"https://{host}" for host in DOWNLOAD_HOSTS)
    untrusted_download: str | None = None  # a host an export was refused on: no more exports


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased, the default port left out."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def voucherify_client(
    base_url: str,
    app_id: str,
    app_token: str,
    requests_per_minute: float | None = None,
    *,
    settings: HttpSettings | None = None,
    download_url: str | None = None,
) -> VoucherifyClient:
    """A client authenticated with the app-key pair (`X-App-Id` / `X-App-Token`).

    Every value is checked before any request (`credential`, `check_base_url`); `settings` are
    the request limits (None: from the environment). `download_url` (None: the
    VOUCHERIFY_DOWNLOAD_URL variable, if set) is one more export download host to trust besides
    Voucherify's own, as the sandbox's.
    """
    url = check_base_url(base_url, "VOUCHERIFY_BASE_URL")
    app_id = credential("VOUCHERIFY_APP_ID", app_id)
    app_token = credential("VOUCHERIFY_APP_TOKEN", app_token)
    if not app_id or not app_token:
        raise ConfigError("set VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN (Project settings > API)")
    if download_url is None:
        download_url = os.environ.get("VOUCHERIFY_DOWNLOAD_URL", "").strip() or None
    headers = {"X-App-Id": app_id, "X-App-Token": app_token}
    client = VoucherifyClient(
        "voucherify", url, headers, requests_per_minute=requests_per_minute, settings=settings,
        base_url_name="VOUCHERIFY_BASE_URL",
        credentials_name="VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN",
    )  # fmt: skip
    if download_url:
        trusted = origin(check_base_url(download_url, "VOUCHERIFY_DOWNLOAD_URL"))
        client.download_origins = client.download_origins | {trusted}
    return client


def list_customers(client: JsonClient, params: dict[str, Any]) -> dict[str, Any]:
    """One page of `GET /v1/customers`, as the API answered it."""
    listing = Listing.of(client, CUSTOMERS, params={"limit": CUSTOMERS.required("page_size")})
    return dict(listing.get(params)[0])


def list_total(client: JsonClient, stream: Stream) -> int:
    """The records a top-level list holds: the `total` of its first page of one record."""
    listing = Listing.of(client, stream)
    body, _ = listing.get({"limit": 1})
    if not isinstance(body.get("total"), int):
        listing.refuse("its body has no total")
    return body["total"]


def customers(
    client: JsonClient, after: str | None, before: str, oversize: OversizeReader | None = None
) -> Iterator[Page]:
    """Customers with after < updated_at < before, in updated_at order, each page with the
    instant up to which every customer has been read (see `UpdatedAtKeyset`); `oversize` reads
    a tie group the pages cannot reach."""
    keyset = UpdatedAtKeyset(
        CUSTOMERS.required("page_size"), after, before,
        field=CUSTOMERS.required("cursor_field"), noun="customer", page_cap=PAGE_CAP,
        oversize=oversize,
    )  # fmt: skip
    return pages(client, CUSTOMERS, keyset)


def customer_activity(
    client: JsonClient, customer_id: str, starting_after_id: str | None
) -> Iterator[Page]:
    """Pages of one customer's activity, oldest first, after `starting_after_id`.

    `order=created_at` is always sent (the list's default order is not stated), and pages out of
    that order are refused: the cursor, the last id read, is only right on an oldest-first list.
    """
    paginator = StartingAfter(
        ACTIVITIES.required("page_size"), starting_after_id, ACTIVITIES.required("cursor_field"),
        oldest_first("created_at"),
    )  # fmt: skip
    return pages(
        client, ACTIVITIES, paginator, params={"order": "created_at"}, customerId=customer_id
    )


def customer_segments(client: JsonClient, customer_id: str) -> list[dict[str, Any]]:
    """The segments a customer belongs to now (one unpaged list)."""
    return Listing.of(client, SEGMENTS, customerId=customer_id).get()[1]


def loyalty_campaigns(client: JsonClient) -> list[dict[str, Any]]:
    """Every loyalty campaign of the project."""
    listing = Listing(client, "voucherify", CAMPAIGNS, "campaigns")
    return [
        campaign for page in PageNumbers(PAGE_LIMIT, PAGE_CAP).pages(listing) for campaign in page
    ]


def loyalty_transactions(
    client: JsonClient, campaign_id: str, starting_after_id: str | None
) -> Iterator[Page]:
    """Pages of one loyalty campaign's transactions, in id order, after `starting_after_id`.

    `order=id` is always sent: the lists' default order is not stated (`-id` or `id`).
    """
    stream = LOYALTY_TRANSACTIONS
    paginator = StartingAfter(
        stream.required("page_size"), starting_after_id, stream.required("cursor_field")
    )
    return pages(client, stream, paginator, params={"order": "id"}, campaignId=campaign_id)
