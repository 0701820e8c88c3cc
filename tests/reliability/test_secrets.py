"""Secrets: runs with recognisable fake keys, then a scan of everything they left for those keys.

A sandbox of its own accepts the fake keys. The runs go through the real entry points: the
`promosync` command in a subprocess (pull of both platforms, a wrong key), the same CLI in-process
with faults on (retries logged), and the Dagster push jobs, all with a DAGSTER_HOME in tmp. Then
stdout/stderr, log records, exception texts, every file under DAGSTER_HOME (event log, run storage,
compute logs), the event log entries and runs as the instance serves them, and every column of
every table of the DuckDB and PostgreSQL warehouses are searched for each key, as it is, URL-encoded
and base64-encoded.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pytest
import requests
import sqlalchemy as sa
from dagster._serdes import serialize_value
from promosync.connectors.http import ApiError
from promosync.connectors.talon_one import balances, snapshots, transactions
from promosync.connectors.talon_one.client import talon_one_client
from promosync.connectors.transport import Response
from promosync.connectors.voucherify.client import voucherify_client
from promosync.connectors.warehouse import Warehouse
from promosync.pipelines.cli import app
from promosync.pipelines.definitions import defs
from promosync.sandbox.server import Sandbox
from promosync.sandbox.settings import SandboxSettings
from typer.testing import CliRunner

from tests.conftest import POSTGRES_URL

KEYS = {
    "voucherify_app_id": "VFY-APPID-3e1b7c0d5a9f",
    "voucherify_app_token": "VFY-SECRET-7f3a9d2c4b1e",
    "talon_one_api_key": "T1-APIKEY-5c8e2a9f0d3b",
    "talon_one_management_key": "T1-MGMT-0b6d4f1a7e2c",
}
WRONG_TOKEN = "VFY-WRONG-91c4e7a2b8d0"  # sent once, on purpose: must not be echoed either
FAULTS = {"server_error": 0.2, "rate_limited": 0.1, "dropped_connection": 0.1,
          "truncated_body": 0.1, "retry_after_seconds": 0}  # fmt: skip


def forms(secret: str) -> set[str]:
    """The secret as it is, URL-encoded, and base64-encoded at each of the three alignments."""
    found = {secret, quote(secret, safe=""), quote(secret)}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret.encode()).decode()
        found.add(encoded[4 if shift else 0 : -4])  # only the characters the secret alone sets
        found.add(encoded[4 if shift else 0 : -4].replace("+", "-").replace("/", "_"))
    return found


NEEDLES = {
    form: name for name, key in [*KEYS.items(), ("wrong", WRONG_TOKEN)] for form in forms(key)
}


def hits(text: str | bytes, where: str) -> list[str]:
    """Every (form of a) key found in `text`, named with where it was found."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return [f"{NEEDLES[needle]} in {where}" for needle in NEEDLES if needle in text]


def test_the_needles_would_find_a_key_in_each_form() -> None:
    token = KEYS["voucherify_app_token"]
    assert hits(token, "raw") and hits(quote(f"x={token}&"), "url")
    for prefix in ("", "a", "ab"):
        assert hits(base64.b64encode(f"{prefix}{token}:".encode()), f"base64 {prefix!r}")
    assert not hits("VFY-SECRET-7f3a9d2c4b1", "a shorter text")


@dataclass
class Evidence:
    """Everything the runs left that a person or a tool could read."""

    texts: dict[str, str] = field(default_factory=dict)
    dagster_homes: list[Path] = field(default_factory=list)
    warehouses: list[str] = field(default_factory=list)


def _settings() -> SandboxSettings:
    return SandboxSettings(
        seed=11, customers=60, voucherify_requests_per_minute=0, talon_one_requests_per_minute=0,
        management_requests_per_second=0, async_action_seconds=0.05, **KEYS,
    )  # fmt: skip


@pytest.fixture(scope="module")
def secret_sandbox() -> Iterator[Sandbox]:
    with Sandbox(_settings()) as server:
        yield server


