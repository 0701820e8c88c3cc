"""Bad input catalogue: credentials, base URLs and warehouse URLs, as `promosync` meets them.

The CLI runs in-process (typer's runner, the same `app` the console script calls); each case
checks the exact message, that no credential is echoed, and that the warehouse kept its rows.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from promosync.connectors.http import ApiError
from promosync.connectors.talon_one import transactions
from promosync.connectors.voucherify import sync
from promosync.connectors.warehouse import Warehouse, WarehouseError
from promosync.pipelines.cli import app
from typer.testing import CliRunner

from tests.conftest import POSTGRES_URL
from tests.reliability.test_bad_input import contents, talon_one_on, voucherify_on

WRONG = "wrong-key-9c1d"  # a credential that must never be echoed


def _env(sandbox, url: str, **changes: str) -> dict[str, str]:
    settings = sandbox.settings
    return {
        "VOUCHERIFY_BASE_URL": sandbox.voucherify_url,
        "VOUCHERIFY_APP_ID": settings.voucherify_app_id,
        "VOUCHERIFY_APP_TOKEN": settings.voucherify_app_token,
        "TALON_ONE_BASE_URL": sandbox.talon_one_url,
        "TALON_ONE_API_KEY": settings.talon_one_api_key,
        "TALON_ONE_MANAGEMENT_KEY": settings.talon_one_management_key,
        "WAREHOUSE_URL": url,
        "DAGSTER_HOME": "",
        "COLUMNS": "2000",  # no wrapping of long messages
        **changes,
    }


def promosync(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run the CLI in-process; its exit code and its output with whitespace runs as one space."""
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def duckdb_url(sandbox, tmp_path) -> str:
    """A DuckDB warehouse file after one good customers sync."""
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    store = Warehouse(url)
    store.create_tables()
    sync.sync_customers(voucherify_on(sandbox), store)
    store.dispose()
    return url


def _contents_of(url: str) -> dict:
    store = Warehouse(url)
    try:
        return contents(store)
    finally:
        store.dispose()


# --- credentials wrong, revoked or expired ------------------------------------------------


@pytest.mark.parametrize("variable", ["VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN"])
def test_voucherify_pull_with_a_wrong_key_says_which_keys_to_check(sandbox, duckdb_url, variable):
    before = _contents_of(duckdb_url)
    code, output = promosync(
        _env(sandbox, duckdb_url, **{variable: WRONG}), "sync", "--only", "voucherify_customers"
    )
    assert code == 1
    assert re.search(
        r"sync failed: voucherify GET /v1/customers failed with HTTP 401: unauthorized:"
        r" Unauthorized \(Invalid X-App-Id or X-App-Token\); check VOUCHERIFY_APP_ID and"
        r" VOUCHERIFY_APP_TOKEN \(wrong, revoked or expired\?\) \(request_id v-\w+\)",
        output,
    ), output
    assert WRONG not in output
    assert _contents_of(duckdb_url) == before


def test_talon_one_pull_with_a_wrong_management_key_says_which_key(sandbox, duckdb_url):
    before = _contents_of(duckdb_url)
    env = _env(sandbox, duckdb_url, TALON_ONE_MANAGEMENT_KEY=WRONG)
    code, output = promosync(env, "sync", "--only", "talon_one_loyalty_programs")
    assert code == 1
    expected = (
        "sync failed: talon_one GET /v1/loyalty_programs failed with HTTP 401: Invalid or missing"
        " API key for this API: Unauthorized Invalid or missing API key for this API; check"
        " TALON_ONE_MANAGEMENT_KEY (wrong, revoked or expired?)"
    )
    assert expected in output
    assert WRONG not in output
    assert _contents_of(duckdb_url) == before


def test_talon_one_pull_with_a_wrong_integration_key_says_which_key(sandbox, warehouse):
    sync.sync_customers(voucherify_on(sandbox), warehouse)  # the profiles to visit
    before = contents(warehouse)
    t1 = talon_one_on(sandbox, api_key=WRONG, management_key="")
    with pytest.raises(
        ApiError,
        match=r"^talon_one GET /v1/loyalty_programs/101/profile/\S+/transactions failed with"
        r" HTTP 401: .*; check TALON_ONE_API_KEY \(wrong, revoked or expired\?\)$",
    ) as raised:
        transactions.sync_transactions(t1, warehouse, programs={101: False})
    assert WRONG not in str(raised.value)
    assert contents(warehouse) == before


