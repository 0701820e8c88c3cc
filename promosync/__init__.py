"""promosync: a SQL warehouse in two-way sync with Voucherify and Talon.One, through Dagster.

In a Dagster project of your own, `build_definitions(...)` gives promosync's definitions with
your choices (README, "Use promosync in your own Dagster project"), and `PromosyncComponent` does
the same from a `defs.yaml`. They are loaded on first use, so `import promosync.connectors…`
(plain Python) does not import Dagster.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "build_definitions": "promosync.pipelines.build",
    "PromosyncTranslator": "promosync.pipelines.wiring",
    "ResourceKeys": "promosync.pipelines.wiring",
    "PromosyncComponent": "promosync.pipelines.component",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'promosync' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
