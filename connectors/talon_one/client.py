"""Talon.One endpoints the streams read: Integration API (`ApiKey-v1`) and Management API."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from promosync.connectors.cursor import TICK, format_instant, parse_instant
from promosync.connectors.http import (
    ApiClient,
    ConfigError,
    HttpSettings,
    RateLimiter,
    RequestCounters,
    check_base_url,
)
from promosync.connectors.keyset import instant_or_none
from promosync.connectors.offsets import Offset
from promosync.connectors.paging import JsonClient, Listing, Page, pages, path
from promosync.connectors.ratelimit import SharedPace
from promosync.connectors.readable import read_csv
from promosync.connectors.secrets import credential
from promosync.connectors.stream import Stream
from promosync.connectors.talon_one.streams import (
    BALANCES,
    CARDS,
    PROFILES,
    PROGRAMS,
    TRANSACTIONS,
)

MANAGEMENT_PER_SECOND = 3.0  # "3 requests per second for each of these endpoints"
# Paced a little under the limit: the server's one-second window starts when a request arrives.
PACING_MARGIN = 0.9

PROGRAM = "/v1/loyalty_programs/{programId}"
CARD_BALANCES_EXPORT = PROGRAM + "/export_card_balances"  # card programs' BALANCES export
MANAGEMENT_ENDPOINTS = (
    PROGRAMS.endpoint,
    TRANSACTIONS.endpoint,
    CARDS.endpoint,
    PROFILES.endpoint,
    BALANCES.endpoint,
    CARD_BALANCES_EXPORT,
)
# Integration API ledgers of one entity: `kind` is "profile" or "card".
ENTITY_TRANSACTIONS = {
    "profile": PROGRAM + "/profile/{entityId}/transactions",
    "card": PROGRAM + "/cards/{entityId}/transactions",
}
ENTITY_BALANCES = {
    "profile": PROGRAM + "/profile/{entityId}/balances",
    "card": PROGRAM + "/cards/{entityId}/balances",
}
endpoint = path  # a path from its template, every value URL-encoded
EPOCH = "1970-01-01T00:00:00.000Z"  # where a program's or a ledger's first window starts


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$")


class EndpointPacedClient(ApiClient):
    """An ApiClient that also paces each endpoint template with a limiter of its own."""

    def __init__(
        self, *args: Any, templates: tuple[str, ...], per_second: float | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        per_minute = per_second * 60 * PACING_MARGIN if per_second else None
        # Each endpoint's pace is shared by the processes of this host using the same key.
        self.endpoint_limiters = [
            (_pattern(template), RateLimiter(per_minute, burst=1, shared=self._pace(template)))
            for template in templates
        ]

    def _pace(self, template: str) -> SharedPace:
        return SharedPace(self.budget_identity + template)

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


def _by_id(record: dict[str, Any]) -> Any:
    identity = record.get("id")
    return identity if isinstance(identity, int) else None


def _by_creation(record: dict[str, Any]) -> Any:
    """A ledger entry's place in its log: (created, id); None where either is unreadable."""
    created = instant_or_none(record.get(TRANSACTIONS.required("cursor_field")))
    identity = record.get("id")
    return (created, identity) if created is not None and isinstance(identity, int) else None


def snapshot_walk(stream: Stream) -> Offset:
    """The walk of a list read whole (profiles, cards): its `settled` says whether deletes may be
    marked from it (connectors/offsets.py)."""
    return Offset(stream.required("page_size"), _by_id, snapshot=True)


def window_params(start: str | None, end: str) -> dict[str, str]:
    """`startDate` and `endDate` that ask for at least [start, end) under every reading.

    Either bound may be inclusive or exclusive (the spec does not say): `startDate` goes a tick
    early and `endDate` as is, and `in_window` drops what lands outside. `startDate` is always
    sent, from the epoch for a first window: a log asked without it may list only its last 50
    entries ("If no filters are applied ...").
    """
    since = EPOCH if start is None else format_instant(parse_instant(start) - TICK)
    return {"startDate": since, "endDate": end}


def in_window(pages: Iterable[Page], start: str | None, end: str) -> Iterator[Page]:
    """The entries of `pages` created in [start, end); one whose `created` is unreadable is kept
    (the writer rejects it with its reason)."""
    low = parse_instant(start) if start else None
    high = parse_instant(end)
    for page in pages:
        kept = []
        for record in page:
            created = instant_or_none(record.get(TRANSACTIONS.required("cursor_field")))
            if created is None or ((low is None or created >= low) and created < high):
                kept.append(record)
        yield Page(kept, page.cursor)


def loyalty_programs(management: JsonClient) -> list[dict[str, Any]]:
    """Every loyalty program of the account (the endpoint has no paging)."""
    return Listing.of(management, PROGRAMS).get()[1]


def loyalty_cards(
    management: JsonClient, program_id: int, walk: Offset | None = None
) -> Iterator[Page]:
    """Pages of a card-based program's cards, with their ledgers and linked profiles.

    `sort=id` is asked, but the spec warns a sort may not be usable: `walk` holds whatever order
    the list really came in."""
    paginator = walk or snapshot_walk(CARDS)
    return pages(management, CARDS, paginator, params={"sort": "id"}, programId=program_id)


def customer_profiles(management: JsonClient, walk: Offset | None = None) -> Iterator[Page]:
    """Pages of the account's customer profiles, in whatever order the API lists them."""
    return pages(management, PROFILES, walk or snapshot_walk(PROFILES))


def program_transactions(
    management: JsonClient, program_id: int, start: str | None, end: str, page_size: int
) -> Iterator[Page]:
    """Pages of a program's whole ledger created in [start, end), newest or oldest first."""
    listed = pages(
        management, TRANSACTIONS, Offset(page_size, _by_creation),
        params=window_params(start, end), programId=program_id,
    )  # fmt: skip
    return in_window(listed, start, end)


def entity_transactions(
    integration: JsonClient,
    program_id: int,
    kind: str,
    entity_id: str,
    start: str | None,
    end: str,
    page_size: int,
) -> Iterator[Page]:
    """Pages of one profile's or card's ledger created in [start, end), in either order."""
    listed = pages(
        integration, TRANSACTIONS, Offset(page_size, _by_creation),
        template=ENTITY_TRANSACTIONS[kind], params=window_params(start, end),
        programId=program_id, entityId=entity_id,
    )  # fmt: skip
    return in_window(listed, start, end)


def entity_balances(
    integration: JsonClient, program_id: int, kind: str, entity_id: str, as_of: str
) -> dict[str, Any]:
    """One profile's or card's balances, main ledger and subledgers, as of `as_of`."""
    where = path(ENTITY_BALANCES[kind], programId=program_id, entityId=entity_id)
    return integration.get_json(where, {"endDate": as_of})


def balances_export(
    management: ApiClient, program_id: int, card_based: bool, as_of: str
) -> list[dict[str, Any]]:
    """Every ledger's balances of a program as of `as_of`, from its CSV export (one request);
    a row with more or fewer fields than the header is kept for the writer to reject."""
    template = CARD_BALANCES_EXPORT if card_based else BALANCES.endpoint
    where = path(template, programId=program_id)
    return read_csv(management.request("GET", where, params={"endDate": as_of}).text)
