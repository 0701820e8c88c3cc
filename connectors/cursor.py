"""Cursor values: ISO instants compared as instants, the run's signpost, tie windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Voucherify and Talon.One timestamps carry milliseconds: one tick is the smallest gap.
TICK = timedelta(milliseconds=1)
WHOLE_STREAM = ""  # the partition of a stream-wide cursor in sync_state


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant (with `Z` or an offset) as an aware UTC datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_instant(value: datetime) -> str:
    """An aware datetime as the APIs write it: `2025-03-01T12:00:00.123Z`."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def signpost(now: datetime | None = None) -> datetime:
    """The instant a run started: no cursor may move past it (rows may still change after it)."""
    return (now or datetime.now(UTC)).astimezone(UTC)


def tie_window(instant: str) -> tuple[str, str]:
    """Strict (after, before) bounds that select exactly the rows stamped `instant`."""
    value = parse_instant(instant)
    return format_instant(value - TICK), format_instant(value + TICK)
