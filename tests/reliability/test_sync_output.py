"""What `promosync sync` prints: the answer first, both platforms, progress off a terminal.

A failure is one line (what failed, why, what to check) above the table, the trace only with
--verbose; a failing platform does not keep the other from running, the table shows both and
the exit code the worst; under cron (no terminal) each stream prints progress lines with its
requests, 429s and retries.
"""

from __future__ import annotations

import re

import pytest

from tests.reliability.cli import env_for, one_line, promosync, small, table_rows

WRONG = "wrong-key-5d0a"


@pytest.fixture
def env(sandbox, tmp_path) -> dict[str, str]:
    small(sandbox, 20)
    return env_for(sandbox, f"duckdb:///{tmp_path / 'w.duckdb'}")


def test_one_platform_failing_leaves_the_other_running_and_answers_first(env):
    code, out, err = promosync({**env, "TALON_ONE_MANAGEMENT_KEY": WRONG}, "sync")

    assert code == 1
    rows = table_rows(out)
    assert {rows[s][-1] for s in rows if s.startswith("voucherify")} == {"ok"}
    assert rows["voucherify_customers"][1] == "20"
    talon_one = {s: rows[s][-1] for s in rows if s.startswith("talon_one")}
    assert set(talon_one.values()) == {"failed", "skipped"}
    answers = _answers(err)
    assert len(answers) == 2  # programs and profiles, each its request and the key to check
    assert "Traceback" not in err and 'File "' not in err  # no stack, only answers
    assert WRONG not in out + err


def test_verbose_adds_the_trace_after_the_answer(env):
    code, out, err = promosync(
        {**env, "TALON_ONE_MANAGEMENT_KEY": WRONG}, "sync", "--only", "talon_one", "--verbose"
    )

    assert code == 1
    assert len(_answers(err)) == 2
    trace = err.index('  File "')
    assert err.index("sync failed:") < trace and "Stack Trace" in err[trace - 200 :]
    assert WRONG not in out + err


def _answers(err: str) -> list[str]:
    """The lines after the progress lines: each a one-line answer naming the key to check."""
    report = [line for line in err.splitlines() if not re.match(r"(voucherify|talon_one)_", line)]
    assert report[0].startswith("sync failed: talon_one GET /v1/"), err  # the answer comes first
    answers = [line for line in report if line.startswith("sync failed: ")]
    for answer in answers:
        assert "failed with HTTP 401: Invalid or missing API key for this API" in answer
        assert "check TALON_ONE_MANAGEMENT_KEY (wrong, revoked or expired?)" in answer
    return answers


def test_progress_lines_off_a_terminal_count_retries_and_429s(env, voucherify_admin):
    faults = {"server_error": 0.15, "rate_limited": 0.4, "retry_after_seconds": 0}
    voucherify_admin.put("/_sandbox/faults", json=faults).raise_for_status()
    try:
        code, out, err = promosync(
            env, "sync", "--only", "voucherify_customers", "--progress-every", "0.2"
        )
    finally:
        voucherify_admin.put("/_sandbox/faults", json={}).raise_for_status()

    assert code == 0, err
    injected = voucherify_admin.get("/_sandbox/stats").json()["faults_injected"]
    served_5xx, limited = injected["server_error"], injected["rate_limited"]
    assert served_5xx + limited > 0  # the faults did happen
    row = table_rows(out)["voucherify_customers"]
    assert (int(row[6]), int(row[7])) == (limited, served_5xx + limited)  # 429s, retries
    last = [line for line in err.splitlines() if line.startswith("voucherify_customers: ")][-1]
    assert f"429s {limited}; retries {served_5xx + limited}" in one_line(last)
    assert "20 inserted" in last
