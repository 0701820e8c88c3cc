"""Every pull stream promosync declares, in order, each with its sync function registered."""

from __future__ import annotations

from collections.abc import Iterable

from promosync.connectors.stream import Stream
from promosync.connectors.talon_one import balances, snapshots, transactions
from promosync.connectors.talon_one.streams import STREAMS as TALON_ONE_STREAMS
from promosync.connectors.voucherify import sync as voucherify_sync
from promosync.connectors.voucherify.streams import STREAMS as VOUCHERIFY_STREAMS

# Importing these modules registers their sync functions (`@pulls`).
SYNC_MODULES = (voucherify_sync, snapshots, transactions, balances)
STREAMS: tuple[Stream, ...] = (*VOUCHERIFY_STREAMS.values(), *TALON_ONE_STREAMS.values())
PLATFORMS = ("voucherify", "talon_one")


def by_platform(streams: Iterable[Stream] | None = None) -> dict[str, list[Stream]]:
    """The streams of each platform (every declared stream by default), in declaration order."""
    chosen = list(STREAMS if streams is None else streams)
    return {platform: [s for s in chosen if s.platform == platform] for platform in PLATFORMS}


def tables_markdown(streams: Iterable[Stream] | None = None) -> str:
    """The README's table of pull tables: name, key, run options and description of each stream."""
    lines = ["| table | key | options | what |", "|---|---|---|---|"]
    for stream in STREAMS if streams is None else streams:
        columns = ", ".join(f"`{column}`" for column in stream.primary_key)
        key = columns if len(stream.primary_key) == 1 else f"({columns})"
        options = ", ".join(f"`{option}`" for option in stream.options) or "—"
        lines.append(f"| `{stream.name}` | {key} | {options} | {stream.description} |")
    return "\n".join(lines)
