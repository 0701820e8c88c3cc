"""Talon.One endpoints the streams read: Integration API (`ApiKey-v1`) and Management API."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from promosync.connectors.cursor import parse_instant
from promosync.connectors.http import (
    ApiClient,
    ConfigError,
    HttpSettings,
    RateLimiter,
    RequestCounters,
    UnexpectedAnswer,
    check_base_url,
)
from promosync.connectors.secrets import credential

MAX_PAGE_SIZE = 1000  # the largest `pageSize` every list accepts
MANAGEMENT_PER_SECOND = 3.0  # "3 requests per second for each of these endpoints"
# Paced a little under the limit: the server's one-second window starts when a request arrives.
PACING_MARGIN = 0.9

PROGRAM = "/v1/loyalty_programs/{programId}"
PROGRAMS = "/v1/loyalty_programs"
PROGRAM_TRANSACTIONS = PROGRAM + "/transactions"
CARDS = PROGRAM + "/cards"
CUSTOMERS = "/v1/customers/no_total"
CUSTOMER_BALANCES_EXPORT = PROGRAM + "/export_customer_balances"
CARD_BALANCES_EXPORT = PROGRAM + "/export_card_balances"
MANAGEMENT_ENDPOINTS = (PROGRAMS, PROGRAM_TRANSACTIONS, CARDS, CUSTOMERS)
MANAGEMENT_ENDPOINTS += (CUSTOMER_BALANCES_EXPORT, CARD_BALANCES_EXPORT)
# Integration API ledgers of one entity: `kind` is "profile" or "card".
ENTITY_TRANSACTIONS = {
    "profile": PROGRAM + "/profile/{entityId}/transactions",
    "card": PROGRAM + "/cards/{entityId}/transactions",
}
ENTITY_BALANCES = {
    "profile": PROGRAM + "/profile/{entityId}/balances",
    "card": PROGRAM + "/cards/{entityId}/balances",
}


def endpoint(template: str, **values: object) -> str:
    """A path from its template, every value URL-encoded (card codes may hold `%`, `+`, `@`)."""
    return template.format(**{key: quote(str(value), safe="") for key, value in values.items()})


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$")


class EndpointPacedClient(ApiClient):
    """An ApiClient that also paces each endpoint template with a limiter of its own."""

    def __init__(
        self, *args: Any, templates: tuple[str, ...], per_second: float | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        per_minute = per_second * 60 * PACING_MARGIN if per_second else None
        self.endpoint_limiters = [
            (_pattern(template), RateLimiter(per_minute, burst=1)) for template in templates
        ]

    def _attempt(self, method: str, path: str, *args: Any) -> Any:
        for pattern, limiter in self.endpoint_limiters:
            if pattern.match(path):
                limiter.acquire()
                break
        return super()._attempt(method, path, *args)


@dataclass
class TalonOne:
    """The Integration API client, and the Management API client when a key was given."""

    integration: ApiClient
    management: ApiClient | None

    @property
    def counters(self) -> RequestCounters:
        """Requests spent by both clients together."""
        clients = [c for c in (self.integration, self.management) if c is not None]
        return RequestCounters.combined(c.counters for c in clients)


def talon_one_client(
    base_url: str,
    api_key: str,
    management_key: str = "",
    *,
    requests_per_minute: float | None = None,
    management_per_second: float | None = MANAGEMENT_PER_SECOND,
    settings: HttpSettings | None = None,
) -> TalonOne:
    """Clients for the Integration API and, with a Management key, the Management API.

    Every value is checked before any request (`credential`, `check_base_url`); `settings` are
    the request limits (None: from the environment).
    """
    url = check_base_url(base_url, "TALON_ONE_BASE_URL")
    api_key = credential("TALON_ONE_API_KEY", api_key)
    management_key = credential("TALON_ONE_MANAGEMENT_KEY", management_key)
    if not api_key:
        raise ConfigError("set TALON_ONE_API_KEY (Application > Settings > Integration API Keys)")
    settings = settings or HttpSettings.from_env()
    integration = ApiClient(
        "talon_one", url, {"Authorization": f"ApiKey-v1 {api_key}"},
        requests_per_minute=requests_per_minute, settings=settings,
        base_url_name="TALON_ONE_BASE_URL", credentials_name="TALON_ONE_API_KEY",
    )  # fmt: skip
    management = None
    if management_key:
        management = EndpointPacedClient(
            "talon_one", url, {"Authorization": f"ManagementKey-v1 {management_key}"},
            templates=MANAGEMENT_ENDPOINTS, per_second=management_per_second, settings=settings,
            base_url_name="TALON_ONE_BASE_URL", credentials_name="TALON_ONE_MANAGEMENT_KEY",
        )  # fmt: skip
    return TalonOne(integration, management)


def offset_pages(
    client: ApiClient,
    path: str,
    params: Mapping[str, Any],
    page_size: int = MAX_PAGE_SIZE,
    order: Callable[[dict[str, Any]], Any] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of an offset list (`pageSize` / `skip`) until `hasMore` is false.

    With `order` (a key that grows along the list), each page after the first starts on the
    last record already read, so rows deleted meanwhile cannot shift an unread row out of sight:
    the page keeps only records past that one, and when that record is no longer there (rows
    before it went away), the request steps back a page until it is found.

    A page equal to the one before it (same size, first and last record) means the API ignored
    `skip`: the list would never end, so it stops with an error instead.
    """
    skip, last, previous = 0, None, None
    while True:
        body = client.get_json(path, {**params, "pageSize": page_size, "skip": skip})
        records = body.get("data") or []
        signature = (len(records), records[:1], records[-1:])
        if records and signature == previous:
            raise UnexpectedAnswer(
                "talon_one", "GET", path,
                f"the page at skip={skip} repeats the page before it: the API ignored skip;"
                " stopped so as not to loop (the cursor stays at the last window committed)",
            )  # fmt: skip
        previous = signature
        if order is not None and last is not None:
            fresh = [record for record in records if order(record) > last]
            if skip > 0 and records and len(fresh) == len(records):
                skip = max(0, skip - page_size)  # the overlap is gone: rows before it were deleted
                continue
            skip, records = skip + len(records) - len(fresh), fresh
        yield records
        if not body.get("hasMore"):
            return
        if not records:
            raise UnexpectedAnswer(
                "talon_one", "GET", path, f"hasMore is true with an empty page at skip={skip}"
            )
        skip += len(records)
        if order is not None:
            last = order(records[-1])
            skip -= 1  # one record of overlap


