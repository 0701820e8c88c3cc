"""Settings of a sandbox run: dataset, credentials, limits and quotas, exports, timing, readings."""

from __future__ import annotations

import types
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any, get_type_hints

from promosync.sandbox.readings import TALON_ONE, VOUCHERIFY, Readings

DATA = "Data"
CREDENTIALS = "Credentials"
LIMITS = "Rate limits and quotas"
EXPORTS = "Exports and activity"
PANELS = (
    DATA,
    CREDENTIALS,
    LIMITS,
    EXPORTS,
    VOUCHERIFY,
    TALON_ONE,
)  # the order `--help` shows them in
PLANS = ("custom", "business", "organization", "sandbox", "unlimited")
THIRTY_DAYS = 30 * 86_400.0


def setting(default: Any, help: str, panel: str, **rules: Any) -> Any:
    """A settings field; `rules` may be `choices`, `minimum`, `positive` or `instant`."""
    return field(default=default, metadata={"help": help, "panel": panel, **rules})


@dataclass
class SandboxSettings(Readings):
    """What a sandbox serves and how strictly; mutable at run time through `/_sandbox/config`.

    `POST /_sandbox/reset` brings every setting back to its value at launch (then applies the
    reset's own changes), so a test that switches a reading or a limit cannot leak it.
    """

    seed: int = setting(42, "Seed of the generated data and of fault injection.", DATA)
    customers: int = setting(1000, "Number of Voucherify customers generated.", DATA, minimum=0)
    talon_one_transactions: int = setting(
        0, "Talon.One loyalty transactions in all (0: one to six per ledger).", DATA, minimum=0
    )
    voucherify_app_id: str = setting("sandbox-app-id", "Accepted X-App-Id.", CREDENTIALS)
    voucherify_app_token: str = setting("sandbox-app-token", "Accepted X-App-Token.", CREDENTIALS)
    talon_one_api_key: str = setting("sandbox-api-key", "Accepted ApiKey-v1 key.", CREDENTIALS)
    talon_one_management_key: str = setting(
        "sandbox-management-key", "Accepted ManagementKey-v1 key.", CREDENTIALS
    )
    voucherify_plan: str = setting(
        "custom",
        "Voucherify plan whose documented limits apply: business (100/min, 100,000/cycle),"
        " organization (2,000/min, 300,000/cycle), sandbox (100/hour), unlimited; custom: 2,000"
        " a minute and nothing else. The explicit numbers below override the plan's.",
        LIMITS,
        choices=PLANS,
    )
    voucherify_requests_per_minute: int | None = setting(
        None, "Voucherify requests a minute per app id (0: none; unset: the plan's).", LIMITS,
        minimum=0,
    )  # fmt: skip
    voucherify_requests_per_hour: int | None = setting(
        None, "Voucherify requests an hour per app id (0: none; unset: the plan's).", LIMITS,
        minimum=0,
    )  # fmt: skip
    voucherify_requests_per_cycle: int | None = setting(
        None, "Voucherify requests per billing cycle (0: none; unset: the plan's).", LIMITS,
        minimum=0,
    )  # fmt: skip
    voucherify_bulk_requests_per_minute: int = setting(
        0, "Voucherify bulk (async import/update) requests a minute (0: none).", LIMITS, minimum=0
    )
    voucherify_cycle_seconds: float = setting(
        THIRTY_DAYS, "Real seconds a Voucherify billing cycle lasts (30 days unless compressed).",
        LIMITS, positive=True,
    )  # fmt: skip
    voucherify_cycle_start: str = setting(
        "", "ISO 8601 instant a billing cycle starts at (empty: when the sandbox started or was"
        " reset); cycles follow one another from there.", LIMITS, instant=True,
    )  # fmt: skip
    voucherify_compress_windows: bool = setting(
        False, "Shrink the minute and hour windows as the cycle is shrunk (a 30-day cycle in"
        " --voucherify-cycle-seconds): a compressed clock for quota benchmarks.", LIMITS,
    )  # fmt: skip
    talon_one_requests_per_minute: int = setting(
        0, "Talon.One Integration API requests a minute per key (0: none, as the spec states).",
        LIMITS, minimum=0,
    )  # fmt: skip
    management_requests_per_second: int = setting(
        3, "Talon.One Management API requests a second per endpoint (0: none).", LIMITS, minimum=0
    )
    async_action_seconds: float = setting(
        1.0, "Seconds a Voucherify async action takes to finish.", DATA, minimum=0
    )
    voucherify_export_seconds: float = setting(
        1.0, "Seconds a Voucherify export takes from SCHEDULED to DONE or ERROR (IN_PROGRESS from"
        " a fifth of it).", EXPORTS, minimum=0,
    )  # fmt: skip
    voucherify_export_rows_per_file: int = setting(
        100_000, "Rows per Voucherify export file; a larger result is split (0: never).", EXPORTS,
        minimum=0,
    )  # fmt: skip
    voucherify_export_token_seconds: float = setting(
        600.0, "Seconds an export download token stays valid.", EXPORTS, minimum=0
    )
    voucherify_export_headers: str = setting(
        "titles", "Export CSV header row: column titles (Source ID) or field names (source_id).",
        EXPORTS, choices=("titles", "fields"),
    )  # fmt: skip
    voucherify_export_metadata: str = setting(
        "schema_columns", "Export `metadata` field: one column per metadata key, or one JSON"
        " Metadata column.", EXPORTS, choices=("schema_columns", "json"),
    )  # fmt: skip
    voucherify_export_bounds: str = setting(
        "exclusive", "Export filters' $after / $before: a row stamped exactly then is left out"
        " (exclusive) or included.", EXPORTS, choices=("exclusive", "inclusive"),
    )  # fmt: skip
    voucherify_activity_touches_updated_at: str = setting(
        "changed_fields", "Which logged activity moves a customer's updated_at: the activity that"
        " changed a customer field, none, or all.", EXPORTS,
        choices=("changed_fields", "never", "always"),
    )  # fmt: skip
    voucherify_segment_move_touches_updated_at: str = setting(
        "no", "Whether a customer's move into or out of a segment moves its updated_at.", EXPORTS,
        choices=("no", "yes"),
    )  # fmt: skip
    voucherify_activity_per_minute: float = setting(
        0.0, "Voucherify activity generated in the background per minute (0: none).", EXPORTS,
        minimum=0,
    )  # fmt: skip

    def __post_init__(self) -> None:
        self._launch = self._checked(asdict(self))

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `changes` all at once; raise ValueError naming an unknown or invalid setting."""
        for name, value in self._checked(changes).items():
            setattr(self, name, value)

    def relaunch(self, changes: dict[str, Any]) -> None:
        """Every setting back to its value at launch, then `changes` (none if one is invalid)."""
        checked = self._checked(changes)
        for name, value in {**self._launch, **checked}.items():
            setattr(self, name, value)

    def public(self) -> dict[str, Any]:
        """The settings as JSON-ready data."""
        return asdict(self)

    @classmethod
    def _checked(cls, changes: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(changes, dict):
            raise ValueError("settings must be a JSON object")
        known = described()
        checked = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown setting {name!r}; known: {', '.join(sorted(known))}")
            checked[name] = _checked_value(name, value, *known[name])
        return checked


@cache
def described() -> dict[str, tuple[Any, dict[str, Any]]]:
    """Every setting's name, type and metadata (help, panel, rules), in declaration order."""
    hints = get_type_hints(SandboxSettings)
    return {f.name: (hints[f.name], dict(f.metadata)) for f in fields(SandboxSettings)}


def _checked_value(name: str, value: Any, hint: Any, rules: dict[str, Any]) -> Any:
    kinds = hint.__args__ if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        if type(None) not in kinds:
            raise ValueError(f"setting {name!r} cannot be null")
        return None
    kind = kinds[0]
    fits = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, fits = float(value), True
    if not fits:
        raise ValueError(f"setting {name!r} must be {kind.__name__}, not {value!r}")
    if "choices" in rules and value not in rules["choices"]:
        raise ValueError(f"setting {name!r} must be one of {', '.join(rules['choices'])}")
    if "minimum" in rules and value < rules["minimum"]:
        raise ValueError(f"setting {name!r} must be at least {rules['minimum']}")
    if rules.get("positive") and value <= 0:
        raise ValueError(f"setting {name!r} must be more than 0")
    if rules.get("instant") and value:
        try:
            if datetime.fromisoformat(value).tzinfo is None:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"setting {name!r} must be an ISO 8601 instant with a zone, e.g."
                " 2026-01-01T00:00:00Z"
            ) from None
    return value
