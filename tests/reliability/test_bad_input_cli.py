"""Bad input catalogue: warehouse URLs and files, CLI options, the sandbox's ports, status.

Each case runs `promosync` as a user does and checks the one-line message, the exit code, and
that nothing was read, written, created or printed that should not be (no request to the API,
no file, no password, no trace). docs/RELIABILITY.md lists every case and its outcome.
"""

from __future__ import annotations

import errno
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from promosync.connectors.warehouse import Warehouse
from promosync.sandbox import server

from tests.conftest import POSTGRES_URL
from tests.reliability.cli import env_for, one_line, promosync, table_rows

SECRET = "pw-7c1e"  # a password that must never be echoed
EXAMPLES = "e.g. duckdb:///path/warehouse.duckdb or postgresql+psycopg://user@host/db"
NO_FILE = "names no database file: what a sync writes there is gone when it ends"
REPO = Path(__file__).resolve().parents[2]


def _requests(admin) -> int:
    return admin.get("/_sandbox/stats").json()["total"]


def _customers(url: str) -> int:
    store = Warehouse(url, allow_ephemeral=True)
    try:
        return store.query("SELECT count(*) AS n FROM voucherify_customers")[0]["n"]
    finally:
        store.dispose()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; the URL options that select it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield f"options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


# --- warehouse URLs refused before any request ------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected", "changes"),
    [
        ("duckdb:///", f"WAREHOUSE_URL 'duckdb:///' {NO_FILE}", {}),
        ("duckdb://", f"WAREHOUSE_URL 'duckdb://' {NO_FILE}", {}),
        ("duckdb:///:memory:", f"WAREHOUSE_URL 'duckdb:///:memory:' {NO_FILE}", {}),
        ("sqlite://", f"WAREHOUSE_URL 'sqlite://' {NO_FILE}", {}),
        ("sqlite:///:memory:", f"WAREHOUSE_URL 'sqlite:///:memory:' {NO_FILE}", {}),
        (
            "sqlite:///file::memory:?cache=shared",
            f"WAREHOUSE_URL 'sqlite:///file::memory:?cache=shared' {NO_FILE}",
            {},
        ),
        (
            "duckdb:///:memory:",
            f"WAREHOUSE_URL 'duckdb:///:memory:' {NO_FILE}",
            {"PROMOSYNC_ALLOW_EPHEMERAL_WAREHOUSE": "0"},
        ),
        (
            f"postgresql+psycopg2://sync:{SECRET}@127.0.0.1/test",
            "WAREHOUSE_URL 'postgresql+psycopg2://sync:***@127.0.0.1/test' needs the Python package"
            " 'psycopg2', which is not installed: install it beside promosync, or use a driver that"
            f" is, {EXAMPLES}",
            {},
        ),
        (
            f"mysql+pymysql://sync:{SECRET}@db.internal/warehouse",
            "WAREHOUSE_URL 'mysql+pymysql://sync:***@db.internal/warehouse' needs the Python"
            " package 'pymysql', which is not installed",
            {},
        ),
        (
            f"oracle+nosuch://sync:{SECRET}@db.internal/w",
            f"WAREHOUSE_URL 'oracle+nosuch://sync:***@db.internal/w' names no installed driver;"
            f" {EXAMPLES}",
            {},
        ),
        (
            f"://sync:{SECRET}@nowhere",
            f"WAREHOUSE_URL '://sync:***@nowhere' is not a database URL; {EXAMPLES}",
            {},
        ),
    ],
)
def test_warehouse_url_refused_at_once(
    sandbox, voucherify_admin, tmp_path, monkeypatch, url, expected, changes
):
    monkeypatch.chdir(tmp_path)  # where a relative database file would land
    code, out, err = promosync(env_for(sandbox, url, **changes), "sync")
    assert (code, out) == (1, "")
    assert one_line(err).startswith(f"sync failed: {expected}")
    assert SECRET not in err and "Traceback" not in err
    assert _requests(voucherify_admin) == 0  # refused before anything was read
    assert list(tmp_path.iterdir()) == []


