"""The Management API's balance CSV exports, and the balance rows the ground truth shares."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from promosync.sandbox.talon_one.gateway import ApiError, Query
from promosync.sandbox.talon_one.ledger import Balance, balances_by_subledger, tier_of
from promosync.sandbox.talon_one.model import Program, now_ms
from promosync.sandbox.talon_one.store import Store
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from promosync.sandbox.talon_one.api import TalonOneApi

BALANCE_FIELDS = (
    "currentBalance",
    "pendingBalance",
    "expiredBalance",
    "spentBalance",
    "negativeBalance",
)
PROFILE_COLUMNS = ("loyaltyProgramID", "loyaltySubledger", "profileIntegrationID", "currentBalance",
                   "pendingBalance", "expiredBalance", "spentBalance", "currentTier")  # fmt: skip
CARD_COLUMNS = ("loyaltyProgramID", "loyaltySubledger", "cardIdentifier", "cardState",
                "currentBalance", "pendingBalance", "expiredBalance", "spentBalance")  # fmt: skip


def ledger_rows(store: Store, program: Program, as_of: int) -> Iterator[tuple[str, str, Balance]]:
    """(owner, subledger, balance) per ledger of a program: profiles with entries, every card."""
    if program.card_based:
        owners: list[str] = list(store.cards[program.id])
    else:
        ledgers = store.ledgers[program.id]
        owners = [p.integration_id for p in store.profiles.values() if p.integration_id in ledgers]
    for owner in owners:
        for subledger, balance in balances_by_subledger(
            store.entries(program.id, owner), as_of
        ).items():
            yield owner, subledger, balance


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _balance_cells(balance: Balance, shown: set[str]) -> list[str]:
    values = {
        "currentBalance": balance.active,
        "pendingBalance": balance.pending,
        "expiredBalance": balance.expired,
        "spentBalance": balance.spent,
    }
    return [_number(value) if name in shown else "" for name, value in values.items()]


def _shown_fields(query: Query, card_based: bool) -> set[str]:
    raw = query.text("balances")
    if raw is None:
        return set(BALANCE_FIELDS)
    fields = {name.strip() for name in raw.split(",") if name.strip()}
    allowed = set(BALANCE_FIELDS) - ({"negativeBalance"} if card_based else set())
    if not fields or fields - allowed:
        raise ApiError(
            400,
            f"balances accepts a comma-separated list of {', '.join(sorted(allowed))}",
            "balances",
        )
    return fields | {"currentBalance"}


def _csv(header: tuple[str, ...], rows: Iterator[list[str]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(buffer.getvalue(), media_type="application/csv")


def make_handlers(api: TalonOneApi) -> dict[str, Callable[[Request], Any]]:
    """The two balance exports, by operation id."""

    def program_of(request: Request, card_based: bool) -> Program:
        raw = request.path_params["loyaltyProgramId"]
        program = api.store.programs.get(int(raw)) if raw.isdigit() else None
        if program is None:
            raise ApiError(404, "Loyalty program not found", "loyaltyProgramId")
        if program.card_based != card_based:
            kind = "card-based" if card_based else "profile-based"
            raise ApiError(400, f"Loyalty program {program.id} is not {kind}", "loyaltyProgramId")
        return program

    async def customer_balances(request: Request) -> Response:
        program = program_of(request, card_based=False)
        query = Query(request)
        as_of = query.instant("endDate") or now_ms()
        shown = _shown_fields(query, card_based=False)

        def rows() -> Iterator[list[str]]:
            for owner, subledger, balance in ledger_rows(api.store, program, as_of):
                tier, _ = tier_of(program, balance.active)
                tier_name = tier.name if tier is not None and subledger == "" else ""
                yield [
                    str(program.id),
                    subledger,
                    owner,
                    *_balance_cells(balance, shown),
                    tier_name,
                ]

        return _csv(PROFILE_COLUMNS, rows())

    async def card_balances(request: Request) -> Response:
        program = program_of(request, card_based=True)
        query = Query(request)
        as_of = query.instant("endDate") or now_ms()
        shown = _shown_fields(query, card_based=True)
        cards = api.store.cards[program.id]

        def rows() -> Iterator[list[str]]:
            for owner, subledger, balance in ledger_rows(api.store, program, as_of):
                state = cards[owner].status
                yield [str(program.id), subledger, owner, state, *_balance_cells(balance, shown)]

        return _csv(CARD_COLUMNS, rows())

    return {"exportLoyaltyBalances": customer_balances, "exportLoyaltyCardBalances": card_balances}
