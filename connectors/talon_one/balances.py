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

from promosync.connectors.batches import StreamWriter
from promosync.connectors.cursor import format_instant, signpost
from promosync.connectors.fan_out import MeteredClient, fan_out
from promosync.connectors.http import ApiClient, ConfigError
from promosync.connectors.report import SyncReport, measured
from promosync.connectors.stream import pulls
from promosync.connectors.talon_one import client as api
from promosync.connectors.talon_one.client import TalonOne
from promosync.connectors.talon_one.entities import (
    FAN_OUT_BATCH,
    EntitySource,
    Program,
    Target,
    programs_to_visit,
    targets,
)
from promosync.connectors.talon_one.streams import BALANCES
from promosync.connectors.warehouse import Warehouse

log = logging.getLogger(__name__)

MODES = ("auto", "export", "entity")


def _owner(program: Program, owner_id: Any, subledger: str, as_of: datetime) -> dict[str, Any]:
    kind = "card" if program.card_based else "profile"
    return {"_program_id": program.id, "_owner_kind": kind, "_owner_id": owner_id,
            "_subledger_id": subledger, "_as_of": as_of}  # fmt: skip


def export_records(program: Program, rows: list[dict[str, Any]], as_of: datetime) -> list[dict]:
    """Balance records from a program's export CSV rows (the stream's row reads their values)."""
    owner_column = "cardIdentifier" if program.card_based else "profileIntegrationID"
    return [
        {
            **row,
            **_owner(program, row.get(owner_column), row.get("loyaltySubledger") or "", as_of),
            "_source": "export",
        }
        for row in rows
    ]


def entity_records(
    program: Program, owner_id: str, body: dict[str, Any], as_of: datetime
) -> list[Any]:
    """Balance records from one ledger's `balance` and `subledgerBalances`; a part that is no
    object is handed on as it is, for the writer to reject."""
    subledgers = body.get("subledgerBalances") or {}
    if not isinstance(subledgers, dict):
        subledgers = {"(subledgerBalances)": subledgers}
    ledgers = {"": body.get("balance") or {}, **subledgers}
    return [
        {**balance, **_owner(program, owner_id, subledger, as_of), "_source": "entity"}
        if isinstance(balance, dict)
        else balance
        for subledger, balance in ledgers.items()
    ]


def _from_exports(
    management: ApiClient, writer: StreamWriter, programs: list[Program], as_of: datetime
) -> None:
    """One CSV export per program: every ledger's balances in one request."""
    instant = format_instant(as_of)
    writer.report.plan(BALANCES, len(programs))
    for program in programs:
        rows = api.balances_export(management, program.id, program.card_based, instant)
        writer.commit(writer.rows(export_records(program, rows, as_of)))
        writer.report.entities += 1


def _ledgers_with_entries(warehouse: Warehouse) -> set[tuple[int, str]]:
    rows = warehouse.query(
        "SELECT DISTINCT program_id, customer_profile_id FROM talon_one_loyalty_transactions"
        " WHERE customer_profile_id IS NOT NULL AND _deleted_at IS NULL"
    )
    return {(int(row["program_id"]), row["customer_profile_id"]) for row in rows}


def _from_entities(
    t1: TalonOne, writer: StreamWriter, programs: list[Program], source: EntitySource,
    as_of: datetime, concurrency: int,
) -> str:  # fmt: skip
    """Ask each ledger; profiles only where the warehouse holds entries (others have none)."""
    found, origin = targets(t1, writer.warehouse, programs, source)
    with_entries = _ledgers_with_entries(writer.warehouse)
    visit = [t for t in found if t.kind == "card" or (t.program_id, t.entity_id) in with_entries]
    by_id = {program.id: program for program in programs}
    instant = format_instant(as_of)

    def fetch(target: Target, _: str | None, client: MeteredClient) -> tuple[list[dict], None]:
        body = api.entity_balances(
            client, target.program_id, target.kind, target.entity_id, instant
        )
        return entity_records(by_id[target.program_id], target.entity_id, body, as_of), None

    # A ledger deleted since it was listed answers 404: skipped.
    fan_out(
        writer, t1.integration, visit, fetch, concurrency=concurrency, batch_size=FAN_OUT_BATCH,
        key=lambda target: target.partition, skip_missing=True,
    )  # fmt: skip
    return origin


@pulls(BALANCES)
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
        writer = StreamWriter(BALANCES, warehouse, report, as_of)
        known = programs_to_visit(t1, warehouse, programs)
        if t1.management is not None and mode != "entity":
            report.mode = "CSV exports (Management API)"
            _from_exports(t1.management, writer, known, as_of)
        else:
            origin = _from_entities(t1, writer, known, source or EntitySource(), as_of, concurrency)
            report.mode = f"per entity (Integration API), entities from {origin}"
        report.cursor_after = format_instant(as_of)
    return report
