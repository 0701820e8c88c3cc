"""Loyalty ledger reads: per-profile and per-card logs and balances, and the program-wide feed.

By default ledger logs are returned newest first, ordered by (created, id): with no filters that
is "the last 50" the spec promises, and `skip` pages further back. `startDate` is inclusive and
`endDate` exclusive (created in [startDate, endDate)), so consecutive windows never overlap nor
leave gaps. The readings (`sandbox.readings`) change each of these: oldest first, either bound
inclusive or exclusive, and a request without `startDate` limited to the last 50 entries.
Balances' `endDate` counts entries created before it (the spec: "before this timestamp").
`subledgerId` on a balances call narrows `subledgerBalances`; `balance` is always the main ledger.
An unknown program or profile/card is a 404; a program of the other kind (a card endpoint on a
profile-based program, or the reverse) is a 400.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

from promosync.sandbox.asgi import JSONResponse
from promosync.sandbox.readings import Readings
from promosync.sandbox.talon_one.gateway import ApiError, Query, path_int
from promosync.sandbox.talon_one.ledger import balances_by_subledger
from promosync.sandbox.talon_one.model import (
    MS_PER_DAY,
    ON_ACTION,
    Card,
    Program,
    Txn,
    iso,
    now_ms,
    transaction_uuid,
)
from promosync.sandbox.talon_one.render import (
    entry_json,
    points_json,
    program_entry_json,
    tiered_points_json,
)
from promosync.sandbox.talon_one.store import Store, page
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from promosync.sandbox.talon_one.api import TalonOneApi

TYPES = ("manual", "session", "import")
LAST = 50  # "If no filters are applied, the last 50 loyalty transactions [...] are returned."


def program_of(store: Store, request: Request, card_based: bool) -> Program:
    """The path's program, 404 if unknown, 400 if it is not of the kind the endpoint serves."""
    program = store.programs.get(path_int(request, "loyaltyProgramId"))
    if program is None:
        raise ApiError(404, "Loyalty program not found", "loyaltyProgramId")
    if program.card_based != card_based:
        kind = "card-based" if card_based else "profile-based"
        raise ApiError(400, f"Loyalty program {program.id} is not {kind}", "loyaltyProgramId")
    return program


def card_of(store: Store, request: Request, program: Program) -> Card:
    """The path's card, or a 404."""
    card = store.cards[program.id].get(request.path_params["loyaltyCardId"])
    if card is None:
        raise ApiError(404, "Loyalty card not found", "loyaltyCardId")
    return card


def profile_owner(store: Store, request: Request) -> str:
    """The path's integration id, or a 404 for an unknown profile."""
    integration_id = request.path_params["integrationId"]
    if integration_id not in store.profiles:
        raise ApiError(404, "Customer profile not found", "integrationId")
    return integration_id


class LogQuery:
    """The filters and page the transaction-log endpoints share, as the readings take them."""

    def __init__(self, request: Request, subledgers: list[str] | None, readings: Readings) -> None:
        query = Query(request)
        self.kind = query.choice("loyaltyTransactionType", TYPES)
        start, end = query.instant("startDate"), query.instant("endDate")
        # Held as a half-open window [start, end) of whole milliseconds, like `created`.
        if start is not None and readings.talon_one_start_bound == "exclusive":
            start += 1
        if end is not None and readings.talon_one_end_bound == "inclusive":
            end += 1
        self.start, self.end = start, end
        self.size = query.integer("pageSize", 50, 1, 1000)
        self.skip = query.integer("skip", 0, 0)
        if query.boolean("awaitsActivation", None) is False:
            raise ApiError(400, "awaitsActivation only accepts true", "awaitsActivation")
        self.awaiting = query.boolean("awaitsActivation", None) is True
        self.sessions = set(query.strings("customerSessionIDs"))
        self.uuids = set(query.strings("transactionUUIDs"))
        self.subledgers = subledgers
        capping = readings.talon_one_no_start_date
        self.last = None  # only the newest `last` entries of the window are listed
        if start is None and (
            capping == "last_50"
            or (capping == "last_50_if_unfiltered" and end is None and not self.filtered())
        ):
            self.last = LAST

    def filtered(self) -> bool:
        """Whether anything but the date window narrows the log."""
        return bool(
            self.kind or self.awaiting or self.sessions or self.uuids or self.subledgers is not None
        )

    def keeps(self, seed: int, now: int) -> Callable[[Txn], bool]:
        """A predicate for every filter except the date window."""

        def keep(txn: Txn) -> bool:
            if self.kind and txn.source != self.kind:
                return False
            if self.subledgers is not None and txn.subledger not in self.subledgers:
                return False
            if self.sessions and txn.session_id not in self.sessions:
                return False
            if self.awaiting and not (txn.start == ON_ACTION and (txn.expiry or now + 1) > now):
                return False
            return not self.uuids or transaction_uuid(seed, txn.id) in self.uuids

        return keep

    def select(
        self, store: Store, newest_first: Iterable[Txn], order: str
    ) -> tuple[list[Txn], bool]:
        """The page of `newest_first` inside the window and filters, in `order`."""
        keep = self.keeps(store.seed, now_ms())
        window: Iterator[Txn] = (
            txn
            for txn in newest_first
            if (self.start is None or txn.created >= self.start)
            and (self.end is None or txn.created < self.end)
            and keep(txn)
        )
        if self.last is not None:
            window = islice(window, self.last)
        if order == "oldest_first":
            window = reversed(list(window))
        return page(window, self.skip, self.size)


