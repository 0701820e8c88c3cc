"""Each Talon.One reading the spec leaves open, switched at run time; every answer conforms."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from promosync.sandbox.readings import hash_order
from promosync.sandbox.talon_one.data import TIE_CLUSTER, TIE_INSTANT
from promosync.sandbox.talon_one.model import iso

from tests.conftest import ApiSession
from tests.contract import assert_conforms
from tests.sandbox.test_readings_voucherify import TEST_SEED, configure
from tests.sandbox.test_talon_one_behaviour import FEED, truth, walk
from tests.sandbox.test_talon_one_contract import (
    CARD_PROGRAM,
    INTEGRATION,
    MANAGEMENT,
    PROFILE_PROGRAM,
)

CARDS = f"/v1/loyalty_programs/{CARD_PROGRAM}/cards"
TIE, BEFORE_TIE, AFTER_TIE = iso(TIE_INSTANT), iso(TIE_INSTANT - 1), iso(TIE_INSTANT + 1)


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


def feed_truth(admin: ApiSession) -> list[dict[str, Any]]:
    """The profile program's entries, oldest first."""
    rows = truth(admin, "loyalty_transactions")
    return [row for row in rows if row["programId"] == PROFILE_PROGRAM]


def test_profiles_by_last_activity_or_by_hash(talon_one_management, talon_one_admin):
    url = "/v1/customers/no_total"
    everyone = truth(talon_one_admin, "profiles")
    assert ids(walk(talon_one_management, url, 70)) == ids(everyone)
    configure(talon_one_admin, talon_one_profiles_order="last_activity")
    assert_conforms(MANAGEMENT, talon_one_management.get(url, params={"pageSize": 70}))
    recent = walk(talon_one_management, url, 70)
    assert sorted(ids(recent)) == sorted(ids(everyone)) and ids(recent) != ids(everyone)
    activity = [row["lastActivity"] for row in recent]
    assert activity == sorted(activity, reverse=True)
    configure(talon_one_admin, talon_one_profiles_order="hash")
    hashed = sorted(ids(everyone), key=lambda profile_id: hash_order(TEST_SEED, profile_id))
    assert ids(walk(talon_one_management, url, 70)) == hashed


def test_program_transactions_oldest_first(talon_one_management, talon_one_admin):
    configure(talon_one_admin, talon_one_program_transactions_order="oldest_first")
    assert_conforms(MANAGEMENT, talon_one_management.get(FEED, params={"pageSize": 100}))
    assert ids(walk(talon_one_management, FEED, 400)) == ids(feed_truth(talon_one_admin))
    tie = walk(talon_one_management, FEED, 40, startDate=TIE, endDate=AFTER_TIE)
    assert ids(tie) == sorted(ids(tie)) and len(tie) >= TIE_CLUSTER
    typed = walk(talon_one_management, FEED, 40, loyaltyTransactionType="import")
    assert [row["created"] for row in typed] == sorted(row["created"] for row in typed)


def test_profile_and_card_logs_oldest_first(talon_one, talon_one_admin):
    rows = truth(talon_one_admin, "loyalty_transactions")
    profiles = Counter(
        row.get("customerProfileId") for row in rows if row["programId"] == PROFILE_PROGRAM
    )
    cards = Counter(row.get("cardIdentifier") for row in rows if row["programId"] == CARD_PROGRAM)
    urls = (
        f"/v1/loyalty_programs/{PROFILE_PROGRAM}/profile/{profiles.most_common(1)[0][0]}"
        "/transactions",
        f"/v1/loyalty_programs/{CARD_PROGRAM}/cards/{cards.most_common(1)[0][0]}/transactions",
    )
    newest_first = [ids(walk(talon_one, url, 2)) for url in urls]
    configure(talon_one_admin, talon_one_ledger_order="oldest_first")
    for url, expected in zip(urls, newest_first, strict=True):
        assert_conforms(INTEGRATION, talon_one.get(url))
        assert ids(walk(talon_one, url, 2)) == expected[::-1] and len(expected) > 2


