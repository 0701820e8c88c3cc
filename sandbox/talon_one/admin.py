"""Ground truth and admin mutations of the Talon.One simulator.

`POST /_sandbox/mutate` takes a JSON object with any of these keys (all are validated first):

- `create_profiles`: n, or `[{"integrationId": str, "attributes": {...}}]` (ids must be new)
- `update_profiles`: n random profiles, or `[{"integrationId", "attributes"}]` (merged into
  existing profiles)
- `delete_profiles`: n random profiles, or `[integrationId, ...]` (as `DELETE /v1/customer_data`)
- `add_transactions`: n, or `{"count": n, "program_id": id (default: any program),
  "created": ISO instant (default: now; e.g. to put many entries at one instant)}`
- `add_cards`: n, or `{"count": n, "program_id": id}` (a card-based program; default the first one)

It answers with what changed: `created_profiles`, `updated_profiles`, `deleted_profiles`
(integration ids), `added_transactions` (ids) and `added_cards` (identifiers).

`GET /_sandbox/truth/{collection}` serves `profiles`, `loyalty_programs`, `cards`,
`loyalty_transactions`, `balances`, `audiences` and `profile_updates` (`{integrationId,
received}`: how many times each profile arrived in a bulk `PUT /v2/customer_profiles`).
"""

from __future__ import annotations

import random
from typing import Any

from promosync.sandbox.asgi import AdminError
from promosync.sandbox.talon_one.data import NICKNAMES, draft_entry
from promosync.sandbox.talon_one.exports import ledger_rows
from promosync.sandbox.talon_one.integration import upsert_profile
from promosync.sandbox.talon_one.ledger import balance_as_of
from promosync.sandbox.talon_one.model import Card, Txn, now_ms, parse_instant
from promosync.sandbox.talon_one.render import (
    audience_json,
    card_json,
    points_json,
    profile_json,
    program_entry_json,
    program_json,
)
from promosync.sandbox.talon_one.store import Store

MUTATIONS = (
    "create_profiles",
    "update_profiles",
    "delete_profiles",
    "add_transactions",
    "add_cards",
)


def truth(store: Store, collection: str) -> list[dict[str, Any]]:
    """A collection as JSON-ready rows; KeyError for an unknown one."""
    now = now_ms()
    if collection == "profiles":
        return [profile_json(store, profile) for profile in store.profiles.values()]
    if collection == "loyalty_programs":
        return [program_json(program) for program in store.programs.values()]
    if collection == "cards":
        return [card_json(store, c, now) for cards in store.cards.values() for c in cards.values()]
    if collection == "loyalty_transactions":
        return [program_entry_json(store, txn) for feed in store.feeds.values() for txn in feed]
    if collection == "balances":
        rows = []
        for program in store.programs.values():
            owner_key = "cardIdentifier" if program.card_based else "integrationId"
            for owner, subledger, balance in ledger_rows(store, program, now):
                rows.append({"programId": program.id, owner_key: owner, "subledgerId": subledger,
                             **points_json(balance)})  # fmt: skip
        return rows
    if collection == "audiences":
        return [
            {**audience_json(audience), "members": sorted(audience.members)}
            for audience in store.audiences.values()
        ]
    if collection == "profile_updates":
        return [
            {"integrationId": integration_id, "received": count}
            for integration_id, count in sorted(store.profile_updates.items())
        ]
    raise KeyError(collection)


def _count_or_list(payload: dict[str, Any], key: str) -> int | list[Any] | None:
    value = payload.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | list)
        or (isinstance(value, int) and value < 0)
    ):
        raise AdminError(f"{key} must be a non-negative integer or a list")
    return value


def _profile_items(
    store: Store, items: list[Any], key: str, must_exist: bool
) -> list[tuple[str, dict]]:
    parsed = []
    for item in items:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("integrationId"), str)
            or not item["integrationId"]
        ):
            raise AdminError(f"{key} items must be objects with a non-empty string integrationId")
        attributes = item.get("attributes", {})
        if not isinstance(attributes, dict):
            raise AdminError(f"{key}: attributes must be an object")
        if (item["integrationId"] in store.profiles) != must_exist:
            state = "unknown" if must_exist else "already exists"
            raise AdminError(f"{key}: profile {item['integrationId']!r} {state}")
        parsed.append((item["integrationId"], attributes))
    return parsed