def _log(store: Store, rows: tuple[list[Txn], bool], render: Callable[..., Any]) -> Response:
    data, more = rows
    return JSONResponse({"hasMore": more, "data": [render(store, txn) for txn in data]})


def make_handlers(api: TalonOneApi) -> dict[str, Callable[[Request], Any]]:
    """The loyalty endpoints' handlers, by operation id."""

    async def profile_transactions(request: Request) -> Response:
        store = api.store
        program = program_of(store, request, card_based=False)
        owner = profile_owner(store, request)
        subledger = request.query_params.get("subledgerId")
        log = LogQuery(request, None if subledger is None else [subledger], api.settings)
        entries = reversed(store.entries(program.id, owner))
        rows = log.select(store, entries, api.settings.talon_one_ledger_order)
        return _log(store, rows, entry_json)

    async def card_transactions(request: Request) -> Response:
        store = api.store
        program = program_of(store, request, card_based=True)
        card = card_of(store, request, program)
        log = LogQuery(request, request.query_params.getlist("subledgerId") or None, api.settings)
        entries = reversed(store.entries(program.id, card.identifier))
        rows = log.select(store, entries, api.settings.talon_one_ledger_order)
        return _log(store, rows, entry_json)

    async def program_transactions(request: Request) -> Response:
        store = api.store
        program = store.programs.get(path_int(request, "loyaltyProgramId"))
        if program is None:
            raise ApiError(404, "Loyalty program not found", "loyaltyProgramId")
        subledger = request.query_params.get("subledgerId")
        log = LogQuery(request, None if subledger is None else [subledger], api.settings)
        order = api.settings.talon_one_program_transactions_order
        if log.filtered():
            rows = log.select(store, store.feed_window(program.id, log.start, log.end), order)
        else:
            window = (log.start, log.end, log.last)
            rows = store.feed_page(program.id, window, log.skip, log.size, order == "oldest_first")
        return _log(store, rows, program_entry_json)

    async def profile_balances(request: Request) -> Response:
        store = api.store
        program = program_of(store, request, card_based=False)
        owner = profile_owner(store, request)
        query = Query(request)
        as_of = query.instant("endDate") or now_ms()
        tiers = bool(query.boolean("includeTiers"))
        projected = bool(query.boolean("includeProjectedTier"))
        wanted = query.text("subledgerId")
        entries = store.entries(program.id, owner)
        balances = balances_by_subledger(entries, as_of)
        # Projected points: what stays active 30 days on (pending points activating meanwhile).
        ahead = balances_by_subledger(entries, as_of + 30 * MS_PER_DAY) if projected else {}

        def shown(key: str) -> dict[str, Any]:
            return tiered_points_json(program, balances[key], ahead.get(key), tiers)

        subledgers = [key for key in balances if key and (wanted is None or key == wanted)]
        return JSONResponse(
            {"balance": shown(""), "subledgerBalances": {k: shown(k) for k in subledgers}}
        )

    async def card_balances(request: Request) -> Response:
        store = api.store
        program = program_of(store, request, card_based=True)
        card = card_of(store, request, program)
        as_of = Query(request).instant("endDate") or now_ms()
        wanted = set(request.query_params.getlist("subledgerId"))
        balances = balances_by_subledger(store.entries(program.id, card.identifier), as_of)
        subledgers = {
            key: points_json(value)
            for key, value in balances.items()
            if key and (not wanted or key in wanted)
        }
        return JSONResponse(
            {
                "balance": points_json(balances[""]),
                "subledgerBalances": subledgers,
                "profiles": [{"integrationId": o, "timestamp": iso(t)} for o, t in card.profiles],
            }
        )

    return {
        "getLoyaltyProgramProfileTransactions": profile_transactions,
        "getLoyaltyCardTransactions": card_transactions,
        "getLoyaltyProgramTransactions": program_transactions,
        "getLoyaltyBalances": profile_balances,
        "getLoyaltyCardBalances": card_balances,
    }
