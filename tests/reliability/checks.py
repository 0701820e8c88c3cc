"""What the reliability tests prove after each trial, counted rather than asserted at once.

Each check compares the warehouse with the sandbox's ground truth and returns a `Verdict`:
rows lost (in the source, not in the warehouse), rows duplicated (a key held twice), rows
extra or stale (held but not, or not so, in the source), and the first few differences, so a
test can both tally the counts and fail with a readable message.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from promosync.connectors.cursor import parse_instant
from promosync.connectors.warehouse import Warehouse

from tests.conftest import ApiSession

SHOWN = 5


@dataclass
class Verdict:
    """Differences between the warehouse and the source."""

    lost: int = 0
    duplicated: int = 0
    stale: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.stale)

    def compare(self, table: str, truth: dict[Any, Any], held: dict[Any, Any]) -> None:
        """Count keys missing from `held`, keys it has in excess, and values that differ."""
        lost = [key for key in truth if key not in held]
        extra = [key for key in held if key not in truth]
        stale = [key for key in truth if key in held and held[key] != truth[key]]
        self.lost += len(lost)
        self.stale += len(extra) + len(stale)
        for what, keys in (("lost", lost), ("not in the source", extra), ("differs", stale)):
            if keys:
                self.problems.append(f"{table}: {len(keys)} {what}, e.g. {keys[:SHOWN]}")

    def duplicates(self, warehouse: Warehouse, table: str, key: str) -> None:
        """Count primary keys held more than once."""
        rows = warehouse.query(
            f"SELECT {key}, count(*) AS n FROM {table} GROUP BY {key} HAVING count(*) > 1"
        )
        self.duplicated += sum(row["n"] - 1 for row in rows)
        if rows:
            self.problems.append(f"{table}: duplicate keys {rows[:SHOWN]}")

    def __str__(self) -> str:
        counts = f"lost {self.lost}, duplicated {self.duplicated}, stale {self.stale}"
        return counts + "".join(f"\n  {p}" for p in self.problems)


def as_json(value: Any) -> Any:
    """A JSON column as Python data (DuckDB returns text, PostgreSQL JSONB returns objects)."""
    return orjson.loads(value) if isinstance(value, str) else value


VOUCHERIFY_KEYS = {
    "voucherify_customers": "id",
    "voucherify_customer_activities": "id",
    "voucherify_customer_segments": "customer_id, segment_id",
    "voucherify_loyalty_transactions": "id",
}
TALON_ONE_KEYS = {
    "talon_one_loyalty_programs": "id",
    "talon_one_customer_profiles": "id",
    "talon_one_loyalty_cards": "id",
    "talon_one_loyalty_transactions": "id",
    "talon_one_loyalty_balances": "snapshot_date, program_id, owner_id, subledger_id",
}


def voucherify_parity(admin: ApiSession, warehouse: Warehouse) -> Verdict:
    """Customers (id, updated_at, whole record), activity, segments and loyalty transactions."""
    verdict = Verdict()
    for table, key in VOUCHERIFY_KEYS.items():
        verdict.duplicates(warehouse, table, key)
    customers = {c["id"]: c for c in admin.get("/_sandbox/truth/customers").json()}
    rows = warehouse.query(
        "SELECT id, updated_at, CAST(_raw AS VARCHAR) AS raw FROM voucherify_customers"
        " WHERE _deleted_at IS NULL"
    )
    verdict.compare(
        "voucherify_customers",
        {i: (parse_instant(c["updated_at"]), c) for i, c in customers.items()},
        {row["id"]: (row["updated_at"], as_json(row["raw"])) for row in rows},
    )
    # History of deleted customers stays in the warehouse; the source has forgotten it.
    activities = admin.get("/_sandbox/truth/activities").json()
    held = warehouse.query("SELECT id, customer_id FROM voucherify_customer_activities")
    verdict.compare(
        "voucherify_customer_activities",
        {a["id"]: a["customer_id"] for a in activities},
        {r["id"]: r["customer_id"] for r in held if r["customer_id"] in customers},
    )
    segments = admin.get("/_sandbox/truth/segments").json()
    held = warehouse.query("SELECT customer_id, segment_id FROM voucherify_customer_segments")
    verdict.compare(
        "voucherify_customer_segments",
        {(e["customer_id"], s["id"]): True for e in segments for s in e["segments"]},
        {(r["customer_id"], r["segment_id"]): True for r in held if r["customer_id"] in customers},
    )
    transactions = admin.get("/_sandbox/truth/loyalty_transactions").json()
    held = warehouse.query("SELECT id, campaign_id FROM voucherify_loyalty_transactions")
    verdict.compare(
        "voucherify_loyalty_transactions",
        {t["id"]: t["campaign_id"] for t in transactions},
        {r["id"]: r["campaign_id"] for r in held},
    )
    return verdict


def talon_one_parity(
    admin: ApiSession, warehouse: Warehouse, entries_before: str | None = None
) -> Verdict:
    """Programs, profiles, cards and transactions (whole records) and today's balances.

    Entries and balances of deleted profiles stay in the warehouse as history: not compared.
    `entries_before`: only entries created before that instant are expected (a window's end).
    """
    verdict = Verdict()
    for table, key in TALON_ONE_KEYS.items():
        verdict.duplicates(warehouse, table, key)
    live: set[str] = set()
    for table, collection in (
        ("talon_one_loyalty_programs", "loyalty_programs"),
        ("talon_one_customer_profiles", "profiles"),
        ("talon_one_loyalty_cards", "cards"),
    ):
        truth = {r["id"]: r for r in admin.get(f"/_sandbox/truth/{collection}").json()}
        rows = warehouse.query(
            f"SELECT id, CAST(_raw AS VARCHAR) AS raw FROM {table} WHERE _deleted_at IS NULL"
        )
        verdict.compare(table, truth, {row["id"]: as_json(row["raw"]) for row in rows})
        if collection == "profiles":
            live = {profile["integrationId"] for profile in truth.values()}
    entries = admin.get("/_sandbox/truth/loyalty_transactions").json()
    if entries_before:
        end = parse_instant(entries_before)
        entries = [entry for entry in entries if parse_instant(entry["created"]) < end]
    rows = warehouse.query(
        "SELECT id, customer_profile_id, CAST(_raw AS VARCHAR) AS raw"
        " FROM talon_one_loyalty_transactions"
    )
    verdict.compare(
        "talon_one_loyalty_transactions",
        {entry["id"]: entry for entry in entries},
        {
            row["id"]: as_json(row["raw"])
            for row in rows
            if row["customer_profile_id"] is None or row["customer_profile_id"] in live
        },
    )
    balances = admin.get("/_sandbox/truth/balances").json()
    rows = warehouse.query(
        "SELECT program_id, owner_kind, owner_id, subledger_id, current_points"
        " FROM talon_one_loyalty_balances"
    )
    verdict.compare(
        "talon_one_loyalty_balances",
        {
            (b["programId"], b.get("integrationId") or b["cardIdentifier"], b["subledgerId"]): b[
                "activePoints"
            ]
            for b in balances
        },
        {
            (r["program_id"], r["owner_id"], r["subledger_id"]): r["current_points"]
            for r in rows
            if r["owner_kind"] != "profile" or r["owner_id"] in live
        },
    )
    return verdict


def voucherify_cursors_backed(admin: ApiSession, warehouse: Warehouse) -> Verdict:
    """Every committed cursor promises rows that are really there (nothing before it missing)."""
    verdict = Verdict()
    customers = admin.get("/_sandbox/truth/customers").json()
    cursor = warehouse.read_cursor("voucherify_customers")
    if cursor:
        held = {r["id"] for r in warehouse.query("SELECT id FROM voucherify_customers")}
        promised = {
            c["id"]: True
            for c in customers
            if parse_instant(c["updated_at"]) <= parse_instant(cursor)
        }
        verdict.compare("customers up to their cursor", promised, dict.fromkeys(held, True))
    by_customer: dict[str, list[str]] = {}
    for activity in admin.get("/_sandbox/truth/activities").json():
        by_customer.setdefault(activity["customer_id"], []).append(activity["id"])
    held = {r["id"] for r in warehouse.query("SELECT id FROM voucherify_customer_activities")}
    promised = {}
    for customer_id, last in warehouse.read_cursors("voucherify_customer_activities").items():
        ids = by_customer.get(customer_id, [])
        if customer_id and last in ids:
            promised.update(dict.fromkeys(ids[: ids.index(last) + 1], True))
    verdict.compare("activity up to each customer's cursor", promised, dict.fromkeys(held, True))
    by_campaign: dict[str, list[str]] = {}
    for entry in admin.get("/_sandbox/truth/loyalty_transactions").json():
        by_campaign.setdefault(entry["campaign_id"], []).append(entry["id"])
    held = {r["id"] for r in warehouse.query("SELECT id FROM voucherify_loyalty_transactions")}
    promised = {}
    for campaign_id, last in warehouse.read_cursors("voucherify_loyalty_transactions").items():
        if campaign_id and last:
            promised.update({i: True for i in by_campaign.get(campaign_id, []) if i <= last})
    verdict.compare(
        "transactions up to each campaign's cursor", promised, dict.fromkeys(held, True)
    )
    return verdict


def talon_one_cursors_backed(admin: ApiSession, warehouse: Warehouse) -> Verdict:
    """Every program's committed window end promises all its entries created before it."""
    verdict = Verdict()
    entries = admin.get("/_sandbox/truth/loyalty_transactions").json()
    held = {r["id"] for r in warehouse.query("SELECT id FROM talon_one_loyalty_transactions")}
    promised = {}
    for partition, end in warehouse.read_cursors("talon_one_loyalty_transactions").items():
        if not end:
            continue
        program = int(partition.split(":")[1]) if partition.startswith("program:") else None
        promised.update(
            {
                e["id"]: True
                for e in entries
                if program in (None, e["programId"])
                and parse_instant(e["created"]) < parse_instant(end)
            }
        )
    verdict.compare("entries before each program's cursor", promised, dict.fromkeys(held, True))
    return verdict


def applied_rows(admin: ApiSession, expected: Counter[str]) -> tuple[Counter[str], int, int]:
    """Voucherify rows async actions applied, per source_id; and how many more and fewer times
    than `expected` (rows applied twice, rows never applied)."""
    applied = Counter(r["source_id"] for r in admin.get("/_sandbox/truth/applied_rows").json())
    twice = sum(max(0, applied[key] - n) for key, n in expected.items())
    lost = sum(max(0, n - applied[key]) for key, n in expected.items())
    return applied, twice, lost


def tables(warehouse: Warehouse) -> list[str]:
    """The names of the warehouse's tables (not its views)."""
    rows = warehouse.query(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    )
    return [row["table_name"] for row in rows]


def empty(warehouse: Warehouse) -> None:
    """Delete every row, cursors and push ledger included, so the next trial starts from nothing."""
    names = tables(warehouse)
    with warehouse.engine.begin() as conn:
        for name in names:
            conn.execute(sa.text(f'DELETE FROM "{name}"'))
    warehouse.dispose()  # a DuckDB file admits one writing process at a time


def fill(warehouse: Warehouse, table: str, rows: list[dict[str, Any]]) -> None:
    """Fill a push input table as an analyst would."""
    target = sa.table(table, *(sa.column(c) for c in rows[0]))
    with warehouse.engine.begin() as conn:
        conn.execute(sa.insert(target), rows)
    warehouse.dispose()
