"""The run options a stream declares, as Dagster config: one group of fields per option.

A stream's config class combines the groups of its `options`; `arguments` turns a run's config
into the keyword arguments of the stream's sync function. No `from __future__ import annotations`
here: Dagster reads the annotations of config classes.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
from promosync.connectors.cursor import parse_instant
from promosync.connectors.stream import LAG, LEDGERS, RECONCILE, REFRESH, SWEEP, WINDOW, Stream
from promosync.connectors.talon_one.entities import EntitySource
from promosync.connectors.talon_one.transactions import DEFAULT_LAG


class RefreshOptions(dg.Config):
    """Incremental by default; a full refresh resets every cursor of the stream, reads it all
    again and marks the rows it no longer has with `_deleted_at`."""

    full_refresh: bool = False


class WindowOptions(RefreshOptions):
    """Incremental by default; a full refresh, or a backfill window that moves no cursor."""

    backfill_start: str | None = None  # ISO instant; with backfill_end, re-read that window only
    backfill_end: str | None = None


class ReconcileOptions(dg.Config):
    """Also read every id and mark the rows the API no longer has."""

    reconcile: bool = False


class SweepOptions(RefreshOptions):
    """Changed parent entities only, or every one of them on a full sweep (or full refresh)."""

    full_sweep: bool = False
    concurrency: int = 4


class LedgerOptions(dg.Config):
    """Which path to take, and what to visit when no Management key lists the entities."""

    mode: str = "auto"  # auto (fewest requests the keys allow); transactions: program|entity,
    # balances: export|entity
    concurrency: int = 8
    profiles_table: str = "voucherify_customers"
    profiles_column: str = "source_id"
    cards_table: str = "talon_one_loyalty_cards"
    cards_column: str = "identifier"
    profile_program_ids: list[int] = []  # the programs, when no Management key can list them
    card_program_ids: list[int] = []

    def programs(self) -> dict[int, bool] | None:
        """Configured programs (id -> card-based), or None to find them."""
        configured = {i: False for i in self.profile_program_ids}
        return {**configured, **{i: True for i in self.card_program_ids}} or None

    def source(self) -> EntitySource:
        """The warehouse columns listing profiles and cards."""
        return EntitySource(
            (self.profiles_table, self.profiles_column), (self.cards_table, self.cards_column)
        )


class LagOptions(dg.Config):
    """How long before the run's start a closed window ends (late commits)."""

    lag_seconds: float = DEFAULT_LAG.total_seconds()


def backfill_window(config: WindowOptions) -> tuple[datetime, datetime] | None:
    """The backfill window, or None; a clear error for a half-given or inverted window."""
    if config.backfill_start is None and config.backfill_end is None:
        return None
    if config.backfill_start is None or config.backfill_end is None:
        raise dg.Failure(
            "a backfill needs both backfill_start and backfill_end (ISO instants)",
            allow_retries=False,
        )
    if config.full_refresh:
        raise dg.Failure(
            "full_refresh re-reads everything and a backfill one window: set one of them",
            allow_retries=False,
        )
    try:
        start, end = parse_instant(config.backfill_start), parse_instant(config.backfill_end)
    except ValueError as error:
        raise dg.Failure(
            f"backfill_start and backfill_end must be ISO instants: {error}", allow_retries=False
        ) from None
    if start >= end:
        raise dg.Failure(
            f"backfill_start {start} must be before backfill_end {end}", allow_retries=False
        )
    return start, end


def _ledgers(config: Any) -> dict[str, Any]:
    return {
        "mode": config.mode,
        "concurrency": config.concurrency,
        "source": config.source(),
        "programs": config.programs(),
    }


# Each option: its config fields, and the sync function's keyword arguments from them.
OPTIONS: dict[str, tuple[type[dg.Config], Callable[[Any], dict[str, Any]]]] = {
    REFRESH: (RefreshOptions, lambda c: {"full_refresh": c.full_refresh}),
    WINDOW: (
        WindowOptions,
        lambda c: {"full_refresh": c.full_refresh, "window": backfill_window(c)},
    ),
    RECONCILE: (ReconcileOptions, lambda c: {"reconcile": c.reconcile}),
    SWEEP: (
        SweepOptions,
        lambda c: {
            "full_refresh": c.full_refresh,
            "full_sweep": c.full_sweep,
            "concurrency": c.concurrency,
        },
    ),
    LEDGERS: (LedgerOptions, _ledgers),
    LAG: (LagOptions, lambda c: {"lag": timedelta(seconds=c.lag_seconds)}),
}


def config_class(stream: Stream) -> type[dg.Config]:
    """The config of `stream`'s asset: the fields of every option it declares (one at least)."""
    groups = [OPTIONS[option][0] for option in stream.options]
    # A group that another one extends (refresh, in window and sweep) comes with it.
    bases = tuple(g for g in groups if not any(o is not g and issubclass(o, g) for o in groups))
    name = "".join(part.title() for part in stream.name.split("_")) + "Config"
    options = ", ".join(stream.options)
    return type(name, bases, {"__doc__": f"Run options of {stream.name}: {options}."})


def option_fields(stream: Stream) -> set[str]:
    """The config fields of `stream`'s asset (none when it declares no option)."""
    return {name for option in stream.options for name in OPTIONS[option][0].model_fields}


def arguments(stream: Stream, config: dg.Config) -> dict[str, Any]:
    """The sync function's keyword arguments from a run's config (bad values fail the run)."""
    found: dict[str, Any] = {}
    for option in stream.options:
        found.update(OPTIONS[option][1](config))
    return found
