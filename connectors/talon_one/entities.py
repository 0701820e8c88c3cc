"""What a Talon.One fan-out visits: programs, profiles and cards, and where each list comes from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from promosync.connectors.http import ConfigError
from promosync.connectors.talon_one import client as api
from promosync.connectors.talon_one.client import TalonOne
from promosync.connectors.warehouse import Warehouse

FAN_OUT_BATCH = 50  # entities whose rows (and cursors) commit together


@dataclass(frozen=True)
class Program:
    """A loyalty program: its ledgers belong to profiles, or to cards."""

    id: int
    card_based: bool


@dataclass(frozen=True)
class Target:
    """One ledger owner to visit through the Integration API."""

    program_id: int
    kind: str  # "profile" or "card"
    entity_id: str  # integrationId or card identifier

    @property
    def partition(self) -> str:
        """Its cursor's partition in `sync_state`."""
        return f"{self.kind}:{self.program_id}:{self.entity_id}"


@dataclass(frozen=True)
class EntitySource:
    """Warehouse columns that list the entities to visit when no Management key can list them."""

    profiles: tuple[str, str] = ("voucherify_customers", "source_id")
    cards: tuple[str, str] = ("talon_one_loyalty_cards", "identifier")  # + program_id if present


def programs_to_visit(
    t1: TalonOne, warehouse: Warehouse, configured: Mapping[int, bool] | None = None
) -> list[Program]:
    """Configured programs, else the synced programs table (no request), else the listing."""
    if configured:
        return [Program(int(i), bool(card)) for i, card in sorted(configured.items())]
    rows = warehouse.query(
        "SELECT id, card_based FROM talon_one_loyalty_programs"
        " WHERE _deleted_at IS NULL ORDER BY id"
    )
    if rows:
        return [Program(int(row["id"]), bool(row["card_based"])) for row in rows]
    if t1.management is None:
        raise ConfigError(
            "no loyalty program known: set TALON_ONE_MANAGEMENT_KEY, sync"
            " talon_one_loyalty_programs once, or configure the program ids"
        )
    return [Program(p["id"], bool(p.get("cardBased"))) for p in api.loyalty_programs(t1.management)]


def _warehouse_ids(warehouse: Warehouse, table: str, column: str) -> list[tuple[str, int | None]]:
    """Distinct live values of `table.column`, with the row's program_id when the table has one."""
    try:
        columns = warehouse.columns(table)
    except LookupError:
        raise ConfigError(f"entity source table {table!r} does not exist") from None
    if column not in columns:
        raise ConfigError(f"entity source {table}.{column} does not exist")
    program = ', "program_id"' if "program_id" in columns else ", NULL"
    live = " AND _deleted_at IS NULL" if "_deleted_at" in columns else ""
    rows = warehouse.query(
        f'SELECT DISTINCT "{column}" AS id{program} AS program_id FROM "{table}"'
        f' WHERE "{column}" IS NOT NULL{live} ORDER BY 1'
    )
    return [(str(row["id"]), row["program_id"]) for row in rows]


def targets(
    t1: TalonOne, warehouse: Warehouse, programs: list[Program], source: EntitySource
) -> tuple[list[Target], str]:
    """Every (program, profile or card) to visit, and where the list came from."""
    profile_programs = [p.id for p in programs if not p.card_based]
    card_programs = [p.id for p in programs if p.card_based]
    found: list[Target] = []
    if t1.management is not None:
        origin = "management listing"
        if profile_programs:
            for page in api.customer_profiles(t1.management):
                found += [
                    Target(program_id, "profile", profile["integrationId"])
                    for profile in page
                    for program_id in profile_programs
                ]
        for program_id in card_programs:
            for page in api.loyalty_cards(t1.management, program_id):
                found += [Target(program_id, "card", card["identifier"]) for card in page]
        return found, origin
    origin = f"warehouse {'.'.join(source.profiles)}, {'.'.join(source.cards)}"
    if profile_programs:
        for entity_id, _ in _warehouse_ids(warehouse, *source.profiles):
            found += [Target(p, "profile", entity_id) for p in profile_programs]
    if card_programs:
        for entity_id, program_id in _warehouse_ids(warehouse, *source.cards):
            owners = card_programs if program_id is None else [int(program_id)]
            found += [Target(p, "card", entity_id) for p in owners if p in card_programs]
    return found, origin
