"""Deterministic, awkward identities shared by both simulators (one person, one source_id)."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Every generated timestamp lies in the three years before this instant, so a seed always gives
# the same dataset; changes made while the sandbox runs carry the real clock.
EPOCH_END = datetime(2026, 1, 1, tzinfo=UTC)
EPOCH_START = EPOCH_END - timedelta(days=3 * 365)

FIRST_NAMES = [
    "Anna", "Zoë", "José", "Łukasz", "Søren", "Ngọc", "Anaïs", "Björn", "Ærin", "Mia",
    "Olivia", "Noah", "Jürgen", "François", "Ørjan", "Émile", "Saoirse", "Siobhán", "Chloé", "Ali",
    "Jan", "Eva", "Liam", "Yuki", "Dmitrij", "Ines", "Małgorzata", "Þór", "Zsófia", "Raúl",
    "李", "Владимир", "أحمد", "Γιώργος", "Ёлка", "O'Brien", "Mary-Jane", "Renée", "İlkay", "Čeněk",
]  # fmt: skip
LAST_NAMES = [
    "Kowalski", "Müller", "García", "Nguyễn", "Smith", "O'Connor", "Øster", "Dvořák", "Šimić",
    "Jørgensen", "Łęcki", "van der Berg", "de la Cruz", "Brontë", "Sæther", "Žižek", "Ōtani",
    "王", "Иванов", "Παπαδόπουλος", "Nowak", "Zieliński", "Fernández", "Lefèvre", "Andersson",
]  # fmt: skip
CITIES = [
    ("Warszawa", "PL", "00-001"), ("Kraków", "PL", "30-001"), ("München", "DE", "80331"),
    ("Zürich", "CH", "8001"), ("New York", "US", "10001"), ("São Paulo", "BR", "01000-000"),
    ("Tōkyō", "JP", "100-0001"), ("Málaga", "ES", "29001"), ("Reykjavík", "IS", "101"),
    ("Łódź", "PL", "90-001"), ("Montréal", "CA", "H2X"), ("Århus", "DK", "8000"),
]  # fmt: skip


@dataclass(frozen=True)
class Person:
    """One real-world customer, as both platforms know them."""

    source_id: str
    name: str | None
    email: str | None
    phone: str | None
    city: str | None
    country: str | None
    postal_code: str | None
    created_at: datetime


def _ascii_local_part(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9.]", "", folded.lower()).strip(".")


def random_instant(rng: random.Random, start: datetime = EPOCH_START) -> datetime:
    """A whole-millisecond instant between `start` and EPOCH_END."""
    span_ms = int((EPOCH_END - start).total_seconds() * 1000)
    return start + timedelta(milliseconds=rng.randrange(span_ms))


def generate_people(seed: int, count: int) -> list[Person]:
    """`count` people, reproducible from `seed`, with missing and Unicode fields on purpose."""
    rng = random.Random(f"people-{seed}")
    people = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        has_name = rng.random() > 0.03
        has_email = rng.random() > 0.12
        has_address = rng.random() > 0.2
        city, country, postal = rng.choice(CITIES)
        local = _ascii_local_part(f"{first}.{last}") or "customer"
        people.append(
            Person(
                source_id=f"src_{seed}_{index:07d}",
                name=f"{first} {last}" if has_name else None,
                email=f"{local}.{index}@example.com" if has_email else None,
                phone=f"+48{rng.randrange(10**8, 10**9)}" if rng.random() > 0.4 else None,
                city=city if has_address else None,
                country=country if has_address else None,
                postal_code=postal if has_address else None,
                created_at=random_instant(rng),
            )
        )
    return people
