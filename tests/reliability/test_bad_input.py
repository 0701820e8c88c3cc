"""Bad input catalogue: answers a connector cannot use (HTML, repeated pages, schema drift).

Each case names the exact error a user reads and checks that the warehouse kept what it had:
its content (every table, `sync_state` included) is compared before and after. The helpers
here (`Tamper`, `contents`) serve the other `test_bad_input_*` modules too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import pytest
from promosync.connectors.http import ApiClient, ApiError, UnexpectedAnswer
from promosync.connectors.talon_one import snapshots, transactions
from promosync.connectors.talon_one.client import TalonOne, talon_one_client
from promosync.connectors.transport import Response, Transport
from promosync.connectors.voucherify import sync
from promosync.connectors.voucherify.client import voucherify_client
from promosync.connectors.warehouse import Warehouse
from urllib3 import HTTPHeaderDict

from tests.reliability import checks

LOGIN_PAGE = b"<!doctype html><html><head><title>Sign in to the proxy</title></head></html>"
BAD_GATEWAY = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


class Tamper:
    """Wraps a client's transport to change what one endpoint is asked or answers.

    `drop` removes query parameters (an API that ignores its cursor), `answer` replaces the
    response with (status, body, content type), `edit` rewrites a JSON body; the first `spare`
    matching requests are left alone. Other endpoints pass untouched.
    """

    def __init__(
        self,
        path: str,
        *,
        drop: tuple[str, ...] = (),
        answer: tuple[int, bytes, str] | None = None,
        edit: Callable[[Any], Any] | None = None,
        spare: int = 0,
    ) -> None:
        self.path, self.drop, self.answer, self.edit, self.spare = path, drop, answer, edit, spare
        self.matched = 0

    def around(self, send: Transport) -> Transport:
        def tampered(method: str, url: str, body: bytes | None, headers) -> Response:
            parts = urlsplit(url)
            if not re.search(self.path, parts.path):
                return send(method, url, body, headers)
            self.matched += 1
            if self.matched <= self.spare:
                return send(method, url, body, headers)
            if self.drop:
                query = [(k, v) for k, v in parse_qsl(parts.query) if k not in self.drop]
                url = urlunsplit(parts._replace(query=urlencode(query)))
            response = send(method, url, body, headers)
            if self.answer is not None:
                status, body, content_type = self.answer
                reason = {403: "Forbidden", 502: "Bad Gateway"}.get(status, "OK")
                headers = HTTPHeaderDict(response.headers)
                headers["Content-Type"] = content_type
                response = Response(status, reason, headers, body)
            if self.edit is not None:
                response.content = orjson.dumps(self.edit(orjson.loads(response.content)))
            return response

        return tampered


def contents(warehouse: Warehouse) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, as text, sorted: equal before and after means nothing moved."""
    return {
        name: sorted(
            tuple(map(str, record.values()))
            for record in warehouse.query(f'SELECT * FROM "{name}"')
        )
        for name in checks.tables(warehouse)
    }


def quick(client: ApiClient, tamper: Tamper | None = None) -> ApiClient:
    """The client with 3 attempts and no real backoff, and `tamper` in front of the sandbox."""
    client.max_attempts, client.max_wait = 3, 0.001
    if tamper is not None:
        client.transport = tamper.around(client.transport)
    return client


def voucherify_on(sandbox, tamper: Tamper | None = None, **keys: str) -> ApiClient:
    """A Voucherify client on the sandbox (its keys, or `app_id` / `app_token` given)."""
    settings = sandbox.settings
    client = voucherify_client(
        sandbox.voucherify_url,
        keys.get("app_id", settings.voucherify_app_id),
        keys.get("app_token", settings.voucherify_app_token),
    )
    return quick(client, tamper)


def talon_one_on(sandbox, tamper: Tamper | None = None, **keys: str) -> TalonOne:
    """Talon.One clients on the sandbox (Management API included unless `management_key=''`)."""
    settings = sandbox.settings
    t1 = talon_one_client(
        sandbox.talon_one_url,
        keys.get("api_key", settings.talon_one_api_key),
        keys.get("management_key", settings.talon_one_management_key),
        management_per_second=None,
    )
    for client in (t1.integration, t1.management):
        if client is not None:
            quick(client, tamper)
    return t1


