"""Generate the Talon.One dataset from a seed: profiles, programs, cards, ledgers and audiences."""

from __future__ import annotations

import gc
import random
from typing import Any

from promosync.sandbox.people import EPOCH_END, Person, generate_people, random_instant
from promosync.sandbox.talon_one.model import (
    MS_PER_DAY,
    ON_ACTION,
    Audience,
    Card,
    Profile,
    Program,
    Tier,
    Txn,
    to_ms,
)
from promosync.sandbox.talon_one.store import Store

END = to_ms(EPOCH_END)
TIE_CLUSTER = 150  # entries of one bulk import sharing a single `created` (three 50-row pages)
TIE_INSTANT = END - 200 * MS_PER_DAY + 12_345
CHANNELS = ("email", "sms", "push", "none")
NICKNAMES = ("Zoë 🌸", "Łukasz", "李小龍", "Ærin", "O'Brien", "Γιώργος", "José 💳", "Ёлка")
EARN_NAMES = ("Earned on purchase", "Bonus für Treue 🎁", "Welcome bonus", "Birthday points")
SPEND_NAMES = ("Redeemed for discount", "Points spent on reward", "Échange de points")


def programs(seed: int) -> list[Program]:
    """Two profile-based programs (one with subledgers, one with tiers) and one card-based one."""
    created = to_ms(EPOCH_END) - 3 * 365 * MS_PER_DAY - 30 * MS_PER_DAY + seed % 1000
    tiers = tuple(
        Tier(id=900 + i, name=name, min_points=points, created=created)
        for i, (name, points) in enumerate((("Bronze", 0), ("Silver", 500), ("Gold", 2000)))
    )
    return [
        Program(101, created, "points", "Everyday Points", "Points on every purchase", False,
                ("", "coffee", "fuel-EU")),
        Program(102, created + 1000, "vip", "VIP Club 🌟", "Tiered points for regulars", False,
                ("",), tiers),
        Program(103, created + 2000, "cards", "Loyalty Cards", "Card-based points", True,
                ("", "partner")),
    ]  # fmt: skip


def attributes_of(person: Person, rng: random.Random) -> dict[str, Any]:
    """Mixed-type, nested, Unicode attributes; missing fields are left out, as Talon.One does."""
    attributes: dict[str, Any] = {
        "Name": person.name,
        "Email": person.email,
        "PhoneNumber": person.phone,
        "City": person.city,
        "Country": person.country,
        "PostCode": person.postal_code,
    }
    attributes = {key: value for key, value in attributes.items() if value is not None}
    attributes["SignupYear"] = person.created_at.year
    attributes["LifetimeValue"] = round(rng.random() * 5000, 2)
    attributes["Newsletter"] = rng.random() < 0.5
    if rng.random() < 0.6:
        attributes["Tags"] = ["vip", "früh"][: 1 + int(rng.random() * 2)]
    if rng.random() < 0.5:
        attributes["Preferences"] = {
            "channel": CHANNELS[int(rng.random() * 4)],
            "quiet": {"from": "22:00", "to": "07:00"},
        }
    if rng.random() < 0.3:
        attributes["Nickname"] = NICKNAMES[int(rng.random() * len(NICKNAMES))]
    return attributes


def talon_only_id(seed: int, index: int) -> str:
    """An integration id Voucherify does not know; some need URL-encoding in a path."""
    kinds = (f"t1-{seed}-{index:06d}", f"tö-{seed}-{index}", f"user+{index}@t1.example")
    return kinds[index % 3]


def generate(seed: int, customers: int, transactions: int = 0) -> Store:
    """The dataset for `seed` and `customers` (people shared with the Voucherify simulator).

    `transactions` > 0 sizes the ledgers to hold that many entries in all (for benchmarks);
    0 keeps the default of one to six entries per ledger.
    """
    # Half a million small objects trigger full GC passes that would double the start-up time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(seed, customers, transactions)
    finally:
        if collecting:
            gc.enable()


def _generate(seed: int, customers: int, transactions: int) -> Store:
    store = Store(seed)
    rng = random.Random(f"talon-one-{seed}")
    for program in programs(seed):
        store.add_program(program)
    drafts = []
    for person in generate_people(seed, customers):
        if rng.random() < 0.85:
            drafts.append((to_ms(person.created_at), person.source_id, attributes_of(person, rng)))
    for index in range(max(1, round(customers * 0.05))):
        attributes = {
            "Nickname": NICKNAMES[index % len(NICKNAMES)],
            "Source": "pos",
            "Visits": index,
        }
        drafts.append((to_ms(random_instant(rng)), talon_only_id(seed, index), attributes))
    drafts.sort(key=lambda draft: draft[0])
    for number, (created, integration_id, attributes) in enumerate(drafts, start=1):
        last = created + int(rng.random() * (END - created))
        store.add_profile(
            Profile(number, integration_id, created, attributes, last, int(rng.random() * 40),
                    round(rng.random() * 3000, 2))
        )  # fmt: skip
    _generate_cards(store, rng)
    _generate_ledgers(store, rng, transactions)
    _generate_audiences(store, rng)
    return store


