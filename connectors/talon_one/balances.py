"""Talon.One loyalty balances: one dated snapshot row per ledger (profile or card) and subledger.

With a Management key, each program's CSV export holds every ledger (one request per program);
without one, each ledger is asked through the Integration API. Both read balances as of the run's
start (`endDate`), so a snapshot is one consistent instant whichever path produced it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from promosync.connectors.cursor import format_instant, signpost
from promosync.connectors.http import ApiClient, ApiError, ConfigError
from promosync.connectors.report import SyncReport, measured
from promosync.connectors.talon_one import client as api
from promosync.connectors.talon_one.client import TalonOne
from promosync.connectors.talon_one.entities import (
    EntitySource,
    Program,
    Target,
    programs_to_visit,
    targets,
    visit_in_batches,
)
from promosync.connectors.talon_one.streams import BALANCES
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

MODES = ("auto", "export", "entity")


def _number(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _owner(program: Program, owner_id: str, subledger: str, as_of: datetime) -> dict[str, Any]:
    kind = "card" if program.card_based else "profile"
    return {"_program_id": program.id, "_owner_kind": kind, "_owner_id": owner_id,
            "_subledger_id": subledger, "_as_of": as_of}  # fmt: skip


def export_records(program: Program, rows: list[dict[str, str]], as_of: datetime) -> list[dict]:
    """Balance records from a program's export CSV rows."""
    owner_column = "cardIdentifier" if program.card_based else "profileIntegrationID"
    return [
        {
            **row,
            **_owner(program, row[owner_column], row.get("loyaltySubledger") or "", as_of),
            "_current": _number(row.get("currentBalance")),
            "_pending": _number(row.get("pendingBalance")),
            "_expired": _number(row.get("expiredBalance")),
            "_spent": _number(row.get("spentBalance")),
            "_tier": row.get("currentTier") or None,
            "_card_state": row.get("cardState") or None,
        }
        for row in rows
    ]


def entity_records(
    program: Program, owner_id: str, body: dict[str, Any], as_of: datetime
) -> list[dict]:
    """Balance records from one ledger's `balance` and `subledgerBalances`."""
    ledgers = {"": body.get("balance") or {}, **(body.get("subledgerBalances") or {})}
    return [
        {
            **balance,
            **_owner(program, owner_id, subledger, as_of),
            "_current": balance.get("activePoints"),
            "_pending": balance.get("pendingPoints"),
            "_expired": balance.get("expiredPoints"),
            "_spent": balance.get("spentPoints"),
            "_negative": balance.get("negativePoints"),
            "_tier": (balance.get("currentTier") or {}).get("name"),
        }
        for subledger, balance in ledgers.items()
    ]


def _write(
    warehouse: Warehouse, report: SyncReport, records: list[dict], synced_at: datetime
) -> None:
    rows = [BALANCES.to_row(record, synced_at) for record in records]
    result = warehouse.write_batch(BALANCES.name, BALANCES.primary_key, rows)
    report.add(result.inserted, result.updated)


def _from_exports(
    management: ApiClient, warehouse: Warehouse, report: SyncReport, programs: list[Program],
    as_of: datetime,
) -> None:  # fmt: skip
    instant = format_instant(as_of)
    for program in programs:
        rows = api.balances_export(management, program.id, program.card_based, instant)
        _write(warehouse, report, export_records(program, rows, as_of), as_of)
        report.entities += 1


def _ledgers_with_entries(warehouse: Warehouse) -> set[tuple[int, str]]:
    rows = warehouse.query(
        "SELECT DISTINCT program_id, customer_profile_id FROM talon_one_loyalty_transactions"
        " WHERE customer_profile_id IS NOT NULL AND _deleted_at IS NULL"
    )
    return {(int(row["program_id"]), row["customer_profile_id"]) for row in rows}


def _from_entities(
    t1: TalonOne, warehouse: Warehouse, report: SyncReport, programs: list[Program],
    source: EntitySource, as_of: datetime, concurrency: int,
) -> str:  # fmt: skip
    """Ask each ledger; profiles only where the warehouse holds entries (others have none)."""
    found, origin = targets(t1, warehouse, programs, source)
    with_entries = _ledgers_with_entries(warehouse)
    visit = [t for t in found if t.kind == "card" or (t.program_id, t.entity_id) in with_entries]
    by_id = {program.id: program for program in programs}

    def fetch(target: Target) -> list[dict]:
        try:
            body = api.entity_balances(
                t1.integration, target.program_id, target.kind, target.entity_id,
                format_instant(as_of),
            )  # fmt: skip
        except ApiError as error:
            if error.status != 404:  # deleted since it was listed
                raise
            return []
        return entity_records(by_id[target.program_id], target.entity_id, body, as_of)

    for batch, results in visit_in_batches(visit, fetch, concurrency):
        _write(warehouse, report, [record for found in results for record in found], as_of)
        report.entities += len(batch)
    return origin


def sync_balances(
    t1: TalonOne,
    warehouse: Warehouse,
    *,
    mode: str = "auto",
    concurrency: int = 8,
    source: EntitySource | None = None,
    programs: Mapping[int, bool] | None = None,
    now: datetime | None = None,
) -> SyncReport:
    """Today's balance snapshot of every ledger, as of the run's start."""
    if mode not in MODES:
        raise ConfigError(f"balances mode {mode!r} is not one of {', '.join(MODES)}")
    if mode == "export" and t1.management is None:
        raise ConfigError("balance exports need TALON_ONE_MANAGEMENT_KEY")
    as_of = signpost(now)
    with measured(BALANCES, t1, warehouse) as report:
        known = programs_to_visit(t1, warehouse, programs)
        if t1.management is not None and mode != "entity":
            report.mode = "CSV exports (Management API)"
            _from_exports(t1.management, warehouse, report, known, as_of)
        else:
            origin = _from_entities(
                t1, warehouse, report, known, source or EntitySource(), as_of, concurrency
            )
            report.mode = f"per entity (Integration API), entities from {origin}"
        report.cursor_after = format_instant(as_of)
    return report
