"""The reliability suite's knobs (trial count), its shared checks and its closing summary.

`PROMOSYNC_CHAOS=full` (what `make chaos` sets) runs the full suite: 50 kill trials per kill
test, every fault alone as well as all together, on several seeds. Without it, the fast subset
(part of `make test`) runs one kill trial per kill test and the faults all together once.
`PROMOSYNC_CHAOS_TRIALS` overrides the number of kill trials either way.

Each test adds what it saw to a tally (trials, rows lost, rows duplicated, pushes sent twice);
`pytest_terminal_summary` prints the totals when this directory was named on the command line
(as `make chaos` does).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest

FULL = os.environ.get("PROMOSYNC_CHAOS") == "full"
TRIALS = int(os.environ.get("PROMOSYNC_CHAOS_TRIALS") or (50 if FULL else 1))
TALLY_KEY = "chaos"
# Counters every test reports, in the order the summary prints them.
COUNTERS = (
    "trials",
    "rows_lost",
    "rows_duplicated",
    "pushes_sent_twice",
    "batches_resent",
    "stopped_with_error",
)


class Tally:
    """What one test saw; carried to the controller in the test report's user properties."""

    def __init__(self, properties: list[tuple[str, Any]], kind: str) -> None:
        self.counts: dict[str, Any] = dict.fromkeys(COUNTERS, 0)
        self.counts["kind"] = kind
        properties.append((TALLY_KEY, self.counts))

    def add(self, **counts: int) -> None:
        """Add to the named counters."""
        for name, value in counts.items():
            self.counts[name] += value


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Tally:
    """This test's counters, under the kind of trial its module runs (kill, faults, moving)."""
    kind = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    return Tally(request.node.user_properties, kind)


_totals: dict[str, Counter[str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect each test's tally (xdist ships user properties back with the report)."""
    if report.when != "call":
        return
    for key, counts in report.user_properties:
        if key == TALLY_KEY:
            kind = counts["kind"]
            _totals.setdefault(kind, Counter()).update(
                {name: counts[name] for name in COUNTERS if counts[name]} | {"tests": 1}
            )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the trials run and the rows lost or duplicated, per kind and in total."""
    if not _totals:
        return
    write = terminalreporter.write_line
    terminalreporter.section("chaos summary")
    write(f"{'full' if FULL else 'fast'} run; kill trials per kill test: {TRIALS}")
    total: Counter[str] = Counter()
    for kind in sorted(_totals):
        counts = _totals[kind]
        total.update(counts)
        write(f"{kind:>8}: " + ", ".join(f"{n} {counts[n]}" for n in ("tests", *COUNTERS)))
    write(f"{'total':>8}: " + ", ".join(f"{n} {total[n]}" for n in ("tests", *COUNTERS)))
    lost = total["rows_lost"] + total["rows_duplicated"] + total["pushes_sent_twice"]
    failed = len(terminalreporter.stats.get("failed", []))
    if lost == 0 and failed == 0:
        write("verdict: nothing lost, duplicated or sent twice")
    else:  # a failed test may have stopped before it could count what went wrong
        write(f"verdict: FAILURES ({failed} failed tests; {lost} rows or pushes wrong)")