@pytest.mark.parametrize("path", ["feed", "filtered feed", "profile log"])
def test_date_bounds_inclusive_or_exclusive(talon_one, talon_one_management, talon_one_admin, path):
    tied = [row for row in feed_truth(talon_one_admin) if row["created"] == TIE]
    session, url, params = talon_one_management, FEED, {}
    if path == "filtered feed":
        params = {"loyaltyTransactionType": "import"}
    elif path == "profile log":
        owner = tied[0]["customerProfileId"]
        url = f"/v1/loyalty_programs/{PROFILE_PROGRAM}/profile/{owner}/transactions"
        session, tied = talon_one, [row for row in tied if row["customerProfileId"] == owner]
    spec = INTEGRATION if session is talon_one else MANAGEMENT

    def window(start: str, end: str) -> set[int]:
        bounded = {**params, "startDate": start, "endDate": end}
        assert_conforms(spec, session.get(url, params={**bounded, "pageSize": 1000}))
        return set(ids(walk(session, url, 1000, **bounded)))

    assert window(TIE, AFTER_TIE) == set(ids(tied)) and window(BEFORE_TIE, TIE) == set()
    configure(talon_one_admin, talon_one_start_bound="exclusive", talon_one_end_bound="inclusive")
    assert window(TIE, AFTER_TIE) == set() and window(BEFORE_TIE, TIE) == set(ids(tied))


def test_without_start_date_only_the_last_fifty(talon_one_management, talon_one_admin):
    newest = ids(feed_truth(talon_one_admin))[::-1]
    typed = [
        row["id"] for row in feed_truth(talon_one_admin)[::-1] if row.get("importId") is not None
    ]
    assert len(walk(talon_one_management, FEED, 20)) == len(newest) > 50
    configure(talon_one_admin, talon_one_no_start_date="last_50_if_unfiltered")
    assert ids(walk(talon_one_management, FEED, 20)) == newest[:50]
    assert len(walk(talon_one_management, FEED, 20, endDate="2100-01-01T00:00:00Z")) > 50
    configure(talon_one_admin, talon_one_no_start_date="last_50")
    assert_conforms(MANAGEMENT, talon_one_management.get(FEED, params={"skip": 40}))
    capped = walk(talon_one_management, FEED, 20, endDate="2100-01-01T00:00:00Z")
    assert ids(capped) == newest[:50]
    filtered = walk(talon_one_management, FEED, 20, loyaltyTransactionType="import")
    assert ids(filtered) == typed[:50]
    started = walk(talon_one_management, FEED, 500, startDate="2000-01-01T00:00:00Z")
    assert len(started) == len(newest)
    configure(talon_one_admin, talon_one_program_transactions_order="oldest_first")
    assert ids(walk(talon_one_management, FEED, 20)) == newest[:50][::-1]


@pytest.mark.parametrize(
    ("order", "key", "descending"),
    [("newest_first", "created", True), ("last_modified", "modified", True), ("id", "id", False)],
)
def test_card_orders_and_an_ignored_sort(
    talon_one_management, talon_one_admin, order, key, descending
):
    configure(talon_one_admin, talon_one_cards_default_order=order)
    assert_conforms(MANAGEMENT, talon_one_management.get(CARDS, params={"pageSize": 30}))
    unsorted = walk(talon_one_management, CARDS, 30)
    expected = sorted(unsorted, key=lambda card: (card[key], card["id"]), reverse=descending)
    assert ids(unsorted) == ids(expected)
    assert ids(walk(talon_one_management, CARDS, 30, sort="-id")) == sorted(
        ids(unsorted), reverse=True
    )
    configure(talon_one_admin, talon_one_cards_sort="ignored")
    assert ids(walk(talon_one_management, CARDS, 30, sort="-id")) == ids(expected)


def test_cards_in_a_stable_hash_order(talon_one_management, talon_one_admin):
    by_id = ids(walk(talon_one_management, CARDS, 30))
    configure(talon_one_admin, talon_one_cards_default_order="hash")
    hashed = sorted(by_id, key=lambda card_id: hash_order(TEST_SEED, card_id))
    assert ids(walk(talon_one_management, CARDS, 30)) == hashed != by_id