def _by_id(record: dict[str, Any]) -> Any:
    return record["id"]


def _newest_first(record: dict[str, Any]) -> Any:
    # Compared as instants: text would misorder `…:00Z` and `…:00.5Z` (trimmed fractions).
    return (-parse_instant(record["created"]).timestamp(), -record["id"])


def window_params(start: str | None, end: str) -> dict[str, str]:
    """`startDate` (inclusive) and `endDate` (exclusive) of a closed transaction window."""
    return {"endDate": end} if start is None else {"startDate": start, "endDate": end}


def loyalty_programs(management: ApiClient) -> list[dict[str, Any]]:
    """Every loyalty program of the account (the endpoint has no paging)."""
    return management.get_json(PROGRAMS).get("data") or []


def loyalty_cards(management: ApiClient, program_id: int) -> Iterator[list[dict[str, Any]]]:
    """Pages of a card-based program's cards, with their ledgers and linked profiles."""
    return offset_pages(
        management, endpoint(CARDS, programId=program_id), {"sort": "id"}, order=_by_id
    )


def customer_profiles(management: ApiClient) -> Iterator[list[dict[str, Any]]]:
    """Pages of the account's customer profiles, in creation order."""
    return offset_pages(management, CUSTOMERS, {}, order=_by_id)


def program_transactions(
    management: ApiClient, program_id: int, start: str | None, end: str, page_size: int
) -> Iterator[list[dict[str, Any]]]:
    """Pages of a program's whole ledger created in [start, end), newest first."""
    path = endpoint(PROGRAM_TRANSACTIONS, programId=program_id)
    return offset_pages(management, path, window_params(start, end), page_size, _newest_first)


def entity_transactions(
    integration: ApiClient,
    program_id: int,
    kind: str,
    entity_id: str,
    start: str | None,
    end: str,
    page_size: int,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of one profile's or card's ledger created in [start, end), newest first."""
    path = endpoint(ENTITY_TRANSACTIONS[kind], programId=program_id, entityId=entity_id)
    return offset_pages(integration, path, window_params(start, end), page_size)


def entity_balances(
    integration: ApiClient, program_id: int, kind: str, entity_id: str, as_of: str
) -> dict[str, Any]:
    """One profile's or card's balances, main ledger and subledgers, as of `as_of`."""
    path = endpoint(ENTITY_BALANCES[kind], programId=program_id, entityId=entity_id)
    return integration.get_json(path, {"endDate": as_of})


def balances_export(
    management: ApiClient, program_id: int, card_based: bool, as_of: str
) -> list[dict[str, str]]:
    """Every ledger's balances of a program as of `as_of`, from its CSV export (one request)."""
    template = CARD_BALANCES_EXPORT if card_based else CUSTOMER_BALANCES_EXPORT
    path = endpoint(template, programId=program_id)
    text = management.request("GET", path, params={"endDate": as_of}).text
    return list(csv.DictReader(io.StringIO(text)))
