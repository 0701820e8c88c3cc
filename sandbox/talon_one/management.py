"""Management API reads: loyalty programs, loyalty cards and the account's customer profiles.

Cards can be sorted by `id`, `created`, `modified` or `identifier` (prefix `-` for descending);
without `sort` (or, under the `talon_one_cards_sort=ignored` reading, whatever it says) they come in
the `talon_one_cards_default_order` reading's order, ascending id by default. `identifier` filters
on the exact card code and `profileId` on a linked profile's numeric id. Customer profiles come in
the `talon_one_profiles_order` reading's order: id (creation) order by default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from promosync.sandbox.asgi import JSONResponse
from promosync.sandbox.readings import hash_order
from promosync.sandbox.talon_one.gateway import ApiError, Query, path_int
from promosync.sandbox.talon_one.model import Card, Profile, now_ms
from promosync.sandbox.talon_one.render import card_json, profile_json, program_json
from promosync.sandbox.talon_one.store import Store
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from promosync.sandbox.talon_one.api import TalonOneApi

CARD_SORTS = ("id", "created", "modified", "identifier")
# The default orders the readings offer, as a sort key and a direction (descending or not).
CARD_ORDERS = {
    "id": ("id", False),
    "newest_first": ("created", True),
    "last_modified": ("modified", True),
}


def _card_order(seed: int, reading: str) -> tuple[Callable[[Card], Any], bool]:
    if reading == "hash":
        return (lambda card: hash_order(seed, card.id)), False
    name, descending = CARD_ORDERS[reading]
    return (lambda card: (getattr(card, name), card.id)), descending


def _profiles(store: Store, reading: str) -> list[Profile]:
    profiles = list(store.profiles.values())
    if reading == "last_activity":
        profiles.sort(key=lambda p: (p.last_activity, p.id), reverse=True)
    elif reading == "hash":
        profiles.sort(key=lambda p: hash_order(store.seed, p.id))
    return profiles


def make_handlers(api: TalonOneApi) -> dict[str, Callable[[Request], Any]]:
    """The Management API's list handlers, by operation id."""

    async def programs(request: Request) -> Response:
        data = [program_json(program) for program in api.store.programs.values()]
        return JSONResponse({"totalResultSize": len(data), "data": data})

    async def cards(request: Request) -> Response:
        store = api.store
        program = store.programs.get(path_int(request, "loyaltyProgramId"))
        if program is None:
            raise ApiError(404, "Loyalty program not found", "loyaltyProgramId")
        if not program.card_based:
            raise ApiError(
                400, f"Loyalty program {program.id} is not card-based", "loyaltyProgramId"
            )
        query = Query(request)
        size = query.integer("pageSize", 1000, 1, 1000)
        skip = query.integer("skip", 0, 0)
        sort = query.text("sort") or "id"
        if sort.lstrip("-") not in CARD_SORTS:
            raise ApiError(
                400, f"sort must be one of {', '.join(CARD_SORTS)} (or with a - prefix)", "sort"
            )
        identifier = query.text("identifier")
        if identifier is not None and len(identifier) < 4:
            raise ApiError(400, "identifier must have at least 4 characters", "identifier")
        profile_id = query.integer("profileId", 0, 1) if query.text("profileId") else None
        batch = query.text("batchId")
        linked = None
        if profile_id is not None:
            linked = next(
                (p.integration_id for p in store.profiles.values() if p.id == profile_id), ""
            )
        rows = [
            card
            for card in store.cards[program.id].values()
            if (identifier is None or card.identifier == identifier)
            and (batch is None or card.batch_id == batch)
            and (linked is None or any(link[0] == linked for link in card.profiles))
        ]
        if query.text("sort") is None or api.settings.talon_one_cards_sort == "ignored":
            key, descending = _card_order(store.seed, api.settings.talon_one_cards_default_order)
            rows.sort(key=key, reverse=descending)
        else:
            field = sort.lstrip("-")
            rows.sort(key=lambda card: getattr(card, field), reverse=sort.startswith("-"))
        now = now_ms()
        data = [card_json(store, card, now) for card in rows[skip : skip + size]]
        return JSONResponse({"hasMore": len(rows) > skip + size, "data": data})

    async def customers(request: Request) -> Response:
        store = api.store
        query = Query(request)
        size = query.integer("pageSize", 1000, 1, 1000)
        skip = query.integer("skip", 0, 0)
        if query.boolean("sandbox"):
            return JSONResponse({"hasMore": False, "data": []})  # every profile here is live
        profiles = _profiles(store, api.settings.talon_one_profiles_order)
        data = [profile_json(store, profile) for profile in profiles[skip : skip + size]]
        return JSONResponse({"hasMore": len(profiles) > skip + size, "data": data})

    return {
        "getLoyaltyPrograms": programs,
        "getLoyaltyCards": cards,
        "getCustomerProfiles": customers,
    }