def test_key_expired_since_the_last_run_fails_cleanly_and_the_new_key_resumes(
    sandbox, warehouse, voucherify_admin
):
    old = sandbox.settings.voucherify_app_token
    sync.sync_customers(voucherify_on(sandbox), warehouse)
    voucherify_admin.post("/_sandbox/mutate", json={"update_customers": 7}).raise_for_status()
    rotate = {"voucherify_app_token": "rotated-token-4b2e"}
    voucherify_admin.put("/_sandbox/config", json=rotate).raise_for_status()
    try:
        before = contents(warehouse)
        with pytest.raises(ApiError, match=r"HTTP 401: .*; check VOUCHERIFY_APP_ID and VOUCHER"):
            sync.sync_customers(voucherify_on(sandbox, app_token=old), warehouse)
        assert contents(warehouse) == before
        renewed = voucherify_on(sandbox, app_token="rotated-token-4b2e")
        resumed = sync.sync_customers(renewed, warehouse)
    finally:  # the session's sandbox keeps its settings across tests
        voucherify_admin.put("/_sandbox/config", json={"voucherify_app_token": old})
    assert (resumed.inserted, resumed.updated) == (0, 7)
    total = warehouse.query(
        "SELECT count(*) AS n, count(DISTINCT id) AS d FROM voucherify_customers"
    )
    assert total == [{"n": 300, "d": 300}]


def _truth(admin, collection: str) -> list[dict]:
    return admin.get(f"/_sandbox/truth/{collection}").json()


def test_voucherify_push_with_a_wrong_token_sends_nothing_and_saves_no_hash(
    sandbox, duckdb_url, tmp_path, voucherify_admin
):
    upload = tmp_path / "metadata.csv"
    upload.write_text('source_id,metadata\nwp-1,"{""tier"": ""gold""}"\n', encoding="utf-8")
    env = _env(sandbox, duckdb_url, VOUCHERIFY_APP_TOKEN=WRONG)
    code, output = promosync(env, "push", "metadata", "--file", str(upload))
    assert code == 1
    assert re.search(
        r"error: voucherify POST /v1/customers/(metadata|bulk)/async failed with HTTP 401:"
        r" unauthorized: Unauthorized \(Invalid X-App-Id or X-App-Token\); check"
        r" VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN \(wrong, revoked or expired\?\)",
        output,
    ), output
    assert "failed — considered 1, invalid 0, unchanged 0, sent 0, failed 1" in output
    assert WRONG not in output
    after = _contents_of(duckdb_url)
    assert after["push_hashes"] == []
    assert len(after["push_row_results"]) == 1  # the row, rejected with the 401
    assert "wp-1" not in {c["source_id"] for c in _truth(voucherify_admin, "customers")}


def test_talon_one_push_with_a_wrong_key_sends_nothing_and_saves_no_hash(
    sandbox, duckdb_url, tmp_path, talon_one_admin
):
    upload = tmp_path / "profiles.csv"
    upload.write_text("integration_id,tier\ntp-1,gold\n", encoding="utf-8")
    env = _env(sandbox, duckdb_url, TALON_ONE_API_KEY=WRONG)
    code, output = promosync(env, "push", "talon-profiles", "--file", str(upload))
    assert code == 1
    expected = (
        "error: talon_one PUT /v2/customer_profiles failed with HTTP 401: Invalid or missing API"
        " key for this API: Unauthorized Invalid or missing API key for this API; check"
        " TALON_ONE_API_KEY (wrong, revoked or expired?)"
    )
    assert expected in output
    assert WRONG not in output
    assert _contents_of(duckdb_url)["push_hashes"] == []
    assert "tp-1" not in {p["integrationId"] for p in _truth(talon_one_admin, "profiles")}


# --- base URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown", "command"),
    [
        ("api.voucherify.io", "'api.voucherify.io'", "sync"),
        ("https://", "'https://'", "push"),
        ("http://[::1", "'http://[::1'", "push"),
        ("https://user:pw-0f9e@/v1", "'https://***@/v1'", "sync"),
    ],
)
def test_malformed_base_url_is_named_and_no_request_is_made(
    sandbox, duckdb_url, voucherify_admin, tmp_path, url, shown, command
):
    before = _contents_of(duckdb_url)
    requests_before = voucherify_admin.get("/_sandbox/stats").json()["total"]
    env = _env(sandbox, duckdb_url, VOUCHERIFY_BASE_URL=url)
    if command == "sync":
        code, output = promosync(env, "sync", "--only", "voucherify_customers")
    else:
        upload = tmp_path / "metadata.csv"
        upload.write_text('source_id,metadata\nm-1,"{""a"": 1}"\n', encoding="utf-8")
        code, output = promosync(env, "push", "metadata", "--file", str(upload))
    assert code == 1
    expected = (
        f"{command} failed: VOUCHERIFY_BASE_URL={shown} is not an http(s) URL, e.g."
        " https://api.voucherify.io"
    )
    assert expected in output
    assert "pw-0f9e" not in output
    assert _contents_of(duckdb_url) == before
    assert voucherify_admin.get("/_sandbox/stats").json()["total"] == requests_before


