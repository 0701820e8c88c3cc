"""The `promosync sandbox` options, one per sandbox setting, generated from the settings' fields.

Each setting (data, credentials, limits and quotas, readings) becomes `--its-name-with-dashes`,
with its default, help, panel and allowed values declared once, in `sandbox/settings.py` and
`sandbox/readings.py`; `PUT /_sandbox/config` takes the same names with underscores.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import Enum
from typing import Any

import typer
from promosync.sandbox.settings import PANELS, SandboxSettings, described
from rich.markup import escape


def _option(name: str, hint: Any, default: Any, rules: dict[str, Any]) -> tuple[Any, Any]:
    """The annotation and `typer.Option` of one setting (choices become an Enum typer checks)."""
    flag = "--" + name.replace("_", "-")
    help_text = rules["help"]
    extra: dict[str, Any] = {"metavar": "TEXT"}
    if "choices" in rules:
        hint = Enum(name, [(choice, choice) for choice in rules["choices"]], type=str)
        default = hint(default)
        # The choices go in the help, where they wrap, rather than in a wide metavar column.
        extra["metavar"] = "CHOICE"
        help_text += f" ({' | '.join(rules['choices'])})"
    elif hint is bool:
        extra = {}  # named by `flag` alone: a plain flag, no `--no-…` twin to widen the table
    elif hint is not str:
        extra["metavar"] = "NUMBER"
        if "minimum" in rules:
            extra["min"] = rules["minimum"]
    option = typer.Option(
        default, flag, help=escape(help_text), rich_help_panel=rules["panel"], **extra
    )
    return hint, option


def with_settings_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command`, which takes `**settings`, with one keyword option per sandbox setting."""

    @functools.wraps(command)
    def with_settings(*args: Any, **options: Any) -> None:
        plain = {k: v.value if isinstance(v, Enum) else v for k, v in options.items()}
        command(*args, **plain)

    signature = inspect.signature(command)
    fixed = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    annotations = {p.name: command.__annotations__[p.name] for p in fixed}
    defaults = SandboxSettings()
    added = []
    settings = sorted(described().items(), key=lambda item: PANELS.index(item[1][1]["panel"]))
    for name, (hint, rules) in settings:
        annotations[name], option = _option(name, hint, getattr(defaults, name), rules)
        added.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option))
    with_settings.__signature__ = signature.replace(parameters=[*fixed, *added])  # type: ignore[attr-defined]
    with_settings.__annotations__ = annotations
    return with_settings
