"""Bad input catalogue, push files: what is not a regular file, what is not this push's CSV, and
keys and values that used to slip through. Each case checks the one-line answer (printed first),
the exit code, that nothing was sent, and that nothing of the file reached the output, the run's
record or any table."""

from __future__ import annotations

import gzip
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from promosync.connectors.push import csv_input
from promosync.connectors.warehouse import Warehouse

from tests.reliability.pushing import push_env
from tests.reliability.test_bad_input import contents
from tests.reliability.test_bad_input_config import _env, promosync

MARKER = "s3cr3t-7f1c"  # a piece of the file that must never be stored or printed
NOT_OURS = (
    "the file has no header row naming source_id (its first row has {n} column(s)); is it the"
    " CSV file of this push? Nothing in it was sent"
)


def _write(data: bytes) -> Callable[[Path], str]:
    def make(folder: Path) -> str:
        path = folder / "input.csv"
        path.write_bytes(data)
        return str(path)

    return make


def _fifo(folder: Path) -> str:
    path = folder / "pipe.csv"
    subprocess.run(["mkfifo", str(path)], check=True)
    return str(path)


def _socket(folder: Path) -> str:
    path = folder / "socket.csv"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))  # the file stays after the socket is closed
    server.close()
    return str(path)


def _symlink_to_device(folder: Path) -> str:
    link = folder / "looks-like.csv"
    link.symlink_to("/dev/urandom")
    return str(link)


SHADOW = f"root:$6${MARKER}$Qw9:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n".encode()
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + MARKER.encode() + bytes(range(256))
NOT_A_FILE = [
    pytest.param(lambda _: "/dev/zero", "'/dev/zero' is a character device", id="dev-zero"),
    pytest.param(_symlink_to_device, "looks-like.csv' is a character device", id="link-device"),
    pytest.param(_fifo, "pipe.csv' is a named pipe (FIFO)", id="fifo"),
    pytest.param(lambda folder: str(folder), "' is a directory", id="directory"),
    pytest.param(_socket, "socket.csv' is a socket", id="socket"),
]
NOT_THIS_CSV = [
    pytest.param(_write(SHADOW), NOT_OURS.format(n=1), id="shadow-like"),
    pytest.param(
        _write(PNG),
        "the header row cannot be read: not valid UTF-8: byte 0x89 in column 1; save the file as"
        " UTF-8; nothing was sent",
        id="binary",
    ),
    pytest.param(
        _write(gzip.compress(f"source_id,name\nk-1,{MARKER}\n".encode())),
        "the file is gzip-compressed; decompress it first",
        id="gzip",
    ),
    pytest.param(
        _write(f"source_id,pr\xe9nom\nk-1,{MARKER}\n".encode("latin-1")),
        "the header row cannot be read: not valid UTF-8: byte 0xe9 in column 2; save the file"
        " as UTF-8; nothing was sent",
        id="latin-1-header",
    ),
    pytest.param(
        _write(f"source_id\x00,name\nk-1,{MARKER}\n".encode()),
        "the header row cannot be read: a NUL byte in column 1: is the file binary, or UTF-16?;"
        " nothing was sent",
        id="nul-in-header",
    ),
    pytest.param(
        _write(f"source_id;name\nk-1;{MARKER}\n".encode()),
        "the file has no header row naming source_id (its columns are separated by ';': separate"
        " them with commas); is it the CSV file of this push? Nothing in it was sent",
        id="semicolons",
    ),
    pytest.param(
        _write(f"source_id\tname\nk-1\t{MARKER}\n".encode()),
        "(its columns are separated by '\\t': separate them with commas)",
        id="tabs",
    ),
    pytest.param(
        _write(f"source_id|name\nk-1|{MARKER}\n".encode()),
        "(its columns are separated by '|': separate them with commas)",
        id="pipes",
    ),
    pytest.param(
        _write(f"customer,name\nk-1,{MARKER}\n".encode()), NOT_OURS.format(n=2), id="no-key"
    ),
    pytest.param(
        _write(f"source_id,,name\nk-1,{MARKER},x\n".encode()),
        "column 2 of the header row has no name; name it",
        id="empty-header-cell",
    ),
    pytest.param(
        _write(f"source_id,name,Name \nk-1,{MARKER},x\n".encode()),
        "the header row names 'name' twice (columns 2 and 3); name each column once",
        id="repeated-header",
    ),
    pytest.param(_write(b""), "the file is empty: it needs a header row and data rows", id="empty"),
    pytest.param(_write(b"\n \r\n\n"), "the file is empty", id="blank-lines"),
]