@pytest.fixture
def duck(tmp_path) -> Warehouse:
    """A DuckDB warehouse, for cases whose outcome does not depend on the database."""
    store = Warehouse(f"duckdb:///{tmp_path / 'bad-input.duckdb'}")
    store.create_tables()
    yield store
    store.dispose()


@pytest.fixture
def synced(sandbox, duck) -> Warehouse:
    """The DuckDB warehouse after one good customers sync: something there to lose."""
    assert sync.sync_customers(voucherify_on(sandbox), duck).inserted == 300
    return duck


@pytest.fixture
def synced_both(sandbox, warehouse) -> Warehouse:
    """DuckDB and PostgreSQL, each after one good customers sync."""
    assert sync.sync_customers(voucherify_on(sandbox), warehouse).inserted == 300
    return warehouse


# --- an answer that is not the API's JSON ---------------------------------------------------


def test_web_page_instead_of_the_api_fails_at_once_naming_the_base_url(sandbox, synced):
    html = Tamper(r"^/v1/customers$", answer=(200, LOGIN_PAGE, "text/html; charset=utf-8"))
    client = voucherify_on(sandbox, html)
    before = contents(synced)
    expected = (
        "voucherify GET /v1/customers answered HTTP 200, but the body is text/html page"
        " 'Sign in to the proxy', not JSON: check VOUCHERIFY_BASE_URL (a proxy, a login page or"
        " another web site answered instead of the API)"
    )
    with pytest.raises(UnexpectedAnswer, match=re.escape(expected)):
        sync.sync_customers(client, synced, full_refresh=True)
    assert client.counters.requests == 1  # not retried: the API was never reached
    assert contents(synced) == before


def test_proxy_page_mid_run_is_retried_then_named_with_endpoint_and_type(sandbox, synced):
    html = Tamper(r"^/v1/customers$", answer=(200, LOGIN_PAGE, "text/html"), spare=1)
    client = voucherify_on(sandbox, html)
    before = contents(synced)
    expected = (
        "voucherify GET /v1/customers answered HTTP 200, but the body is text/html page"
        " 'Sign in to the proxy', not JSON (gave up after 3 attempts)"
    )
    with pytest.raises(UnexpectedAnswer, match=re.escape(expected)):
        sync.sync_customers(client, synced, full_refresh=True)
    assert client.counters.requests == 1 + 3
    assert contents(synced) == before


def test_proxy_502_page_mid_run_is_retried_and_reported_as_a_proxy_page(sandbox, synced):
    # After the API has answered once (at the first contact it fails at once: test_hostile_servers)
    client = voucherify_on(
        sandbox, Tamper("^/v1/customers$", answer=(502, BAD_GATEWAY, "text/html"), spare=1)
    )
    before = contents(synced)
    expected = (
        "voucherify GET /v1/customers failed with HTTP 502: HTTP 502 with a text/html page"
        " '502 Bad Gateway' body, not the API's JSON (a proxy's page?) (gave up after 3 attempts)"
    )
    with pytest.raises(ApiError, match=re.escape(expected)):
        sync.sync_customers(client, synced, full_refresh=True)
    assert client.counters.requests == 1 + 3
    assert contents(synced) == before


def test_firewall_403_page_names_the_base_url_not_the_key(sandbox, duck):
    page = b"<html><title>Access denied</title></html>"
    t1 = talon_one_on(sandbox, Tamper("^/v1/loyalty_programs$", answer=(403, page, "text/html")))
    before = contents(duck)
    expected = (
        "talon_one GET /v1/loyalty_programs failed with HTTP 403: Forbidden (text/html page"
        " 'Access denied', not the API's JSON: check TALON_ONE_BASE_URL)"
    )
    with pytest.raises(ApiError, match=re.escape(expected)):
        snapshots.sync_programs(t1, duck)
    assert t1.counters.requests == 1
    assert contents(duck) == before


def test_json_cut_short_is_retried_then_named(sandbox, synced):
    cut = Tamper("^/v1/customers$", answer=(200, b'{"customers": [{"id": "cu', "application/json"))
    client = voucherify_on(sandbox, cut)
    before = contents(synced)
    expected = (
        "voucherify GET /v1/customers answered HTTP 200, but the JSON body is cut short or"
        " unparsable (gave up after 3 attempts)"
    )
    with pytest.raises(UnexpectedAnswer, match=re.escape(expected)):
        sync.sync_customers(client, synced)
    assert client.counters.requests == 3
    assert contents(synced) == before


