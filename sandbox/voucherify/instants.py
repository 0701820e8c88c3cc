"""Instants as integer microseconds since the Unix epoch, rendered the way Voucherify does."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (moment - _EPOCH) // _MICROSECOND


def iso(us: int) -> str:
    """ISO 8601 with milliseconds and `Z`, e.g. `2022-08-30T10:17:39.220Z`."""
    moment = _EPOCH + timedelta(microseconds=us)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def now_us() -> int:
    """The real clock, truncated to whole milliseconds as the platform stores it."""
    return time.time_ns() // 1_000_000 * 1000


def parse_instant(text: str) -> int:
    """Microseconds of an ISO 8601 date-time (a bare date means midnight UTC); ValueError if not."""
    if len(text) == 10:
        return to_us(datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC))
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_us(moment)