def _assert_nothing_kept(url: str, output: str) -> dict:
    assert MARKER not in output
    store = Warehouse(url)
    try:
        stored = contents(store)
    finally:
        store.dispose()
    assert MARKER not in str(stored)
    assert stored["push_hashes"] == stored["push_row_results"] == stored["push_jobs"] == []
    return stored


def _posts(admin) -> int:
    routes = admin.get("/_sandbox/stats").json()["routes"]
    return sum(route["count"] for route in routes if route["method"] in ("POST", "PUT"))


@pytest.fixture
def cli_warehouse(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'push.duckdb'}"


@pytest.mark.parametrize(("make", "reason"), NOT_A_FILE)
def test_what_is_not_a_regular_file_is_refused_before_it_is_read(
    sandbox, voucherify_admin, tmp_path, cli_warehouse, make, reason
) -> None:
    """A real process, with a deadline: a FIFO used to block it, /dev/zero to exhaust memory."""
    path = make(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "promosync.pipelines.push_cli", "customers", "--file", path],
        env=push_env(sandbox, cli_warehouse), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("error: '") and reason in first, first
    assert first.endswith(", not a regular file; give a CSV file")
    assert "customers: failed — considered 0, invalid 0, unchanged 0, sent 0" in done.stdout
    assert _posts(voucherify_admin) == 0
    stored = _assert_nothing_kept(cli_warehouse, done.stdout + done.stderr)
    assert len(stored["push_runs"]) == 1 and reason in str(stored["push_runs"])


@pytest.mark.parametrize(("make", "reason"), NOT_THIS_CSV)
def test_a_file_that_is_not_this_push_csv_fails_and_keeps_nothing_of_it(
    sandbox, voucherify_admin, tmp_path, cli_warehouse, make, reason
) -> None:
    code, output = promosync(
        _env(sandbox, cli_warehouse), "push", "customers", "--file", make(tmp_path)
    )
    assert code == 1
    answer = output[: output.index(" voucherify customers: failed")]
    assert answer.startswith("error: ") and reason in answer, output  # first, and once
    assert output.count(reason) == 1
    assert "customers: failed — considered 0, invalid 0, unchanged 0, sent 0, failed 0" in output
    assert _posts(voucherify_admin) == 0
    _assert_nothing_kept(cli_warehouse, output)


def test_the_real_etc_shadow_is_refused_and_none_of_it_is_kept(
    sandbox, voucherify_admin, cli_warehouse
) -> None:
    code, output = promosync(
        _env(sandbox, cli_warehouse), "push", "metadata", "--file", "/etc/shadow"
    )
    assert code == 1
    readable = _readable("/etc/shadow")
    expected = NOT_OURS.format(n=1) if readable else "cannot read '/etc/shadow': Permission denied"
    assert output.startswith(f"error: {expected}")
    store = Warehouse(cli_warehouse)
    stored = str(contents(store))
    store.dispose()
    if readable:  # no password field (longer than a marker like '*') anywhere
        for line in Path("/etc/shadow").read_text().splitlines():
            secret = line.split(":")[1] if ":" in line else line
            if len(secret) > 3:
                assert secret not in output and secret not in stored
    assert _posts(voucherify_admin) == 0


def _readable(path: str) -> bool:
    try:
        Path(path).read_bytes()
    except OSError:
        return False
    return True


def test_a_missing_file_is_named(sandbox, tmp_path, cli_warehouse) -> None:
    missing = tmp_path / "nope.csv"
    code, output = promosync(
        _env(sandbox, cli_warehouse), "push", "customers", "--file", str(missing)
    )
    assert code == 1
    assert output.startswith(f"error: cannot read '{missing}': No such file or directory ")


