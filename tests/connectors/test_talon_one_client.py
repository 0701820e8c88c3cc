"""The Talon.One client: per-endpoint pacing of the Management API, path encoding."""

from __future__ import annotations

import time

from promosync.connectors.talon_one import client as api
from promosync.connectors.talon_one.client import talon_one_client


def test_each_management_endpoint_is_paced_on_its_own(sandbox, talon_one_admin) -> None:
    talon_one_admin.put(
        "/_sandbox/config", json={"management_requests_per_second": 3}
    ).raise_for_status()
    settings = sandbox.settings
    t1 = talon_one_client(
        sandbox.talon_one_url, settings.talon_one_api_key, settings.talon_one_management_key
    )
    started = time.monotonic()
    for _ in range(5):  # two endpoints, interleaved: each keeps its own 3-a-second budget
        api.loyalty_programs(t1.management)
        list(api.loyalty_cards(t1.management, 103))
    elapsed = time.monotonic() - started
    assert t1.counters.requests == 10 and t1.counters.rate_limited == 0
    assert 4 / 3 <= elapsed < 10 / 3  # paced per endpoint, not one budget for all


def test_path_values_are_url_encoded() -> None:
    path = api.endpoint(api.ENTITY_TRANSACTIONS["card"], programId=103, entityId="a%b+c@d")
    assert path == "/v1/loyalty_programs/103/cards/a%25b%2Bc%40d/transactions"
    profile = api.endpoint(api.ENTITY_TRANSACTIONS["profile"], programId=1, entityId="tö/1")
    assert profile == "/v1/loyalty_programs/1/profile/t%C3%B6%2F1/transactions"


class _Ledger:
    """A program ledger served newest first in pages, as the Management API lists it."""

    def __init__(self, created: list[str]) -> None:
        self.records = [{"id": 100 - n, "created": at} for n, at in enumerate(created)]

    def get_json(self, path: str, params: dict) -> dict:
        page = self.records[params["skip"] : params["skip"] + params["pageSize"]]
        return {"data": page, "hasMore": params["skip"] + len(page) < len(self.records)}


def test_transactions_whose_instants_trim_their_fractions_are_all_read_once() -> None:
    # Newest first. As text, "…:01Z" sorts after "…:01.5Z" though it is earlier.
    created = [
        "2025-01-01T00:00:02Z",
        "2025-01-01T00:00:01.5Z",
        "2025-01-01T00:00:01Z",
        "2025-01-01T00:00:00.25Z",
        "2025-01-01T00:00:00Z",
    ]
    ledger = _Ledger(created)
    pages = api.program_transactions(ledger, 1, None, "2025-01-02T00:00:00Z", page_size=2)
    read = [record["created"] for page in pages for record in page]
    assert read == created
