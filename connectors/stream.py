"""A pull stream declared as data: what paging, assets, checks, docs and a planner need of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

Record = dict[str, Any]
Row = dict[str, Any]
SyncFunction = TypeVar("SyncFunction", bound=Callable[..., Any])

# Checks a stream may ask for (pipelines/checks.py builds each one).
UNIQUE_KEY = "primary_key_unique"
FRESH = "fresh"
CURSOR_FORWARD = "cursor_forward"  # for a stream-wide cursor that is an instant
COUNT_MATCHES_API = "count_matches_api"  # for a top-level list whose first page reports `total`
REJECTS_RESOLVED = "rejects_resolved"  # every stream has it: any record may be unreadable
WITHIN_BUDGET = "within_budget"  # every stream of a platform that bills per cycle has it
CHECKS = (UNIQUE_KEY, FRESH, CURSOR_FORWARD, COUNT_MATCHES_API, REJECTS_RESOLVED, WITHIN_BUDGET)
# Platforms whose requests count against a quota per billing cycle (connectors/budget.py).
BUDGETED_PLATFORMS = ("voucherify",)

# Run options a stream's sync function accepts (pipelines/stream_options.py: the config of each).
REFRESH = "refresh"  # full_refresh: every cursor reset, all read again, rows not met marked gone
WINDOW = "window"  # refresh's full_refresh, and a backfill window that moves no cursor
RECONCILE = "reconcile"  # also mark the rows the API no longer has
SWEEP = "sweep"  # refresh's full_refresh, full_sweep of every parent entity, fan-out concurrency
LEDGERS = (
    "ledgers"  # Talon.One: the path (mode), concurrency, where entities and programs come from
)
LAG = "lag"  # how long before the run's start a closed window ends
OPTIONS = (REFRESH, WINDOW, RECONCILE, SWEEP, LEDGERS, LAG)


@dataclass(frozen=True, kw_only=True)
class Stream:
    """One pull stream; its behaviour lives in the one sync function registered with `pulls`."""

    name: str  # the warehouse table, the asset key and a `promosync sync --only` choice
    platform: str  # "voucherify" or "talon_one": the asset group, the resource, the CLI platform
    description: str  # one line: the asset's description and the README's table row
    endpoint: str  # the path (a template with `{placeholders}`) paging reads
    primary_key: tuple[str, ...]
    cursor_field: str | None  # the record field the committed cursor follows; None: no cursor
    page_size: int | None  # records asked per page; None: the endpoint is not paged
    records_key: str | None  # the answer's field holding the records; None: not a JSON list
    to_row: Callable[[Record, datetime], Row]
    cost_per_entity: int | None = None  # requests one entity visit costs at least (fan-outs)
    depends_on: tuple[str, ...] = ()  # streams that must run first
    checks: tuple[str, ...] = (UNIQUE_KEY, FRESH)  # REJECTS_RESOLVED is added to every stream's
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        implied = [REJECTS_RESOLVED] + [WITHIN_BUDGET] * (self.platform in BUDGETED_PLATFORMS)
        for check in implied:
            if check not in self.checks:
                object.__setattr__(self, "checks", (*self.checks, check))
        if "\n" in self.description or not self.description:
            raise ValueError(f"{self.name}: the description must be one line")
        unknown = [c for c in self.checks if c not in CHECKS] + [
            o for o in self.options if o not in OPTIONS
        ]
        if unknown:
            raise ValueError(f"{self.name}: unknown check or option {', '.join(unknown)}")

    def required(self, field: str) -> Any:
        """A declared field the caller cannot do without (a paged read needs `page_size`)."""
        value = getattr(self, field)
        if value is None:
            raise ValueError(f"{self.name} must declare {field} to be read this way")
        return value


_SYNC_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def pulls(stream: Stream) -> Callable[[SyncFunction], SyncFunction]:
    """Register the decorated function as the one that runs `stream` (its asset calls it).

    It takes the platform's client and the warehouse, plus one keyword argument per option the
    stream declares (pipelines/stream_options.py), and returns the run's SyncReport.
    """

    def register(function: SyncFunction) -> SyncFunction:
        known = _SYNC_FUNCTIONS.get(stream.name)
        if known is not None and _where(known) != _where(function):  # a reload is no conflict
            raise ValueError(f"{stream.name} already has a sync function: {_where(known)}")
        _SYNC_FUNCTIONS[stream.name] = function
        return function

    return register


def _where(function: Callable[..., Any]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def sync_function(stream: Stream) -> Callable[..., Any]:
    """The function registered for `stream` (its module must have been imported)."""
    try:
        return _SYNC_FUNCTIONS[stream.name]
    except KeyError:
        raise LookupError(
            f"{stream.name} has no sync function: decorate one with @pulls(<its declaration>)"
        ) from None
