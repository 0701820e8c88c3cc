"""Change signals beyond `updated_at`: a digest of each customer's counters.

Voucherify need not move a customer's `updated_at` when activity changes its order, redemption
or loyalty counters (docs/SANDBOX.md, "Activity and the customer"), so a customer whose counters
changed owes an activity visit even when its `updated_at` stayed. The digest covers exactly the
counters both the list and an export carry (export_records.CUSTOMER_FIELDS `orders_*`,
`redemptions_*`, `loyalty_*`), each as the text of an export cell, so a list read and an export
read of the same customer give the same digest. Digests are seen on every customers read (a
batch's rows) and on the reconciliation's id export, which carries these fields too (no extra
request): a customer whose `updated_at` did not move is found by the next reconciliation at the
latest, and by the rolling sweep within its period in any case.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from promosync.connectors import visits
from promosync.connectors.report import SyncReport
from promosync.connectors.stream import Row
from promosync.connectors.voucherify.export_records import CUSTOMER_FIELDS, NESTED, cell_text
from promosync.connectors.voucherify.streams import ACTIVITIES, CUSTOMERS
from promosync.connectors.warehouse import TableRows, Warehouse

TABLE = "change_signals"
KEY = ("stream", "entity_id")
REASON = "signals"  # the visit queue's reason for a customer whose digest changed
FIELDS = tuple(f for f in CUSTOMER_FIELDS if f.startswith(("orders_", "redemptions_", "loyalty_")))
CHUNK = 1000  # ids looked up at once


def _canonical(text: str) -> str:
    """A cell's text with numbers written one way (`7`, `7.0` and `7.00` alike)."""
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def _path(field: str) -> tuple[str, ...]:
    for prefix, keys in NESTED:
        if field.startswith(prefix):
            return (*keys, field.removeprefix(prefix))
    return (field,)


def _hash(texts: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join(map(_canonical, texts)).encode()).hexdigest()[:32]


def record_digest(record: Mapping[str, Any]) -> str:
    """The digest of a customer object (the list's, or an export row merged into one)."""
    texts = []
    for field in FIELDS:
        value: Any = record
        for key in _path(field):
            value = value.get(key) if isinstance(value, Mapping) else None
        texts.append(cell_text(value))
    return _hash(texts)


def cells_digest(cells: Mapping[str, str]) -> str:
    """The digest of an export row (its cells as text)."""
    return _hash([cells.get(field) or "" for field in FIELDS])


def _stored(warehouse: Warehouse, ids: Sequence[str]) -> dict[str, str]:
    query = sa.text(
        f"SELECT entity_id, digest FROM {TABLE} WHERE stream = :stream AND entity_id IN :ids"
    ).bindparams(sa.bindparam("ids", expanding=True))
    found: dict[str, str] = {}
    with warehouse.engine.connect() as conn:
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start : start + CHUNK])
            found.update(conn.execute(query, {"stream": CUSTOMERS.name, "ids": chunk}).all())
    return found


def changes(
    warehouse: Warehouse, digests: Mapping[str, str], now: datetime | None = None
) -> tuple[list[tuple[str, datetime]], TableRows]:
    """The customers whose digest differs from the one kept (as visit-queue changes at `now`),
    and the rows that keep the new digests. A customer seen for the first time has nothing to
    differ from: its first visit comes with its `updated_at`."""
    now = now or datetime.now(UTC)
    stored = _stored(warehouse, list(digests))
    moved = [(customer, now) for customer, d in digests.items() if stored.get(customer, d) != d]
    rows = [
        {"stream": CUSTOMERS.name, "entity_id": customer, "digest": d, "seen_at": now}
        for customer, d in digests.items()
        if stored.get(customer) != d
    ]
    return moved, (TABLE, KEY, rows)


def watch(warehouse: Warehouse, report: SyncReport) -> Callable[[list[Row]], list[TableRows]]:
    """The customers writer's hook: for a batch of customer rows about to commit, owe an activity
    visit to each whose digest changed (enqueued first, so a crash before the batch commits costs
    at most a visit, never a missed one), and give the new digests to commit with the rows;
    `report.signals` counts the visits owed."""

    def on_rows(rows: list[Row]) -> list[TableRows]:
        digests = {row["id"]: record_digest(row["_raw"]) for row in rows}
        moved, kept = changes(warehouse, digests)
        if moved:
            visits.enqueue(warehouse, ACTIVITIES.name, moved, REASON)
        report.signals = (report.signals or 0) + len(moved)
        return [kept]

    return on_rows


def compare(warehouse: Warehouse, digests: Mapping[str, str]) -> int:
    """Enqueue the customers whose digest changed and keep the new digests, in one transaction
    (the reconciliation's export); returns how many changed."""
    moved, kept = changes(warehouse, digests)
    visits.enqueue(warehouse, ACTIVITIES.name, moved, REASON, also=[kept])
    return len(moved)