@pytest.fixture(scope="module")
def faulty_sandbox() -> Iterator[Sandbox]:
    """A second sandbox with the same keys, for the run with faults on (its draws are its own)."""
    with Sandbox(_settings()) as server:
        _faults(server, FAULTS)
        yield server


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def _talon_one_into(sandbox: Sandbox, url: str) -> None:
    """Every Talon.One stream into `url`, through the connector functions (no Dagster)."""
    t1 = talon_one_client(
        sandbox.talon_one_url, KEYS["talon_one_api_key"], KEYS["talon_one_management_key"],
        management_per_second=None,
    )  # fmt: skip
    store = Warehouse(url)
    store.create_tables()
    try:
        for sync_stream in (snapshots.sync_programs, snapshots.sync_profiles, snapshots.sync_cards,
                            transactions.sync_transactions, balances.sync_balances):  # fmt: skip
            assert sync_stream(t1, store).written > 0
    finally:
        store.dispose()


def _faults(sandbox: Sandbox, config: dict) -> None:
    for url in (sandbox.voucherify_url, sandbox.talon_one_url):
        requests.put(f"{url}/_sandbox/faults", json=config, timeout=10).raise_for_status()


@pytest.fixture(scope="module")
def evidence(secret_sandbox, faulty_sandbox, pg_schema, tmp_path_factory) -> Evidence:
    """Run pull, push, a wrong key and faults with the fake keys; collect what they left."""
    tmp = tmp_path_factory.mktemp("secrets")
    homes = [tmp / "dagster_cli", tmp / "dagster_in_process"]
    for home in homes:
        home.mkdir()
    duck_cli, duck = (f"duckdb:///{tmp / name}" for name in ("cli.duckdb", "warehouse.duckdb"))
    env = {
        "VOUCHERIFY_BASE_URL": secret_sandbox.voucherify_url,
        "VOUCHERIFY_APP_ID": KEYS["voucherify_app_id"],
        "VOUCHERIFY_APP_TOKEN": KEYS["voucherify_app_token"],
        "TALON_ONE_BASE_URL": secret_sandbox.talon_one_url,
        "TALON_ONE_API_KEY": KEYS["talon_one_api_key"],
        "TALON_ONE_MANAGEMENT_KEY": KEYS["talon_one_management_key"],
        "DAGSTER_HOME": str(homes[1]),
        "COLUMNS": "2000",
    }
    pg_url = pg_schema
    found = Evidence(dagster_homes=homes, warehouses=[duck_cli, duck, pg_url])

    def in_process(name: str, *args: str, **changes: str) -> int:
        result = CliRunner().invoke(app, list(args), env={**env, **changes})
        found.texts[f"{name} output"] = result.output
        return result.exit_code

    # 1. The pull of both platforms, as a user runs it: its own process, DAGSTER_HOME and file;
    # it runs while the in-process runs below go on.
    sync_all = subprocess.Popen(
        [sys.executable, "-m", "promosync.pipelines.cli", "sync"],
        env={**os.environ, **env, "DAGSTER_HOME": str(homes[0]), "WAREHOUSE_URL": duck_cli},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    records = _capture_logs()
    # 2. A wrong key: the error path, through the same command (in-process from here on).
    assert in_process("wrong key", "sync", "--only", "voucherify_customers",
                      VOUCHERIFY_APP_TOKEN=WRONG_TOKEN, WAREHOUSE_URL=duck) == 1  # fmt: skip
    assert "HTTP 401" in found.texts["wrong key output"]
    # 3. Into PostgreSQL with faults on: retries are logged, and the run still succeeds.
    code = in_process("faults", "sync", "--only", "voucherify_customers", WAREHOUSE_URL=pg_url,
                      VOUCHERIFY_BASE_URL=faulty_sandbox.voucherify_url)  # fmt: skip
    assert code == 0, found.texts["faults output"]
    _talon_one_into(secret_sandbox, pg_url)
    # 4. Pushes: Voucherify through its Dagster job (event log, run config, metadata), Talon.One
    # through the CLI.
    metadata = tmp / "metadata.csv"
    metadata.write_text('source_id,metadata\nsec-1,"{""tier"": ""gold""}"\n', encoding="utf-8")
    profiles = tmp / "profiles.csv"
    profiles.write_text("integration_id,tier\nsec-1,gold\n", encoding="utf-8")
    assert in_process("push", "push", "talon-profiles", "--file", str(profiles),
                      WAREHOUSE_URL=duck) == 0  # fmt: skip
    old_env = {name: os.environ.get(name) for name in [*env, "WAREHOUSE_URL"]}
    os.environ.update({**env, "WAREHOUSE_URL": duck})
    try:
        with dg.DagsterInstance.get() as instance:
            asset = "voucherify_push_metadata"
            run = defs.resolve_job_def("voucherify_push").execute_in_process(
                run_config={"ops": {asset: {"config": {"file": str(metadata)}}}},
                instance=instance, asset_selection=[dg.AssetKey(asset)],
            )  # fmt: skip
            assert run.success
            # 5. What the instance serves: runs (config, tags) and every event log entry.
            for record in instance.get_run_records():
                run_id = record.dagster_run.run_id
                found.texts[f"run {run_id}"] = serialize_value(record.dagster_run)
                found.texts[f"events of {run_id}"] = "\n".join(
                    serialize_value(entry) for entry in instance.all_logs(run_id)
                )
    finally:
        for name, value in old_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    found.texts["sync stdout"], found.texts["sync stderr"] = sync_all.communicate(timeout=180)
    assert sync_all.returncode == 0, found.texts["sync stderr"]
    assert "talon_one_loyalty_balances" in found.texts["sync stdout"]
    # 6. An exception raised by a wrong key, in every form a person may see it.
    client = voucherify_client(
        secret_sandbox.voucherify_url, KEYS["voucherify_app_id"], WRONG_TOKEN
    )
    with pytest.raises(ApiError) as raised:
        client.get_json("/v1/customers")
    found.texts["exception"] = "".join(traceback.format_exception(raised.value))
    found.texts["exception attributes"] = repr(vars(raised.value)) + repr(raised.value.args)
    found.texts["log records"] = "\n".join(records.messages)
    logging.getLogger().removeHandler(records)
    assert "retrying" in found.texts["log records"]  # the faults were met
    return found


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name} {record.levelname} {record.getMessage()}")
        if record.exc_info:
            self.messages.append("".join(traceback.format_exception(*record.exc_info)))