def test_json_of_another_shape_is_refused_not_read_as_no_customers(sandbox, synced):
    other = Tamper(
        "^/v1/customers$", answer=(200, b'{"status": "maintenance"}', "application/json")
    )
    client = voucherify_on(sandbox, other)
    before = contents(synced)
    expected = "voucherify GET /v1/customers answered HTTP 200, but its body has no customers"
    with pytest.raises(UnexpectedAnswer, match=re.escape(expected)):
        sync.sync_customers(client, synced, full_refresh=True)
    assert contents(synced) == before


# --- a page that repeats its cursor -------------------------------------------------------


def test_customers_api_ignoring_the_cursor_stops_instead_of_looping(sandbox, synced):
    client = voucherify_on(sandbox, Tamper("^/v1/customers$", drop=("updated_at[after]",)))
    before = contents(synced)
    with pytest.raises(
        UnexpectedAnswer,
        match=r"voucherify GET /v1/customers answered HTTP 200, but the page after updated_at"
        r" \S+ starts at \S+, not after it: the API ignored the cursor; stopped so as not to loop",
    ):
        sync.sync_customers(client, synced, full_refresh=True)
    assert client.counters.requests == 2
    assert contents(synced) == before


def test_tie_group_api_ignoring_page_stops_instead_of_reading_it_99_times(
    sandbox, synced, voucherify_admin
):
    storm = {"tie_storm": {"count": 150, "updated_at": "2025-06-01T00:00:00Z"}}
    voucherify_admin.post("/_sandbox/mutate", json=storm).raise_for_status()
    client = voucherify_on(sandbox, Tamper("^/v1/customers$", drop=("page",)))
    before = contents(synced)
    expected = (
        "voucherify GET /v1/customers answered HTTP 200, but page 2 of the customers sharing"
        " updated_at 2025-06-01T00:00:00.000Z repeats page 1: the API ignored `page`;"
        " stopped so as not to loop"
    )
    with pytest.raises(UnexpectedAnswer, match=re.escape(expected)):
        sync.sync_customers(client, synced, full_refresh=True)
    assert client.counters.requests < 10
    assert contents(synced) == before


def test_activity_list_repeating_its_page_stops_instead_of_looping(
    sandbox, synced, voucherify_admin
):
    busy = synced.query("SELECT id FROM voucherify_customers ORDER BY id LIMIT 1")[0]["id"]
    extra = {"add_activities": {"customers": [busy], "per_customer": 120}}
    voucherify_admin.post("/_sandbox/mutate", json=extra).raise_for_status()
    client = voucherify_on(sandbox, Tamper("/activity$", drop=("starting_after_id",)))
    before = contents(synced)
    with pytest.raises(
        UnexpectedAnswer,
        match=rf"voucherify GET /v1/customers/{busy}/activity answered HTTP 200, but has_more"
        r" with the page after 'evcus_\w+' again instead of the next one: stopped so as not to"
        r" loop \(the cursor stays at the last page committed\)",
    ):
        sync.sync_activities(client, synced, full_sweep=True)
    assert contents(synced) == before


def test_talon_one_list_ignoring_skip_stops_instead_of_looping(sandbox, duck):
    t1 = talon_one_on(sandbox)
    snapshots.sync_programs(t1, duck)
    before = contents(duck)
    t1 = talon_one_on(sandbox, Tamper("/transactions$", drop=("skip",)))
    with pytest.raises(
        UnexpectedAnswer,
        match=r"talon_one GET /v1/loyalty_programs/\d+/transactions answered HTTP 200, but the"
        r" page at skip=99 repeats the page before it: the API ignored skip; stopped so as not"
        r" to loop \(the cursor stays at the last window committed\)",
    ):
        transactions.sync_transactions(t1, duck, page_size=100)
    assert t1.counters.requests == 2  # the first page, and its repetition: then it stops
    assert contents(duck) == before