def _generate_cards(store: Store, rng: random.Random) -> None:
    drafts: list[tuple[int, list[tuple[str, int]]]] = []
    profiles = list(store.profiles.values())
    for profile in profiles:
        if rng.random() < 0.3:
            linked = profile.created + int(rng.random() * (END - profile.created))
            links = [(profile.integration_id, linked)]
            if rng.random() < 0.1:
                other = profiles[int(rng.random() * len(profiles))].integration_id
                if other != profile.integration_id:
                    links.append((other, linked + 60_000))
            drafts.append((linked - int(rng.random() * MS_PER_DAY), links))
    for _ in range(max(2, len(profiles) // 20)):
        drafts.append((to_ms(random_instant(rng)), []))
    drafts.sort(key=lambda draft: draft[0])
    for number, (created, links) in enumerate(drafts, start=1):
        blocked = rng.random() < 0.05
        modified = max([created, *(linked for _, linked in links)])
        status, reason = ("inactive", "Card reported lost") if blocked else ("active", None)
        identifier = f"CARD-{store.seed}-{number:06d}"
        store.add_card(
            Card(
                number,
                103,
                identifier,
                created,
                modified,
                status,
                reason,
                f"batch-{number % 3}",
                links,
            )
        )


def ledger_spread(store: Store, transactions: int) -> float:
    """How many entries past the first a ledger may get, so all ledgers hold ~`transactions`.

    6 (one to six entries) by default; for a target, the expected number of ledgers is 1.05 per
    profile and 0.85 per card, and the spread aims 5 % high so that trimming reaches the target.
    """
    if transactions <= 0:
        return 6.0
    ledgers = 1.05 * len(store.profiles) + 0.85 * len(store.cards[103])
    mean = 1.05 * max(0, transactions - TIE_CLUSTER) / max(1.0, ledgers)
    return max(1.0, 2 * mean - 1)


def _generate_ledgers(store: Store, rng: random.Random, transactions: int = 0) -> None:
    raw: list[tuple] = []
    members_101 = []
    spread = ledger_spread(store, transactions)
    for profile in store.profiles.values():
        if rng.random() < 0.7:
            members_101.append(profile.integration_id)
            _ledger(raw, rng, store.programs[101], profile.integration_id, profile.created, spread)
        if rng.random() < 0.35:
            _ledger(raw, rng, store.programs[102], profile.integration_id, profile.created, spread)
    for card in store.cards[103].values():
        if rng.random() < 0.85:
            _ledger(raw, rng, store.programs[103], card.identifier, card.created, spread)
    for index in range(TIE_CLUSTER if members_101 else 0):
        owner = members_101[index * 7 % len(members_101)]
        raw.append((TIE_INSTANT, 101, owner, False, "", "addition", 100, "Bulk import", None,
                    None, "import", None))  # fmt: skip
    raw.sort(key=lambda entry: entry[0])
    if transactions > 0:
        del raw[transactions:]  # the newest go: balances of what stays are unchanged
    for index, entry in enumerate(raw):  # in place: a million entries are not held twice
        raw[index] = Txn(index + 1, *entry)
    store.load_transactions(raw)


def _ledger(
    raw: list[tuple],
    rng: random.Random,
    program: Program,
    owner: str,
    since: int,
    spread: float = 6.0,
) -> None:
    """Append 1..`spread` entries for one owner: additions (some pending or expiring), spends."""
    since = max(since, program.created)
    times = sorted(
        since + int(rng.random() * (END - since)) for _ in range(1 + int(rng.random() * spread))
    )
    available = 0.0
    for created in times:
        entry = draft_entry(rng, program, owner, created, available)
        if entry[5] == "addition" and entry[4] == "" and entry[8] is None:
            available += entry[6]
        elif entry[5] == "subtraction":
            available -= entry[6]
        raw.append(entry)


def draft_entry(
    rng: random.Random, program: Program, owner: str, created: int, available: float
) -> tuple:
    """Fields of one ledger entry after its id; subtractions only spend immediate main points."""
    roll = rng.random()
    source = "session" if roll < 0.6 else "manual" if roll < 0.85 else "import"
    session = f"session-{owner}-{created}" if source == "session" else None
    if available >= 10 and rng.random() < 0.3:
        amount = float(round(10 + rng.random() * (available - 10)))
        name = SPEND_NAMES[int(rng.random() * len(SPEND_NAMES))]
        return (created, program.id, owner, program.card_based, "", "subtraction", amount, name,
                None, None, source, session)  # fmt: skip
    subledger = ""
    if len(program.subledgers) > 1 and rng.random() < 0.3:
        subledger = program.subledgers[1 + int(rng.random() * (len(program.subledgers) - 1))]
    amount = (10, 25, 50, 100, 12.5, 250, 0.75)[int(rng.random() * 7)]
    start_roll = rng.random()
    if start_roll < 0.8:
        start = None
    elif start_roll < 0.97:
        start = created + (1 + int(rng.random() * 400)) * MS_PER_DAY
    else:
        start = ON_ACTION
    expiry = None
    if rng.random() < 0.5:
        expiry = (created if start in (None, ON_ACTION) else start) + 365 * MS_PER_DAY
    name = EARN_NAMES[int(rng.random() * len(EARN_NAMES))]
    return (created, program.id, owner, program.card_based, subledger, "addition", amount, name,
            start, expiry, source, session)  # fmt: skip


def _generate_audiences(store: Store, rng: random.Random) -> None:
    specs = (
        ("Newsletter subscribers", "mparticle", "mp-newsletter", 0.2),
        ("Frequent buyers", None, None, 0.1),
        ("Churn risk 😬", "segment", "seg-churn", 0.05),
    )
    ids = list(store.profiles)
    created = sorted(to_ms(random_instant(rng)) for _ in specs)
    for number, ((name, integration, integration_id, share), moment) in enumerate(
        zip(specs, created, strict=True), start=1
    ):
        members = {member for member in ids if rng.random() < share}
        store.audiences[number] = Audience(
            number,
            moment,
            name,
            f"{name} (generated)",
            integration,
            integration_id,
            moment,
            members,
        )
    store.next_audience_id = len(specs) + 1
