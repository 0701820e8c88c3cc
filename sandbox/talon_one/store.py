"""The simulator's state and its indexes: profiles, programs, cards, ledgers and audiences."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator
from itertools import islice

from promosync.sandbox.talon_one.model import Audience, Card, Profile, Program, Txn
from sortedcontainers import SortedKeyList


def _order(txn: Txn) -> tuple[int, int]:
    return (txn.created, txn.id)


class Store:
    """Everything one seed generates, plus what the API and the admin changed since."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.programs: dict[int, Program] = {}
        self.profiles: dict[str, Profile] = {}  # by integrationId, in id (creation) order
        self.cards: dict[int, dict[str, Card]] = {}  # program id -> identifier -> card
        self.audiences: dict[int, Audience] = {}
        # Times each profile arrived in a bulk PUT /v2/customer_profiles (a re-send shows here).
        self.profile_updates: Counter[str] = Counter()
        self.feeds: dict[int, SortedKeyList] = {}  # program id -> entries by (created, id)
        self.ledgers: dict[int, dict[str, list[Txn]]] = {}  # program id -> owner -> entries
        self.next_profile_id = 1
        self.next_txn_id = 1
        self.next_card_id = 1
        self.next_audience_id = 1

    def add_program(self, program: Program) -> None:
        """Register a program with empty feed, ledgers and (for card-based ones) cards."""
        self.programs[program.id] = program
        self.feeds[program.id] = SortedKeyList(key=_order)
        self.ledgers[program.id] = {}
        if program.card_based:
            self.cards[program.id] = {}

    def add_profile(self, profile: Profile) -> None:
        """Store a new profile."""
        self.profiles[profile.integration_id] = profile
        self.next_profile_id = max(self.next_profile_id, profile.id + 1)

    def add_card(self, card: Card) -> None:
        """Store a new card."""
        self.cards[card.program_id][card.identifier] = card
        self.next_card_id = max(self.next_card_id, card.id + 1)

    def load_transactions(self, entries: list[Txn]) -> None:
        """Bulk-load generated entries (much faster than one insert at a time)."""
        for program_id, feed in self.feeds.items():
            feed.update(txn for txn in entries if txn.program_id == program_id)
        for txn in sorted(entries, key=_order):
            self.ledgers[txn.program_id].setdefault(txn.owner, []).append(txn)
            self.next_txn_id = max(self.next_txn_id, txn.id + 1)

    def add_transaction(self, txn: Txn) -> None:
        """Insert one entry into the program feed and its owner's ledger, keeping both ordered."""
        self.feeds[txn.program_id].add(txn)
        ledger = self.ledgers[txn.program_id].setdefault(txn.owner, [])
        bisect.insort(ledger, txn, key=_order)
        self.next_txn_id = max(self.next_txn_id, txn.id + 1)

    def delete_profile(self, integration_id: str) -> None:
        """Forget a profile: its ledgers, card links and audience memberships too."""
        del self.profiles[integration_id]
        for program_id, ledgers in self.ledgers.items():
            if self.programs[program_id].card_based:
                continue
            for txn in ledgers.pop(integration_id, []):
                self.feeds[program_id].remove(txn)
        for cards in self.cards.values():
            for card in cards.values():
                card.profiles = [link for link in card.profiles if link[0] != integration_id]
        for audience in self.audiences.values():
            audience.members.discard(integration_id)

    def entries(self, program_id: int, owner: str) -> list[Txn]:
        """An owner's ledger entries, oldest first."""
        return self.ledgers[program_id].get(owner, [])

    def cards_of(self, integration_id: str) -> list[Card]:
        """Cards linked to a profile, across card-based programs."""
        return [
            card
            for cards in self.cards.values()
            for card in cards.values()
            if any(link[0] == integration_id for link in card.profiles)
        ]

    def audiences_of(self, integration_id: str) -> list[Audience]:
        """Audiences a profile belongs to."""
        return [a for a in self.audiences.values() if integration_id in a.members]

    def feed_page(
        self,
        program_id: int,
        window: tuple[int | None, int | None, int | None],
        skip: int,
        size: int,
        oldest_first: bool,
    ) -> tuple[list[Txn], bool]:
        """A page of a program's entries with start <= created < end, by index.

        `window` is (start, end, last): with `last`, only the newest `last` entries of the window.
        """
        start, end, last = window
        feed = self.feeds[program_id]
        low = 0 if start is None else feed.bisect_key_left((start, -1))
        high = len(feed) if end is None else feed.bisect_key_left((end, -1))
        if last is not None:
            low = max(low, high - last)
        if oldest_first:
            first = min(high, low + skip)
            stop = min(high, first + size)
            return list(feed.islice(first, stop)), stop < high
        stop = high - skip
        if stop <= low:
            return [], False
        first = max(low, stop - size)
        return list(feed.islice(first, stop, reverse=True)), first > low

    def feed_window(self, program_id: int, start: int | None, end: int | None) -> Iterator[Txn]:
        """Newest-first entries of a program with start <= created < end."""
        feed = self.feeds[program_id]
        low = None if start is None else (start, -1)
        high = None if end is None else (end, -1)
        return feed.irange_key(low, high, inclusive=(True, False), reverse=True)


def page(entries: Iterator[Txn], skip: int, size: int) -> tuple[list[Txn], bool]:
    """One page of an iterator, and whether anything follows it."""
    rows = list(islice(entries, skip, skip + size + 1))
    return rows[:size], len(rows) > size