def _capture_logs() -> _Records:
    handler = _Records()
    logging.getLogger().addHandler(handler)
    logging.getLogger("promosync.connectors").setLevel(logging.INFO)
    return handler


def test_no_key_in_outputs_logs_or_exceptions(evidence: Evidence) -> None:
    assert {"sync stderr", "wrong key output", "exception", "log records"} <= set(evidence.texts)
    found = [hit for where, text in evidence.texts.items() for hit in hits(text, where)]
    assert found == []


def test_no_key_in_any_file_dagster_wrote(evidence: Evidence) -> None:
    files = [path for home in evidence.dagster_homes for path in home.rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in files)  # the event log and run storage are here
    assert any(name.startswith("events of") for name in evidence.texts)
    found = [hit for path in files for hit in hits(path.read_bytes(), str(path))]
    assert found == []


def test_no_key_in_any_column_of_any_warehouse_table(evidence: Evidence) -> None:
    scanned = 0
    for url in evidence.warehouses:
        store = Warehouse(url)
        try:
            tables = store.query(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
            for table in (row["table_name"] for row in tables):
                for record in store.query(f'SELECT * FROM "{table}"'):
                    scanned += 1
                    found = hits(repr(record), f"{url} {table}")
                    assert found == []
        finally:
            store.dispose()
    assert scanned > 1000  # both platforms' pulls and both pushes are there


def test_an_error_body_that_echoes_the_key_is_scrubbed(secret_sandbox) -> None:
    def echo(method: str, url: str, body: bytes | None, headers) -> Response:
        content = (
            b'{"code": 401, "key": "unauthorized", "message": "Unknown token '
            + headers["X-App-Token"].encode() + b'", "details": "X-App-Id '
            + headers["X-App-Id"].encode() + b'"}'
        )  # fmt: skip
        return Response(401, "Unauthorized", {"Content-Type": "application/json"}, content)

    client = voucherify_client(
        secret_sandbox.voucherify_url, KEYS["voucherify_app_id"], WRONG_TOKEN
    )
    client.transport = echo
    with pytest.raises(ApiError) as raised:
        client.get_json("/v1/customers")
    assert str(raised.value) == (
        "voucherify GET /v1/customers failed with HTTP 401: unauthorized: Unknown token ***"
        " (X-App-Id ***); check VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN (wrong, revoked or"
        " expired?)"
    )
    assert hits(repr(vars(raised.value)), "the error's attributes") == []
