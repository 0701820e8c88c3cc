"""The parity matrix: every pull stream under every reading the specs leave open (docs/SANDBOX.md,
"Readings"), alone and in the combinations that interact.

Each cell switches the sandbox to its readings (`POST /_sandbox/reset`, so nothing leaks into the
next cell), then runs every stream of the platform three times and compares each table with the
sandbox's ground truth, key by key and record by record (no row missing, extra, held twice or
stale):

1. a first run on still data, which must be exact at once: tie groups larger than a page (with
   neighbours one millisecond either side, so an inclusive bound shows itself), a Talon.One
   window ending exactly on 150 entries sharing one instant;
2. a run during which customers, profiles, cards and entries are created, updated and deleted
   between the pages it reads (Voucherify: a full refresh and sweep, so every list is paged);
3. one more run on still data (with the periodic full sweep and reconciliation), after which
   everything must be exact again, deletes marked and nothing else.

A pair of readings is tried on still data: after the first run, changes land between runs (a new
tie group among them) and the next incremental run (the next window) must be exact; what two
readings change together is where pages and windows begin and end. Each reading alone, and all
of them at once, meet the moving data.

The readings are read from the sandbox's own declarations, so a new reading joins the matrix.
The Voucherify push readings (`voucherify_all_rows_failed`, `voucherify_async_actions_end_bound`)
are the push's: tests/connectors/test_push_readings.py.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from promosync.connectors.cursor import format_instant, parse_instant
from promosync.connectors.talon_one import balances, snapshots, transactions
from promosync.connectors.voucherify import sync
from promosync.connectors.warehouse import Warehouse
from promosync.sandbox.readings import Readings
from promosync.sandbox.talon_one.data import TIE_INSTANT
from promosync.sandbox.talon_one.model import iso

from tests.conftest import TEST_SETTINGS, ApiSession, next_millisecond
from tests.reliability import checks, runs
from tests.reliability.test_moving_data import mutate_between_pages, small_pages

PUSH_READINGS = {"voucherify_all_rows_failed", "voucherify_async_actions_end_bound"}
CUSTOMERS = 120  # with a tie group of 105 (just over a page of 100) and its neighbours
TIE_GROUP = 105
BOUNDARY = iso(TIE_INSTANT)  # 150 entries of program 101 share this instant (a bulk import)
NO_LAG = timedelta(0)
PAGE = 30  # Talon.One Management list pages (profiles, cards, program transactions)


def _choices(prefix: str) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (field.name, field.metadata["choices"])
        for field in dataclasses.fields(Readings)
        if field.name.startswith(prefix) and field.name not in PUSH_READINGS
    ]


def _singles(prefix: str) -> list[dict[str, str]]:
    return [{name: value} for name, choices in _choices(prefix) for value in choices[1:]]


# Pairs of readings are tried on still data (each alone, and all at once, on moving data too):
# what they change together is where the pages and windows begin and end.
STILL: set[frozenset[tuple[str, str]]] = set()


def _pairs(names: list[str]) -> list[dict[str, str]]:
    """Every pair of the named readings' last choices, and all of them at once."""
    other = {name: choices[-1] for name, choices in _choices("") if name in names}
    pairs = [dict(pair) for pair in itertools.combinations(other.items(), 2)]
    STILL.update(frozenset(pair.items()) for pair in pairs)
    return [*pairs, other]


VOUCHERIFY_CELLS = [
    {},
    *_singles("voucherify_"),
    # The customers walk meets these together: has_more, both bounds, total, tie order.
    *_pairs([
        "voucherify_customers_has_more", "voucherify_after_bound", "voucherify_before_bound",
        "voucherify_customers_total", "voucherify_customers_tie_order",
    ]),
]  # fmt: skip
TALON_ONE_CELLS = [
    {},
    *_singles("talon_one_"),
    # Cards: the default order only shows when `sort` is ignored.
    *(
        {"talon_one_cards_sort": "ignored", "talon_one_cards_default_order": order}
        for order in ("newest_first", "last_modified", "hash")
    ),
    # Transaction windows: the two bounds, the order and the last-50 cap meet in every window.
    *_pairs([
        "talon_one_program_transactions_order", "talon_one_ledger_order",
        "talon_one_start_bound", "talon_one_end_bound", "talon_one_no_start_date",
    ]),
    {"talon_one_profiles_order": "last_activity", "talon_one_cards_sort": "ignored",
     "talon_one_cards_default_order": "last_modified", "talon_one_no_start_date": "last_50"},
]  # fmt: skip
# The per-ledger (Integration API) path is read too where its own reading, the ledgers' order, is
# switched (its windows go through the same bounds as the program-wide feed's, tried in every cell).
ENTITY_PATH = "talon_one_ledger_order"
POSTGRES_CELLS = (len(VOUCHERIFY_CELLS) - 1, len(TALON_ONE_CELLS) - 2)  # all at once, each


def _cell_id(cell: dict[str, str]) -> str:
    shown = (
        f"{k.removeprefix('voucherify_').removeprefix('talon_one_')}={v}" for k, v in cell.items()
    )
    return ",".join(shown) or "defaults"


