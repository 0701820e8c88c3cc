"""Voucherify endpoints the streams read, on top of the shared ApiClient."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from promosync.connectors.cursor import parse_instant
from promosync.connectors.http import (
    ApiClient,
    ConfigError,
    HttpSettings,
    UnexpectedAnswer,
    check_base_url,
)
from promosync.connectors.secrets import credential

PAGE_LIMIT = 100  # the API's maximum `limit`
PAGE_CAP = 99  # `page` is accepted only up to 99 on GET /v1/customers


def voucherify_client(
    base_url: str,
    app_id: str,
    app_token: str,
    requests_per_minute: float | None = None,
    *,
    settings: HttpSettings | None = None,
) -> ApiClient:
    """A client authenticated with the app-key pair (`X-App-Id` / `X-App-Token`).

    Every value is checked before any request (`credential`, `check_base_url`); `settings` are
    the request limits (None: from the environment).
    """
    url = check_base_url(base_url, "VOUCHERIFY_BASE_URL")
    app_id = credential("VOUCHERIFY_APP_ID", app_id)
    app_token = credential("VOUCHERIFY_APP_TOKEN", app_token)
    if not app_id or not app_token:
        raise ConfigError("set VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN (Project settings > API)")
    headers = {"X-App-Id": app_id, "X-App-Token": app_token}
    return ApiClient(
        "voucherify", url, headers, requests_per_minute=requests_per_minute, settings=settings,
        base_url_name="VOUCHERIFY_BASE_URL",
        credentials_name="VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN",
    )  # fmt: skip


def list_customers(client: ApiClient, params: dict[str, Any]) -> dict[str, Any]:
    """One page of `GET /v1/customers`, refused if a customer's `updated_at` is no instant."""
    body = client.get_json("/v1/customers", {"limit": PAGE_LIMIT, **params})
    customers = body.get("customers") if isinstance(body, dict) else None
    if not isinstance(customers, list):
        raise UnexpectedAnswer("voucherify", "GET", "/v1/customers", "its body has no customers")
    for customer in customers:
        try:
            parse_instant(customer["updated_at"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UnexpectedAnswer(
                "voucherify", "GET", "/v1/customers",
                f"customer {customer.get('id')!r} has updated_at {customer.get('updated_at')!r},"
                " not an ISO 8601 instant: the API's schema changed; nothing of this page was"
                " written and the cursor did not move",
            ) from None  # fmt: skip
    return body


def _follow(client: ApiClient, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """Pages of a `starting_after_id` list, following `more_starting_after` while `has_more`."""
    params = {"limit": PAGE_LIMIT, **params}
    while True:
        page = client.get_json(path, params)
        records = page.get("data") or []
        more = bool(page.get("has_more"))
        after = page.get("more_starting_after") or (records[-1]["id"] if records else None)
        if more and not after:
            raise UnexpectedAnswer("voucherify", "GET", path, "has_more with an empty page")
        if more and after == params.get("starting_after_id"):
            raise UnexpectedAnswer(
                "voucherify", "GET", path,
                f"has_more with the page after {after!r} again instead of the next one: stopped"
                " so as not to loop (the cursor stays at the last page committed)",
            )  # fmt: skip
        yield records
        if not more:
            return
        params["starting_after_id"] = after


def customer_activity(
    client: ApiClient, customer_id: str, starting_after_id: str | None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of one customer's activity, oldest first, after `starting_after_id`."""
    params: dict[str, Any] = {"order": "created_at"}
    if starting_after_id:
        params["starting_after_id"] = starting_after_id
    yield from _follow(client, f"/v1/customers/{quote(customer_id, safe='')}/activity", params)


def customer_segments(client: ApiClient, customer_id: str) -> list[dict[str, Any]]:
    """The segments a customer belongs to now."""
    body = client.get_json(f"/v1/customers/{quote(customer_id, safe='')}/segments")
    return body.get("data") or []


def loyalty_campaigns(client: ApiClient) -> list[dict[str, Any]]:
    """Every loyalty campaign of the project."""
    campaigns: list[dict[str, Any]] = []
    for page in range(1, PAGE_CAP + 1):
        body = client.get_json("/v1/loyalties", {"limit": PAGE_LIMIT, "page": page})
        batch = body.get("campaigns") or []
        campaigns.extend(batch)
        if len(batch) < PAGE_LIMIT or len(campaigns) >= body.get("total", 0):
            return campaigns
    raise RuntimeError(f"more than {PAGE_CAP * PAGE_LIMIT} loyalty campaigns; cannot list them all")


def loyalty_transactions(
    client: ApiClient, campaign_id: str, starting_after_id: str | None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of one loyalty campaign's transactions, in id order, after `starting_after_id`."""
    params: dict[str, Any] = {"order": "id"}
    if starting_after_id:
        params["starting_after_id"] = starting_after_id
    yield from _follow(client, f"/v1/loyalties/{quote(campaign_id, safe='')}/transactions", params)