@pytest.mark.parametrize(
    ("platform", "path", "empty", "expected"),
    [
        (
            "voucherify", "/activity$", {"object": "list", "data": [], "has_more": True},
            r"voucherify GET /v1/customers/\w+/activity answered HTTP 200, but has_more with an"
            r" empty page$",
        ),
        (
            "talon_one", "/transactions$", {"data": [], "hasMore": True},
            r"talon_one GET /v1/loyalty_programs/\d+/transactions answered HTTP 200, but hasMore"
            r" is true with an empty page at skip=0$",
        ),
    ],
)  # fmt: skip
def test_more_promised_with_an_empty_page_stops_with_an_error(
    sandbox, synced, platform, path, empty, expected
):
    snapshots.sync_programs(talon_one_on(sandbox), synced)
    before = contents(synced)
    answer = (200, orjson.dumps(empty), "application/json")
    with pytest.raises(UnexpectedAnswer, match=expected):
        if platform == "voucherify":
            sync.sync_activities(voucherify_on(sandbox, Tamper(path, answer=answer)), synced)
        else:
            transactions.sync_transactions(
                talon_one_on(sandbox, Tamper(path, answer=answer)), synced
            )
    assert contents(synced) == before


# --- schema drift -----------------------------------------------------------------------------


def _each_customer(change: Callable[[dict], None]) -> Callable[[Any], Any]:
    def edit(body: Any) -> Any:
        for customer in body["customers"]:
            change(customer)
        return body

    return edit


def test_unknown_new_field_is_kept_in_raw(sandbox, warehouse):
    new = {"tier_v2": {"name": "gold", "since": "2025-01-01"}, "consents": ["email", "sms"]}
    edit = _each_customer(lambda customer: customer.update(new))
    report = sync.sync_customers(
        voucherify_on(sandbox, Tamper("^/v1/customers$", edit=edit)), warehouse
    )
    assert report.inserted == 300
    rows = warehouse.query("SELECT id, email, _raw FROM voucherify_customers")
    raws = [orjson.loads(r["_raw"]) if isinstance(r["_raw"], str) else r["_raw"] for r in rows]
    assert all(
        raw["tier_v2"] == new["tier_v2"] and raw["consents"] == new["consents"] for raw in raws
    )
    typed = [(row["id"], row["email"]) for row in rows]
    assert typed == [(raw["id"], raw.get("email")) for raw in raws]


def _kept(warehouse: Warehouse) -> dict[str, list[tuple[str, ...]]]:
    """Every table but the rejects and the cursors, as `contents` gives them."""
    held = contents(warehouse)
    held.pop("sync_state")
    held.pop("sync_rejects")
    return held


def _rejects(warehouse: Warehouse) -> list[dict[str, Any]]:
    return warehouse.query("SELECT stream, record_key, field, reason FROM sync_rejects")


@pytest.mark.parametrize("value", ["yesterday", 1700000000, None])
def test_updated_at_that_is_no_instant_rejects_that_customer_and_the_rest_land(
    sandbox, synced, value
):
    changed: list[str] = []

    def drift(body: Any) -> Any:
        if not changed:  # one customer of the first page
            body["customers"][4]["updated_at"] = value
            changed.append(body["customers"][4]["id"])
        return body

    client = voucherify_on(sandbox, Tamper("^/v1/customers$", edit=drift))
    report = sync.sync_customers(client, synced, full_refresh=True)
    assert (report.rejected, report.updated) == (1, 299)
    (reject,) = _rejects(synced)
    assert (reject["record_key"], reject["field"]) == (changed[0], "updated_at")
    reason = "is null where a value is required" if value is None else "not an ISO 8601 date-time"
    assert reason in reject["reason"]


def test_number_field_turned_text_rejects_each_record_with_the_reason(sandbox, synced_both):
    edit = _each_customer(lambda customer: customer.update(loyalty={"points": "lots"}))
    client = voucherify_on(sandbox, Tamper("^/v1/customers$", edit=edit))
    before = _kept(synced_both)
    report = sync.sync_customers(client, synced_both, full_refresh=True)
    assert (report.rejected, report.written) == (300, 0)
    assert _kept(synced_both) == before  # no row was overwritten
    rejects = _rejects(synced_both)
    assert len(rejects) == 300
    assert {(r["field"], r["reason"]) for r in rejects} == {
        ("loyalty_points", "is a str 'lots', not an integer")
    }


def test_talon_one_amount_turned_text_rejects_each_entry(sandbox, warehouse):
    snapshots.sync_programs(talon_one_on(sandbox), warehouse)

    def drift(body: Any) -> Any:
        for entry in body["data"]:
            entry["amount"] = "ten"
        return body

    t1 = talon_one_on(sandbox, Tamper("/transactions$", edit=drift))
    report = transactions.sync_transactions(t1, warehouse)
    assert report.written == 0 and report.rejected > 0
    assert {(r["field"], r["reason"]) for r in _rejects(warehouse)} == {
        ("amount", "is a str 'ten', not a number")
    }