def _cells(cells: list[dict[str, str]], postgres: int) -> list[Any]:
    """Each cell on DuckDB; the one at index `postgres` on PostgreSQL too."""
    return [
        pytest.param(cell, backend, id=f"{_cell_id(cell)}-{backend}")
        for index, cell in enumerate(cells)
        for backend in (["duckdb", "postgresql"] if index == postgres else ["duckdb"])
    ]


def _reset(url: str, **settings: Any) -> None:
    response = requests.post(
        f"{url}/_sandbox/reset", json={**TEST_SETTINGS, **settings}, timeout=60
    )
    response.raise_for_status()


def _shifted(text: str, milliseconds: int) -> str:
    return format_instant(parse_instant(text) + timedelta(milliseconds=milliseconds))


def _assert_clean(verdict: checks.Verdict, when: str, cell: dict[str, str]) -> None:
    assert verdict.clean, f"{when}, readings {cell or 'defaults'}: {verdict}"


# --- Voucherify -------------------------------------------------------------------------------


def _voucherify_ties(admin: ApiSession) -> None:
    """A tie group just over a page, mid-list, with customers one millisecond either side."""
    stamps = sorted(c["updated_at"] for c in admin.get("/_sandbox/truth/customers").json())
    instant = stamps[len(stamps) // 4]
    for count, at in ((TIE_GROUP, instant), (2, _shifted(instant, 1)), (2, _shifted(instant, -1))):
        storm = {"tie_storm": {"count": count, "updated_at": at}}
        admin.post("/_sandbox/mutate", json=storm).raise_for_status()


def _pull_voucherify(client, warehouse: Warehouse, sweep: bool) -> None:
    """Every Voucherify stream; `sweep`: every customer re-read and visited (a full refresh)."""
    sync.sync_customers(client, warehouse, full_refresh=sweep)
    sync.sync_activities(client, warehouse, full_sweep=sweep)
    sync.sync_segments(client, warehouse, full_sweep=sweep)
    sync.sync_loyalty_transactions(client, warehouse)


STILL_CHANGES = {"create_customers": 2, "update_customers": 4, "delete_customers": 1,
                 "tie_storm": {"count": TIE_GROUP}}  # fmt: skip


def _voucherify_moves() -> Callable[[str], dict | None]:
    """Changes between pages: three rounds while customers are listed, three during the fan-out,
    two while loyalty transactions are paged."""
    left = {"customers": 3, "activity": 3, "transactions": 2}
    changes = {
        "customers": {"create_customers": 2, "update_customers": 4, "delete_customers": 1,
                      "tie_storm": {"count": TIE_GROUP}},
        "activity": {"add_activities": {"customers": 2, "per_customer": 2},
                     "delete_customers": 1},
        "transactions": {"add_loyalty_transactions": 3},
    }  # fmt: skip

    def moves(path: str) -> dict | None:
        kind = path.rsplit("/", 1)[-1]
        if left.get(kind, 0) == 0:
            return None
        left[kind] -= 1
        return changes[kind]

    return moves


@pytest.mark.parametrize(("cell", "warehouse"), _cells(VOUCHERIFY_CELLS, POSTGRES_CELLS[0]),
                         indirect=["warehouse"])  # fmt: skip
def test_voucherify_streams_hold_under_every_reading(
    cell, sandbox, warehouse, voucherify_admin, tally, monkeypatch
) -> None:
    # Exports trusted and quick: the reads that take them (loyalty campaigns read from their
    # start, large customer reads) are held to the same parity.
    monkeypatch.setenv("VOUCHERIFY_DOWNLOAD_URL", sandbox.voucherify_download_url)
    _reset(sandbox.voucherify_url, customers=CUSTOMERS, voucherify_export_seconds=0.1, **cell)
    _voucherify_ties(voucherify_admin)
    _pull_voucherify(runs.voucherify(sandbox.voucherify_url), warehouse, sweep=False)
    _assert_clean(checks.voucherify_parity(voucherify_admin, warehouse), "first run", cell)

    client = runs.voucherify(sandbox.voucherify_url)
    if frozenset(cell.items()) in STILL:  # an incremental run after changes, then exact
        changes = [voucherify_admin.post("/_sandbox/mutate", json=STILL_CHANGES).json()]
        next_millisecond()
        _pull_voucherify(client, warehouse, sweep=False)
    else:  # everything re-read while it changes, then one more run
        changes = mutate_between_pages(client, voucherify_admin, _voucherify_moves(), rounds=8)
        next_millisecond()
        _pull_voucherify(client, warehouse, sweep=True)
        next_millisecond()
        _pull_voucherify(runs.voucherify(sandbox.voucherify_url), warehouse, sweep=True)
    kinds = {kind for change in changes for kind in change}
    assert "tie_storm" in kinds and "deleted" in kinds, kinds
    sync.reconcile_customers(runs.voucherify(sandbox.voucherify_url), warehouse)
    verdict = checks.voucherify_parity(voucherify_admin, warehouse)
    tally.add(trials=1, rows_lost=verdict.lost, rows_duplicated=verdict.duplicated)
    _assert_clean(verdict, "after the changes", cell)
    deleted = {i for change in changes for i in change.get("deleted", [])}
    rows = warehouse.query("SELECT id, _deleted_at FROM voucherify_customers")
    assert {r["id"] for r in rows if r["_deleted_at"]} == deleted & {r["id"] for r in rows}


# --- Talon.One --------------------------------------------------------------------------------


def _talon_one(sandbox) -> Any:
    """Clients asking for PAGE rows a page, so about 100 profiles and 40 cards span pages."""
    t1 = runs.talon_one(sandbox.talon_one_url)
    small_pages(t1.management, PAGE)
    return t1


def _pull_talon_one(t1, warehouse: Warehouse, now: datetime | None, mode: str = "program") -> None:
    for step in (snapshots.sync_programs, snapshots.sync_profiles, snapshots.sync_cards):
        step(t1, warehouse)
    transactions.sync_transactions(t1, warehouse, mode=mode, lag=NO_LAG, page_size=100, now=now)
    balances.sync_balances(t1, warehouse, mode="export" if mode == "program" else "entity")


def _entries_before(admin: ApiSession, warehouse: Warehouse, end: str) -> checks.Verdict:
    """Ledger entries created before `end`, each once, with their instant and amount (the
    per-ledger logs' records have another shape than the program feed's)."""
    verdict = checks.Verdict()
    verdict.duplicates(warehouse, "talon_one_loyalty_transactions", "id")
    limit = parse_instant(end)
    truth = admin.get("/_sandbox/truth/loyalty_transactions").json()
    rows = warehouse.query("SELECT id, created, amount FROM talon_one_loyalty_transactions")
    verdict.compare(
        "talon_one_loyalty_transactions",
        {
            e["id"]: (parse_instant(e["created"]), e["amount"])
            for e in truth
            if parse_instant(e["created"]) < limit
        },
        {row["id"]: (row["created"], row["amount"]) for row in rows},
    )
    return verdict


def _talon_one_moves(admin: ApiSession):
    early = iter([p["integrationId"] for p in admin.get("/_sandbox/truth/profiles").json()])

    def moves(path: str) -> dict | None:
        if path == "/v1/customers/no_total":
            return {"create_profiles": 2, "update_profiles": 3, "delete_profiles": [next(early)]}
        if path.endswith("/cards"):
            return {"add_cards": 2, "update_profiles": 2}
        if path.endswith("/transactions"):
            return {"add_transactions": 10, "delete_profiles": [next(early)]}
        return None

    return moves


@pytest.mark.parametrize(("cell", "warehouse"), _cells(TALON_ONE_CELLS, POSTGRES_CELLS[1]),
                         indirect=["warehouse"])  # fmt: skip
def test_talon_one_streams_hold_under_every_reading(
    cell, sandbox, warehouse, talon_one_admin, tally, tmp_path
) -> None:
    _reset(sandbox.talon_one_url, customers=CUSTOMERS, **cell)
    boundary = parse_instant(BOUNDARY)  # the first window ends exactly on the 150-entry tie
    t1 = _talon_one(sandbox)
    _pull_talon_one(t1, warehouse, boundary)
    first = checks.talon_one_parity(talon_one_admin, warehouse, entries_before=BOUNDARY)
    _assert_clean(first, "first run", cell)

    if ENTITY_PATH in cell or not cell:
        ledgers = Warehouse(f"duckdb:///{tmp_path / 'ledgers.duckdb'}")
        ledgers.create_tables()
        _pull_talon_one(t1, ledgers, boundary, mode="entity")
        _assert_clean(_entries_before(talon_one_admin, ledgers, BOUNDARY), "ledgers", cell)
        next_millisecond()
        _pull_talon_one(t1, ledgers, None, mode="entity")
        now = format_instant(datetime.now(UTC))
        _assert_clean(_entries_before(talon_one_admin, ledgers, now), "ledgers", cell)
        ledgers.dispose()

    if frozenset(cell.items()) not in STILL:
        moving = _talon_one(sandbox)
        changes = mutate_between_pages(
            moving.management, talon_one_admin, _talon_one_moves(talon_one_admin), rounds=8
        )
        next_millisecond()
        _pull_talon_one(moving, warehouse, None)
        assert len(changes) == 8
        marked = warehouse.query(
            "SELECT integration_id FROM talon_one_customer_profiles WHERE _deleted_at IS NOT NULL"
        )
        deleted = {i for change in changes for i in change.get("deleted_profiles", [])}
        assert {row["integration_id"] for row in marked} <= deleted  # no live profile ever gone

    next_millisecond()
    _pull_talon_one(_talon_one(sandbox), warehouse, None)
    verdict = checks.talon_one_parity(talon_one_admin, warehouse)
    tally.add(trials=1, rows_lost=verdict.lost, rows_duplicated=verdict.duplicated)
    _assert_clean(verdict, "after the next window (with data moving, and one more)", cell)