def _batch(store: Store, payload: dict[str, Any], key: str) -> tuple[int, int | None, int | None]:
    value = payload.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"count": value}
    if not isinstance(value, dict) or set(value) - {"count", "program_id", "created"}:
        raise AdminError(f"{key} must be an integer or an object with count, program_id, created")
    count, program_id = value.get("count", 1), value.get("program_id")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise AdminError(f"{key}.count must be a non-negative integer")
    if program_id is not None and program_id not in store.programs:
        raise AdminError(f"{key}.program_id {program_id!r} is not a loyalty program")
    created = value.get("created")
    if created is not None:
        if key == "add_cards" or not isinstance(created, str):
            raise AdminError(f"{key}.created must be an ISO instant (add_transactions only)")
        try:
            created = parse_instant(created)
        except ValueError as exc:
            raise AdminError(f"{key}.created: {exc}") from exc
    return count, program_id, created


def mutate(store: Store, rng: random.Random, payload: dict[str, Any]) -> dict[str, Any]:
    """Validate every requested change, then apply them; return the affected ids."""
    unknown = set(payload) - set(MUTATIONS)
    if unknown:
        raise AdminError(f"unknown mutation(s) {sorted(unknown)}; known: {', '.join(MUTATIONS)}")
    create = _count_or_list(payload, "create_profiles")
    update = _count_or_list(payload, "update_profiles")
    delete = _count_or_list(payload, "delete_profiles")
    if isinstance(create, list):
        create = _profile_items(store, create, "create_profiles", must_exist=False)
    if isinstance(update, list):
        update = _profile_items(store, update, "update_profiles", must_exist=True)
    if isinstance(delete, list) and any(i not in store.profiles for i in delete):
        raise AdminError("delete_profiles lists an unknown integrationId")
    transactions = (
        _batch(store, payload, "add_transactions") if "add_transactions" in payload else None
    )
    cards = _batch(store, payload, "add_cards") if "add_cards" in payload else None
    card_programs = [p.id for p in store.programs.values() if p.card_based]
    if cards is not None and (cards[1] or card_programs[0]) not in card_programs:
        raise AdminError("add_cards.program_id must be a card-based program")
    return _apply(store, rng, create, update, delete, transactions, cards)


def _apply(
    store: Store,
    rng: random.Random,
    create: int | list[tuple[str, dict]] | None,
    update: int | list[tuple[str, dict]] | None,
    delete: int | list[str] | None,
    transactions: tuple[int, int | None, int | None] | None,
    cards: tuple[int, int | None, int | None] | None,
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if create is not None:
        if isinstance(create, int):
            first = store.next_profile_id  # ids are never reused, so neither are these names
            create = [
                (f"t1-admin-{store.seed}-{first + i}", {"Nickname": rng.choice(NICKNAMES)})
                for i in range(create)
            ]
        result["created_profiles"] = [upsert_profile(store, i, a).integration_id for i, a in create]
    if update is not None:
        if isinstance(update, int):
            chosen = rng.sample(list(store.profiles), min(update, len(store.profiles)))
            update = [
                (i, {"LifetimeValue": round(rng.random() * 9000, 2), "Tier": "ünïcode ✓"})
                for i in chosen
            ]
        result["updated_profiles"] = [upsert_profile(store, i, a).integration_id for i, a in update]
    if delete is not None:
        if isinstance(delete, int):
            delete = rng.sample(list(store.profiles), min(delete, len(store.profiles)))
        for integration_id in delete:
            store.delete_profile(integration_id)
        result["deleted_profiles"] = list(delete)
    if cards is not None:
        result["added_cards"] = [_new_card(store, rng, cards[1]) for _ in range(cards[0])]
    if transactions is not None:
        count, program_id, created = transactions
        result["added_transactions"] = _new_entries(store, rng, count, program_id, created)
    return result


def _new_card(store: Store, rng: random.Random, program_id: int | None) -> str:
    program_id = program_id or next(p.id for p in store.programs.values() if p.card_based)
    number, now = store.next_card_id, now_ms()
    links = (
        [(rng.choice(list(store.profiles)), now)] if store.profiles and rng.random() < 0.8 else []
    )
    card = Card(
        number,
        program_id,
        f"CARD-{store.seed}-{number:06d}",
        now,
        now,
        "active",
        None,
        "batch-admin",
        links,
    )
    store.add_card(card)
    return card.identifier


def _new_entries(
    store: Store, rng: random.Random, count: int, program_id: int | None, created: int | None
) -> list[int]:
    owners = {
        p.id: list(store.cards[p.id]) if p.card_based else list(store.profiles)
        for p in store.programs.values()
    }
    added = []
    for _ in range(count):
        program = store.programs[program_id or rng.choice(list(store.programs))]
        if not owners[program.id]:
            continue  # nobody to credit (every profile or card was deleted)
        owner, moment = rng.choice(owners[program.id]), created or now_ms()
        main = [t for t in store.entries(program.id, owner) if t.subledger == ""]
        available = balance_as_of(main, moment + 1).active
        txn = Txn(store.next_txn_id, *draft_entry(rng, program, owner, moment, available))
        store.add_transaction(txn)
        added.append(txn.id)
    return added