def test_a_line_longer_than_any_row_is_refused_without_reading_it_whole(
    sandbox, voucherify_admin, tmp_path, cli_warehouse, monkeypatch
) -> None:
    monkeypatch.setattr(csv_input, "MAX_LINE_CHARS", 1000)
    upload = tmp_path / "one-line.csv"
    upload.write_text("source_id,name\nk-1," + MARKER * 200 + "\n", encoding="utf-8")
    code, output = promosync(
        _env(sandbox, cli_warehouse), "push", "customers", "--file", str(upload)
    )
    assert code == 1
    assert output.startswith(
        "error: line 2 of the file is over 1,000 characters: not a CSV row a push can send;"
        " nothing in the file was sent "
    )
    assert _posts(voucherify_admin) == 0
    _assert_nothing_kept(cli_warehouse, output)


def test_a_file_whose_every_row_is_invalid_fails_instead_of_partial(
    sandbox, voucherify_admin, tmp_path, cli_warehouse
) -> None:
    upload = tmp_path / "bad-rows.csv"
    upload.write_text("source_id,email\nk-1,not-an-email\n,b@example.com\n", encoding="utf-8")
    code, output = promosync(
        _env(sandbox, cli_warehouse), "push", "customers", "--file", str(upload)
    )
    assert code == 1
    assert "row 1 (k-1): invalid: email 'not-an-email' is not a valid email address" in output
    assert "row 2 (-): invalid: source_id is missing" in output
    assert "customers: failed — considered 2, invalid 2, unchanged 0, sent 0, failed 2" in output
    assert _posts(voucherify_admin) == 0


def test_a_header_only_file_is_an_empty_push_that_succeeds(
    sandbox, voucherify_admin, tmp_path, cli_warehouse
) -> None:
    upload = tmp_path / "header.csv"
    upload.write_text("source_id,email\n", encoding="utf-8")
    code, output = promosync(
        _env(sandbox, cli_warehouse), "push", "customers", "--file", str(upload)
    )
    assert code == 0
    assert "customers: succeeded — considered 0, invalid 0, unchanged 0, sent 0, failed 0" in output
    assert _posts(voucherify_admin) == 0


# --- keys and values ---------------------------------------------------------------------------


@pytest.fixture
def fast_actions(voucherify_admin) -> None:
    voucherify_admin.put("/_sandbox/config", json={"async_action_seconds": 0.05}).raise_for_status()


def _truth(admin) -> set[str]:
    return {c["source_id"] for c in admin.get("/_sandbox/truth/customers").json()}


@pytest.mark.parametrize("operation", ["customers", "csv-import", "metadata"])
def test_keys_are_trimmed_so_a_padded_copy_is_a_duplicate(
    sandbox, voucherify_admin, tmp_path, cli_warehouse, fast_actions, operation
) -> None:
    upload = tmp_path / "keys.csv"
    upload.write_text(
        "source_id,name\n src_7_dup ,Ann\nsrc_7_dup,Bob\n\u00a0pad-1\t,Cid\nok-1,Dan\n",
        encoding="utf-8",
    )
    code, output = promosync(_env(sandbox, cli_warehouse), "push", operation, "--file", str(upload))
    assert code == 0, output
    reason = "source_id 'src_7_dup' appears in rows 1, 2; send each key once"
    assert f"row 1 (src_7_dup): invalid: {reason}" in output
    assert f"row 2 (src_7_dup): invalid: {reason}" in output
    assert "partial — considered 4, invalid 2, unchanged 0, sent 2, failed 2" in output
    keys = _truth(voucherify_admin)
    assert {"pad-1", "ok-1"} <= keys
    assert not {" src_7_dup ", "src_7_dup", "\u00a0pad-1\t"} & keys


