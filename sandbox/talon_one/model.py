"""The simulator's records (compact: 100k customers mean ~500k ledger entries) and time helpers."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

ACCOUNT_ID = 1
APPLICATION_ID = 1
ON_ACTION = -1  # Txn.start for points that wait for an activation action
MS_PER_DAY = 86_400_000


class Txn(NamedTuple):
    """One loyalty ledger entry; times are epoch milliseconds."""

    id: int
    created: int
    program_id: int
    owner: str  # profile integrationId (profile-based) or card identifier (card-based)
    card_based: bool
    subledger: str  # "" is the main ledger
    kind: str  # addition | subtraction
    amount: float
    name: str
    start: int | None  # None: immediate; ON_ACTION: awaits activation; else epoch ms
    expiry: int | None  # None: unlimited
    source: str  # session | manual | import
    session_id: str | None


@dataclass(slots=True)
class Tier:
    """A loyalty tier."""

    id: int
    name: str
    min_points: float
    created: int


@dataclass(slots=True)
class Program:
    """A loyalty program."""

    id: int
    created: int
    name: str
    title: str
    description: str
    card_based: bool
    subledgers: tuple[str, ...]
    tiers: tuple[Tier, ...] = ()


@dataclass(slots=True)
class Profile:
    """A customer profile."""

    id: int
    integration_id: str
    created: int
    attributes: dict[str, Any]
    last_activity: int
    closed_sessions: int
    total_sales: float


@dataclass(slots=True)
class Card:
    """A loyalty card of a card-based program."""

    id: int
    program_id: int
    identifier: str
    created: int
    modified: int
    status: str  # active | inactive
    block_reason: str | None
    batch_id: str
    profiles: list[tuple[str, int]] = field(default_factory=list)  # (integrationId, linked at)


@dataclass(slots=True)
class Audience:
    """An audience and its members' integration ids."""

    id: int
    created: int
    name: str
    description: str
    integration: str | None
    integration_id: str | None
    last_update: int
    members: set[str] = field(default_factory=set)


def iso(ms: int) -> str:
    """RFC3339 UTC with milliseconds, e.g. 2024-03-05T12:34:56.789Z."""
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(moment.timestamp() * 1000)


def now_ms() -> int:
    """The real clock, in epoch milliseconds (changes made at run time carry it)."""
    return to_ms(datetime.now(UTC))


def parse_instant(text: str) -> int:
    """Epoch ms of an RFC3339 timestamp; a date alone means midnight UTC (as the spec notes)."""
    value = text.strip()
    if len(value) == 10:
        value += "T00:00:00Z"
    moment = datetime.fromisoformat(value.replace("z", "Z"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return to_ms(moment)


def transaction_uuid(seed: int, txn_id: int) -> str:
    """A stable UUID per transaction, derived rather than stored (saves memory)."""
    digest = hashlib.blake2b(f"{seed}:{txn_id}".encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))