def test_push_refuses_a_warehouse_that_would_not_persist(sandbox, voucherify_admin, tmp_path):
    upload = tmp_path / "metadata.csv"
    upload.write_text("source_id,tier\nsrc-1,gold\n", encoding="utf-8")
    env = env_for(sandbox, "duckdb:///")
    code, out, err = promosync(env, "push", "metadata", "--file", str(upload))
    assert code == 1
    assert f"push failed: WAREHOUSE_URL 'duckdb:///' {NO_FILE}" in one_line(out + err)
    assert _requests(voucherify_admin) == 0  # nothing re-sent into a memory that forgets


# --- warehouse URLs that work -----------------------------------------------------------------


@pytest.mark.parametrize(
    "form", ["postgresql://", "postgres://", "spaces", "allowed flag", "allowed setting"]
)
def test_warehouse_url_that_works(sandbox, pg_schema, tmp_path, monkeypatch, form):
    monkeypatch.chdir(tmp_path)
    host = "postgres@127.0.0.1:5432/test"
    url, args, changes = {
        "postgresql://": (f"postgresql://{host}?{pg_schema}", [], {}),
        "postgres://": (f"postgres://{host}?{pg_schema}", [], {}),
        "spaces": (f"  duckdb:///{tmp_path / 'w.duckdb'}\n", [], {}),
        "allowed flag": ("duckdb:///:memory:", ["--allow-ephemeral-warehouse"], {}),
        "allowed setting": (
            "duckdb:///:memory:",
            [],
            {"PROMOSYNC_ALLOW_EPHEMERAL_WAREHOUSE": "1"},
        ),
    }[form]
    code, out, err = promosync(
        env_for(sandbox, url, **changes), "sync", "--only", "voucherify_customers", *args
    )
    assert code == 0, err
    assert table_rows(out)["voucherify_customers"][1] == "300"
    if form.startswith("allowed"):
        assert "note: duckdb:///:memory: keeps nothing once this sync ends (allowed)" in err
        assert list(tmp_path.iterdir()) == []
    else:
        assert _customers(url.strip()) == 300


def test_created_files_and_folders_are_private_whatever_the_umask(sandbox, tmp_path):
    previous = os.umask(0)
    try:
        path = tmp_path / "deep" / "er" / "w.duckdb"
        code, _, err = promosync(
            env_for(sandbox, f"duckdb:///{path}"), "sync", "--only", "voucherify_customers"
        )
        library = tmp_path / "lib" / "w.duckdb"
        os.umask(0)  # the CLI tightened it: a library user's process has its own
        store = Warehouse(f"duckdb:///{library}")
        store.create_tables()
        store.dispose()
    finally:
        os.umask(previous)
    assert code == 0, err
    for created in (path, library):
        assert stat.S_IMODE(created.stat().st_mode) == 0o600
        assert stat.S_IMODE(created.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


# --- warehouse files that cannot be used ------------------------------------------------------


@pytest.mark.parametrize("case", ["a folder", "under a file", "not a database"])
def test_warehouse_file_that_cannot_be_used(sandbox, voucherify_admin, tmp_path, case):
    target = {
        "a folder": tmp_path,
        "under a file": tmp_path / "plain.txt" / "w.duckdb",
        "not a database": tmp_path / "notes.duckdb",
    }[case]
    (tmp_path / "plain.txt").write_text("not a folder\n")
    (tmp_path / "notes.duckdb").write_text("shopping list\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    code, out, err = promosync(
        env_for(sandbox, f"duckdb:///{target}"), "sync", "--only", "voucherify_customers"
    )
    message = one_line(err.split("sync failed: ", 1)[-1])  # the answer, after its live line
    assert code == 1 and "sync failed: " in err and "Traceback" not in err, err
    expected = {
        "a folder": "cannot open the warehouse",
        "under a file": "cannot open the warehouse",
        "not a database": "is not a valid DuckDB database file",
    }[case]
    assert expected in message
    assert table_rows(out)["voucherify_customers"][-1] in ("failed",) or out == ""
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert _requests(voucherify_admin) == 0


# --- options of `promosync sync` --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (
            ["--full-refresh", "--backfill", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"],
            2,
            "a full refresh re-reads everything and a backfill one window: give one of them",
        ),
        (
            ["--only", "voucherify_customers", "--backfill", "2025-02-01T00:00:00Z",
             "2025-01-01T00:00:00Z"],
            1,
            "sync failed: backfill_start 2025-02-01 00:00:00+00:00 must be before backfill_end"
            " 2025-01-01 00:00:00+00:00 (voucherify_customers)",
        ),
        (
            ["--only", "voucherify_customers", "--backfill", "last week", "today"],
            1,
            "sync failed: backfill_start and backfill_end must be ISO instants: Invalid isoformat"
            " string: 'last week' (voucherify_customers)",
        ),
        (["--progress-every", "0"], 2, "Invalid value for '--progress-every'"),
        (["--only", "voucherify_customer"], 2, "unknown platform or stream 'voucherify_customer'"),
        (["--full-refersh"], 2, "No such option: --full-refersh"),
    ],
)  # fmt: skip
def test_sync_option_that_cannot_work(sandbox, voucherify_admin, tmp_path, args, code, expected):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    exit_code, out, err = promosync(env_for(sandbox, url), "sync", *args)
    assert exit_code == code, out + err
    assert expected in one_line(out + err)
    assert "Traceback" not in out + err
    assert _requests(voucherify_admin) == 0


