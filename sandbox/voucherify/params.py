"""Query-parameter parsing that answers bad input the way Voucherify does: a 400 Error body."""

from __future__ import annotations

from collections.abc import Mapping

from promosync.sandbox.voucherify.instants import parse_instant


class ApiError(Exception):
    """An error answered with the spec's Error body."""

    def __init__(self, status: int, key: str, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.status, self.key, self.message, self.details = status, key, message, details


def invalid(name: str, why: str) -> ApiError:
    """A 400 naming the offending parameter."""
    return ApiError(400, "invalid_param", "Invalid query params", f"{name} {why}")


def not_found(kind: str, key: str) -> ApiError:
    """A 404 for an unknown resource."""
    return ApiError(404, "not_found", "Resource not found", f"Cannot find {kind} with id {key}")


def integer(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer parameter within [low, high]."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, "should be an integer") from None
    if not low <= value <= high:
        raise invalid(name, f"should be between {low} and {high}")
    return value


def instant(query: Mapping[str, str], name: str) -> int | None:
    """A date-time parameter, in microseconds."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return parse_instant(raw)
    except ValueError:
        raise invalid(name, "should be an ISO 8601 date-time") from None


def choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    """An enumerated parameter."""
    raw = query.get(name)
    if raw is not None and raw not in allowed:
        raise invalid(name, f"should be one of {', '.join(allowed)}")
    return raw
