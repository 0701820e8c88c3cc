"""The Talon.One dataset and ledger arithmetic, without a server."""

from __future__ import annotations

from promosync.sandbox.people import generate_people
from promosync.sandbox.talon_one.data import TIE_CLUSTER, TIE_INSTANT, generate
from promosync.sandbox.talon_one.ledger import balance_as_of
from promosync.sandbox.talon_one.model import MS_PER_DAY, ON_ACTION, Txn


def entry(number: int, created: int, kind: str, amount: float, **fields: object) -> Txn:
    values = dict(start=None, expiry=None, subledger="")
    values.update(fields)
    return Txn(number, created, 101, "p", False, values["subledger"], kind, amount, "n",
               values["start"], values["expiry"], "manual", None)  # fmt: skip


def test_profiles_share_most_voucherify_ids_and_keep_awkward_attributes() -> None:
    store = generate(3, 400)
    source_ids = {person.source_id for person in generate_people(3, 400)}
    shared = [i for i in store.profiles if i in source_ids]
    assert 0.75 * 400 < len(shared) < 0.95 * 400
    assert len(store.profiles) - len(shared) == 20  # Talon-only profiles: 5%
    assert any(not i.isascii() for i in store.profiles)
    assert any(isinstance(p.attributes.get("Preferences"), dict) for p in store.profiles.values())
    ids = [p.id for p in sorted(store.profiles.values(), key=lambda p: p.created)]
    assert ids == sorted(ids)


def test_generation_is_deterministic_and_has_a_tie_cluster() -> None:
    first, second = generate(11, 200), generate(11, 200)
    assert [list(f) for f in first.feeds.values()] == [list(f) for f in second.feeds.values()]
    tied = [t for t in first.feeds[101] if t.created == TIE_INSTANT]
    assert len(tied) >= TIE_CLUSTER
    kinds = {(t.kind, t.start is None, t.expiry is None) for f in first.feeds.values() for t in f}
    assert {
        ("addition", True, True),
        ("addition", False, False),
        ("subtraction", True, True),
    } <= kinds


def test_a_transaction_target_sizes_the_ledgers_and_leaves_the_default_alone() -> None:
    sized = generate(5, 300, transactions=5000)
    entries = sorted((t for f in sized.feeds.values() for t in f), key=lambda t: t.id)
    assert len(entries) == 5000
    assert [t.id for t in entries] == list(range(1, 5001))
    assert len([t for t in sized.feeds[101] if t.created == TIE_INSTANT]) >= TIE_CLUSTER
    assert [list(f) for f in generate(5, 300, 0).feeds.values()] == [
        list(f) for f in generate(5, 300).feeds.values()
    ]


def test_spending_takes_the_soonest_expiring_points_first() -> None:
    day = MS_PER_DAY
    entries = [
        entry(1, 0, "addition", 100, expiry=10 * day),
        entry(2, 1, "addition", 50),
        entry(3, 2 * day, "subtraction", 80),
        entry(4, 3 * day, "addition", 40, start=20 * day),
        entry(5, 3 * day, "addition", 5, start=ON_ACTION),
    ]
    early = balance_as_of(entries, 5 * day)
    assert (early.active, early.pending, early.spent, early.expired) == (70, 45, 80, 0)
    late = balance_as_of(entries, 30 * day)
    assert (late.active, late.pending, late.spent, late.expired) == (90, 5, 80, 20)


def test_overspending_creates_negative_points_that_later_earnings_repay() -> None:
    entries = [entry(1, 0, "subtraction", 30), entry(2, 10, "addition", 20)]
    assert balance_as_of(entries, 5).negative == 30
    repaid = balance_as_of(entries, 11)
    assert (repaid.negative, repaid.active) == (10, 0)