# --- `promosync sandbox` ports and hosts ------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "code", "expected"),
    [
        ("in use", 1, "a port is already in use; choose another, or 0 for a free one"),
        ("unknown host", 1, "'no-such-host.invalid' is not a host name or address this machine"),
        ("foreign address", 1, "192.0.2.1 is not an address of this machine; e.g. 127.0.0.1"),
        ("same port twice", 2, "each simulator needs a port of its own (or 0 for a free one)"),
        (
            "port too high",
            2,
            "Invalid value for '--talon-one-port': Input should be less than or equal to 65535",
        ),
    ],
)
def test_sandbox_that_cannot_listen_says_why_in_one_line(sandbox, case, code, expected):
    busy = sandbox.voucherify_url.rsplit(":", 1)[1]
    args = {
        "in use": ["--voucherify-port", busy],
        "unknown host": ["--host", "no-such-host.invalid"],
        "foreign address": ["--host", "192.0.2.1"],
        "same port twice": ["--voucherify-port", "8765", "--talon-one-port", "8765"],
        "port too high": ["--talon-one-port", "70000"],
    }[case]
    exit_code, out, err = promosync({"COLUMNS": "300"}, "sandbox", "--customers", "5", *args)
    output = one_line(out + err)
    assert exit_code == code, output
    assert expected in output
    assert "Traceback" not in output and "VOUCHERIFY_BASE_URL" not in output


def test_sandbox_on_a_privileged_port_says_so(monkeypatch):
    # The suite runs as root, who may listen anywhere: the kernel's answer is given here.
    def refuse(host: str, port: int):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(server, "_bind", refuse)
    code, out, err = promosync({}, "sandbox", "--voucherify-port", "80")
    assert code == 1 and out == ""
    assert one_line(err) == (
        "sandbox: cannot listen on 127.0.0.1 (--voucherify-port 80, --talon-one-port 0): ports"
        " below 1024 need root; choose one from 1024 up, or 0 for a free one"
    )


def test_dagster_storage_lives_under_dagster_home_and_is_private(sandbox, tmp_path, monkeypatch):
    home, elsewhere = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    elsewhere.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    monkeypatch.chdir(elsewhere)  # the instance config's paths once resolved against this
    previous = os.umask(0o022)  # the usual umask: world-readable unless promosync says no
    try:
        env = env_for(sandbox, f"duckdb:///{tmp_path / 'w.duckdb'}", DAGSTER_HOME=str(home))
        code, _, err = promosync(env, "sync", "--only", "voucherify_customers")
    finally:
        os.umask(previous)

    assert code == 0, err
    assert list(elsewhere.iterdir()) == []
    stored = [path for path in home.rglob("*") if path.name != "dagster.yaml"]
    assert any(path.name == "runs.db" for path in stored)  # the run is recorded there
    for path in stored:  # nobody but this user may read or list them
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
