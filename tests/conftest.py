"""Fixtures shared by the suite: one sandbox per session (reset before each test), warehouses."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from promosync.connectors.warehouse import Warehouse
from promosync.sandbox.server import Sandbox
from promosync.sandbox.settings import SandboxSettings

# Small and fast for tests; rate limits off unless a test turns them on.
TEST_SETTINGS = dict(
    seed=7,
    customers=300,
    voucherify_requests_per_minute=0,
    talon_one_requests_per_minute=0,
    management_requests_per_second=0,
    async_action_seconds=0.3,
)


def next_millisecond() -> None:
    """Let the clock leave the millisecond the entries were stamped in.

    A window ends (exclusively) at the run's start, to the millisecond: entries stamped in the very
    millisecond a run starts belong to the next run's window, so a test that expects them now
    must not start its run in that same millisecond.
    """
    time.sleep(0.002)


class ApiSession(requests.Session):
    """A requests session bound to one base URL: `session.get("/v1/customers")`."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers.update(headers or {})

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return super().request(method, self.base_url + url, *args, **kwargs)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    """Both simulators, served from a background thread for the whole session."""
    with Sandbox(SandboxSettings(**TEST_SETTINGS)) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """The session's sandbox with test settings, fresh data, no faults and zeroed statistics."""
    for url in (sandbox_server.voucherify_url, sandbox_server.talon_one_url):
        requests.post(f"{url}/_sandbox/reset", json=TEST_SETTINGS, timeout=60).raise_for_status()
    return sandbox_server


@pytest.fixture
def voucherify(sandbox: Sandbox) -> ApiSession:
    """An authenticated session on the Voucherify simulator."""
    settings = sandbox.settings
    return ApiSession(
        sandbox.voucherify_url,
        {"X-App-Id": settings.voucherify_app_id, "X-App-Token": settings.voucherify_app_token},
    )


@pytest.fixture
def talon_one(sandbox: Sandbox) -> ApiSession:
    """An Integration-API session on the Talon.One simulator."""
    return ApiSession(
        sandbox.talon_one_url, {"Authorization": f"ApiKey-v1 {sandbox.settings.talon_one_api_key}"}
    )


@pytest.fixture
def talon_one_management(sandbox: Sandbox) -> ApiSession:
    """A Management-API session on the Talon.One simulator."""
    return ApiSession(
        sandbox.talon_one_url,
        {"Authorization": f"ManagementKey-v1 {sandbox.settings.talon_one_management_key}"},
    )


@pytest.fixture
def voucherify_admin(sandbox: Sandbox) -> ApiSession:
    """The Voucherify simulator's admin API (no auth)."""
    return ApiSession(sandbox.voucherify_url)


@pytest.fixture
def talon_one_admin(sandbox: Sandbox) -> ApiSession:
    """The Talon.One simulator's admin API (no auth)."""
    return ApiSession(sandbox.talon_one_url)


POSTGRES_URL = os.environ.get(
    "PROMOSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path) -> Iterator[Warehouse]:
    """An empty warehouse with promosync's tables: a DuckDB file, or a fresh PostgreSQL schema."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        schema = None
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    store = Warehouse(url)
    store.create_tables()
    yield store
    store.dispose()
    if schema:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