def test_unreachable_talon_one_fails_the_push_at_once(sandbox, duckdb_url, tmp_path):
    upload = tmp_path / "profiles.csv"
    upload.write_text("integration_id,tier\ntp-1,gold\n", encoding="utf-8")
    env = _env(sandbox, duckdb_url, TALON_ONE_BASE_URL="http://127.0.0.1:9")
    code, output = promosync(env, "push", "talon-profiles", "--file", str(upload))
    assert code == 1
    expected = (
        "error: talon_one PUT /v2/customer_profiles failed with no answer: cannot connect to"
        " 127.0.0.1:9 (NewConnectionError); check TALON_ONE_BASE_URL"
    )
    assert expected in output
    assert _contents_of(duckdb_url)["push_hashes"] == []


def test_plain_http_to_a_remote_talon_one_is_refused_before_any_request(
    sandbox, duckdb_url, tmp_path
):
    upload = tmp_path / "profiles.csv"
    upload.write_text("integration_id,tier\ntp-1,gold\n", encoding="utf-8")
    env = _env(sandbox, duckdb_url, TALON_ONE_BASE_URL="http://acme.talon.one")
    code, output = promosync(env, "push", "talon-profiles", "--file", str(upload))
    assert code == 1
    expected = (
        "push failed: TALON_ONE_BASE_URL uses plain http to acme.talon.one; credentials would"
        " travel unencrypted. Use https, or a loopback address for the local sandbox."
    )
    assert expected in output


class _WebSite(BaseHTTPRequestHandler):
    """A web site where an API was expected: every GET is a 200 HTML page."""

    def do_GET(self) -> None:
        body = b"<html><head><title>Welcome to nginx!</title></head><body></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WebSite)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_base_url_of_a_web_site_fails_at_once_naming_the_variable(sandbox, duckdb_url, web_site):
    before = _contents_of(duckdb_url)
    env = _env(sandbox, duckdb_url, VOUCHERIFY_BASE_URL=web_site)
    code, output = promosync(env, "sync", "--only", "voucherify_customers")
    assert code == 1
    expected = (
        "sync failed: voucherify GET /v1/customers answered HTTP 200, but the body is text/html"
        " page 'Welcome to nginx!', not JSON: check VOUCHERIFY_BASE_URL (a proxy, a login page or"
        " another web site answered instead of the API)"
    )
    assert expected in output
    assert _contents_of(duckdb_url) == before


# --- warehouse URLs ---------------------------------------------------------------------------

EXAMPLES = "e.g. duckdb:///path/warehouse.duckdb or postgresql+psycopg://user@host/db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "mysql+nosuchdriver://sync:pw-0f9e@db.internal/warehouse",
            "WAREHOUSE_URL 'mysql+nosuchdriver://sync:***@db.internal/warehouse' names no"
            f" installed driver; {EXAMPLES}",
        ),
        ("warehouse.duckdb", f"WAREHOUSE_URL 'warehouse.duckdb' is not a database URL; {EXAMPLES}"),
        (
            "postgresql+psycopg://postgres:pw-0f9e@127.0.0.1:9/test",
            "creating the tables: cannot open the warehouse"
            " postgresql+psycopg://postgres:***@127.0.0.1:9/test: connection failed: connection to"
            ' server at "127.0.0.1", port 9 failed: Connection refused',
        ),
    ],
)
def test_wrong_warehouse_url_fails_at_once_with_what_to_change(
    sandbox, voucherify_admin, tmp_path, monkeypatch, url, expected
):
    monkeypatch.chdir(tmp_path)  # where a relative DuckDB path would land
    code, output = promosync(_env(sandbox, url), "sync", "--only", "voucherify_customers")
    assert code == 1
    assert f"sync failed: {expected}" in output
    assert "pw-0f9e" not in output
    assert list(tmp_path.iterdir()) == []  # no warehouse file appeared anywhere
    assert voucherify_admin.get("/_sandbox/stats").json()["total"] == 0  # nothing was read


