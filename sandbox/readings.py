"""What the official specs leave open, each a switch of the sandbox with today's reading first.

Every reading answers with bodies the specs validate; docs/SANDBOX.md quotes, for each, the spec
text that leaves it open. They are settings like any other: `promosync sandbox --help` lists them
and `PUT /_sandbox/config` changes them at run time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

VOUCHERIFY = "Readings: Voucherify"
TALON_ONE = "Readings: Talon.One"


def reading(choices: tuple[str, ...], help: str) -> Any:
    """A reading's field: its first choice is the default."""
    panel = VOUCHERIFY if help.startswith("Voucherify") else TALON_ONE
    return field(
        default=choices[0],
        metadata={"choices": choices, "help": help.split(": ", 1)[1], "panel": panel},
    )


def hash_order(seed: int, key: object) -> bytes:
    """A stable pseudo-random sort key (the "hash" readings): the same on every request."""
    return hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()


@dataclass
class Readings:
    """One value per open behaviour; the defaults are the readings the sandbox always had."""

    voucherify_customers_has_more: str = reading(
        ("present", "absent"),
        "Voucherify: GET /v1/customers envelope: with `has_more`, or only"
        " {object, data_ref, customers, total} as the spec's example",
    )
    voucherify_after_bound: str = reading(
        ("exclusive", "inclusive"),
        "Voucherify: `created_at[after]` / `updated_at[after]` of GET /v1/customers: a customer"
        " stamped exactly that instant is left out (exclusive) or included",
    )
    voucherify_before_bound: str = reading(
        ("exclusive", "inclusive"),
        "Voucherify: `created_at[before]` / `updated_at[before]` of GET /v1/customers: a customer"
        " stamped exactly that instant is left out (exclusive) or included",
    )
    voucherify_customers_total: str = reading(
        ("matching", "all"),
        "Voucherify: `total` of GET /v1/customers: the customers matching the filters, or every"
        " customer of the project",
    )
    voucherify_customers_tie_order: str = reading(
        ("id", "hash"),
        "Voucherify: order of customers sharing the sort key (one `updated_at`): by id, or by a"
        " stable hash of the id",
    )
    voucherify_activity_default_order: str = reading(
        ("-created_at", "created_at"),
        "Voucherify: order of GET /v1/customers/{id}/activity when `order` is not given",
    )
    voucherify_loyalty_transactions_default_order: str = reading(
        ("-id", "id"),
        "Voucherify: order of the loyalty transaction lists when `order` is not given",
    )
    voucherify_all_rows_failed: str = reading(
        ("failed", "done", "done_operation_failed"),
        "Voucherify: status of an async action in which every row failed: FAILED, DONE (with"
        " operation_status SUCCESS) or DONE with operation_status FAILED; `result` holds the"
        " failures in each",
    )
    voucherify_async_actions_end_bound: str = reading(
        ("exclusive", "inclusive"),
        "Voucherify: `end_date` of GET /v1/async-actions: an action created exactly then is left"
        ' out ("scheduled before") or listed',
    )
    talon_one_profiles_order: str = reading(
        ("id", "last_activity", "hash"),
        "Talon.One: order of GET /v1/customers/no_total: ascending id, last activity newest first,"
        " or a stable hash of the id",
    )
    talon_one_program_transactions_order: str = reading(
        ("newest_first", "oldest_first"),
        "Talon.One: order of GET /v1/loyalty_programs/{id}/transactions",
    )
    talon_one_ledger_order: str = reading(
        ("newest_first", "oldest_first"),
        "Talon.One: order of the per-profile and per-card transaction logs (Integration API)",
    )
    talon_one_start_bound: str = reading(
        ("inclusive", "exclusive"),
        "Talon.One: `startDate` of the transaction logs: an entry created exactly then is included"
        " or left out",
    )
    talon_one_end_bound: str = reading(
        ("exclusive", "inclusive"),
        "Talon.One: `endDate` of the transaction logs: an entry created exactly then is left out"
        " or included",
    )
    talon_one_no_start_date: str = reading(
        ("all", "last_50_if_unfiltered", "last_50"),
        "Talon.One: a transaction log asked without `startDate`: every entry; only the last 50"
        " when no filter at all is given; or only the last 50 (within the other filters)",
    )
    talon_one_cards_sort: str = reading(
        ("honoured", "ignored"),
        "Talon.One: `sort` of GET /v1/loyalty_programs/{id}/cards: honoured, or ignored (the"
        " default order applies)",
    )
    talon_one_cards_default_order: str = reading(
        ("id", "newest_first", "last_modified", "hash"),
        "Talon.One: order of the card list without (or ignoring) `sort`: ascending id, newest"
        " first, last modified first, or a stable hash of the id",
    )