@pytest.mark.parametrize(
    ("key", "shown"),
    [("a\tb", "'a\\tb'"), ("line\nbreak", "'line\\nbreak'"), ("nul\x00x", "'nul\\x00x'")],
    ids=["tab", "line-break", "nul"],
)
def test_a_key_with_a_control_character_is_refused(
    sandbox, voucherify_admin, tmp_path, cli_warehouse, fast_actions, key, shown
) -> None:
    upload = tmp_path / "keys.csv"
    upload.write_bytes(f'source_id,name\n"{key}",x\nok-2,y\n'.encode())
    code, output = promosync(
        _env(sandbox, cli_warehouse), "push", "customers", "--file", str(upload)
    )
    assert code == 0, output
    if "\x00" in key:
        assert (
            "row 1 (-): invalid: a NUL byte in column 1: is the file binary, or UTF-16?" in output
        )
    else:
        assert (
            f"invalid: source_id {shown} holds a control character (a tab, line break or NUL)"
            in (output)
        )
    assert "sent 1" in output
    assert key not in _truth(voucherify_admin) and "ok-2" in _truth(voucherify_admin)


@pytest.mark.parametrize(
    "audience_id",
    ["9223372036854775808", "-5", "0", "abc", "1_000", "\u0661\u0662", "12.0", "+7"],
    ids=["beyond-int64", "negative", "zero", "word", "underscores", "arabic-digits", "decimal",
         "plus"],
)  # fmt: skip
def test_an_out_of_range_audience_id_rejects_its_row_and_the_others_go_on(
    sandbox, talon_one, talon_one_admin, tmp_path, cli_warehouse, audience_id
) -> None:
    audience = talon_one.post("/v2/audiences", json={"name": "bad-ids"}).json()["id"]
    member = talon_one_admin.get("/_sandbox/truth/profiles").json()[0]["integrationId"]
    upload = tmp_path / "audiences.csv"
    upload.write_text(
        f"audience_id,integration_id,member\n{audience_id},{member},true\n{audience},{member},true\n",
        encoding="utf-8",
    )
    code, output = promosync(
        _env(sandbox, cli_warehouse), "push", "talon-audiences", "--file", str(upload)
    )
    assert code == 0, output
    assert (
        f"row 1 ({member}): invalid: audience_id {audience_id!r} is not an audience id (a whole"
        " number from 1 to 9223372036854775807)"
    ) in output
    assert "talon_one audiences: partial — considered 2, invalid 1, unchanged 0, sent 1" in output
    audiences = {a["id"]: a for a in talon_one_admin.get("/_sandbox/truth/audiences").json()}
    assert audiences[audience]["members"] == [member]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda _: "/dev/zero", "'/dev/zero' is a character device, not a regular file"),
        (_write(SHADOW), NOT_OURS.format(n=1)),
    ],
    ids=["dev-zero", "shadow-like"],
)
def test_the_asset_config_file_is_held_to_the_same_rules(
    configured_dagster, voucherify_admin, tmp_path, make, reason
) -> None:
    result = configured_dagster(make(tmp_path))
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.event_specific_data.error.message.startswith(
        f"dagster._core.definitions.events.Failure: {reason}"
    )
    assert MARKER not in repr(result.all_events)  # nor in the run's event log
    assert _posts(voucherify_admin) == 0


@pytest.fixture
def configured_dagster(sandbox, voucherify_admin, tmp_path, monkeypatch):
    """Run the Voucherify metadata push asset in process with `file:` set; its result."""
    import dagster as dg
    from promosync.pipelines.push_assets import PUSH_ASSETS, PUSH_JOBS
    from promosync.pipelines.resources import default_resources
    from promosync.pipelines.talon_one_assets import talon_one_resources

    url = f"duckdb:///{tmp_path / 'dagster.duckdb'}"
    for name, value in push_env(sandbox, url).items():
        monkeypatch.setenv(name, value)

    def run(file: str):
        resources = {**default_resources(), **talon_one_resources()}
        defs = dg.Definitions(assets=PUSH_ASSETS, jobs=PUSH_JOBS, resources=resources)
        return defs.resolve_job_def("voucherify_push").execute_in_process(
            run_config={"ops": {"voucherify_push_metadata": {"config": {"file": file}}}},
            asset_selection=[dg.AssetKey("voucherify_push_metadata")],
            raise_on_error=False,
        )

    return run