def test_missing_postgresql_database_is_named():
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/promosync_no_such_db"
    with pytest.raises(
        WarehouseError,
        match=r"^creating the tables: cannot open the warehouse .*/promosync_no_such_db: .*FATAL:"
        r'  database "promosync_no_such_db" does not exist$',
    ):
        Warehouse(url).create_tables()
    admin = sa.create_engine(POSTGRES_URL)
    with admin.connect() as conn:
        query = "SELECT count(*) FROM pg_database WHERE datname = 'promosync_no_such_db'"
        assert conn.exec_driver_sql(query).scalar_one() == 0  # not created behind the user's back
    admin.dispose()


def test_read_only_duckdb_fails_sync_and_push_and_keeps_its_rows(sandbox, duckdb_url, tmp_path):
    before = _contents_of(duckdb_url)
    read_only = f"{duckdb_url}?access_mode=read_only"
    expected = (
        f"creating the tables: the warehouse {read_only} cannot be written: Invalid Input Error:"
        ' Cannot execute statement of type "CREATE" on database "cli" which is attached in'
        " read-only mode!; give this user write rights (CREATE, INSERT, UPDATE) or point"
        " WAREHOUSE_URL at a writable database"
    )
    code, output = promosync(_env(sandbox, read_only), "sync", "--only", "voucherify_customers")
    assert (code, f"sync failed: {expected}" in output) == (1, True), output
    upload = tmp_path / "profiles.csv"
    upload.write_text("integration_id,tier\ntp-1,gold\n", encoding="utf-8")
    code, output = promosync(
        _env(sandbox, read_only), "push", "talon-profiles", "--file", str(upload)
    )
    assert (code, f"push failed: {expected}" in output) == (1, True), output
    assert _contents_of(duckdb_url) == before


def test_duckdb_file_in_use_by_another_process_is_named(sandbox, duckdb_url):
    before = _contents_of(duckdb_url)
    path = duckdb_url.removeprefix("duckdb:///")
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({path!r}); print(1);"
         " sys.stdout.flush(); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "1"  # the lock is held
        code, output = promosync(_env(sandbox, duckdb_url), "sync", "--only", "voucherify")
    finally:
        holder.communicate(timeout=30)
    assert code == 1
    assert re.search(
        r"sync failed: creating the tables: cannot open the warehouse duckdb:///\S+cli\.duckdb:"
        r" IO Error: Could not set lock on file .*Conflicting lock is held",
        output,
    ), output
    assert _contents_of(duckdb_url) == before


@pytest.fixture
def pg_role() -> Iterator[tuple[sa.Engine, str, str]]:
    """A schema with promosync's tables and one customer, and a login role that may only read."""
    schema, role = f"t_{uuid.uuid4().hex[:12]}", f"reader_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    owner = Warehouse(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    owner.create_tables()
    owner.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
    yield admin, schema, role
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        conn.exec_driver_sql(f"DROP ROLE {role}")
    admin.dispose()


def _as(role: str, schema: str) -> str:
    host = POSTGRES_URL.split("@", 1)[1]
    return f"postgresql+psycopg://{role}@{host}?options=-csearch_path%3D{schema}"


def test_postgresql_role_without_create_rights_is_told_to_get_them(pg_role):
    _, schema, role = pg_role
    owner = Warehouse(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    before = contents(owner)
    with pytest.raises(
        WarehouseError,
        match=rf"^creating the tables: the warehouse postgresql\+psycopg://{role}@\S+ cannot be"
        rf" written: permission denied for schema {schema}; give this user write rights",
    ):
        Warehouse(_as(role, schema)).create_tables()
    assert contents(owner) == before
    owner.dispose()


def test_postgresql_role_that_cannot_insert_stops_the_sync_and_moves_no_cursor(sandbox, pg_role):
    admin, schema, role = pg_role
    with admin.begin() as conn:
        conn.exec_driver_sql(f"GRANT CREATE ON SCHEMA {schema} TO {role}")
    store = Warehouse(_as(role, schema))
    try:
        store.create_tables()  # the tables exist: nothing to create
        with pytest.raises(
            WarehouseError,
            match=r"^voucherify_customers: the warehouse \S+ cannot be written: permission denied"
            r" for table voucherify_customers; give this user write rights",
        ):
            sync.sync_customers(voucherify_on(sandbox), store)
        assert contents(store)["voucherify_customers"] == []
        assert contents(store)["sync_state"] == []
    finally:
        store.dispose()
