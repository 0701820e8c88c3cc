"""Settings of a sandbox run: dataset, credentials, rate limits and async-action timing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar


@dataclass
class SandboxSettings:
    """What a sandbox serves and how strictly; mutable at run time through `/_sandbox/config`."""

    seed: int = 42
    customers: int = 1000
    # Talon.One ledger entries in all (benchmarks); 0: one to six per ledger (~4.5 per customer).
    talon_one_transactions: int = 0
    voucherify_app_id: str = "sandbox-app-id"
    voucherify_app_token: str = "sandbox-app-token"
    talon_one_api_key: str = "sandbox-api-key"
    talon_one_management_key: str = "sandbox-management-key"
    # Voucherify's Organization plan allows 2,000 requests a minute per project.
    voucherify_requests_per_minute: int = 2000
    # The Talon.One spec states no Integration API limit; 0 means unlimited.
    talon_one_requests_per_minute: int = 0
    # "a maximum of 3 requests per second for each of these endpoints" (Management API).
    management_requests_per_second: int = 3
    # Wall-clock seconds an async action takes from ENQUEUED to DONE/FAILED.
    async_action_seconds: float = 1.0
    # Voucherify exports and their download host (docs/SANDBOX.md, "Exports").
    voucherify_export_seconds: float = 1.0  # SCHEDULED → IN_PROGRESS (a fifth) → DONE/ERROR
    voucherify_export_rows_per_file: int = 100_000  # a larger result is split; 0: never split
    voucherify_export_token_seconds: float = 600.0  # lifetime of a download token
    voucherify_export_headers: str = "titles"  # CSV header row: "titles" (Source ID) or "fields"
    voucherify_export_metadata: str = "schema_columns"  # or "json": one Metadata column
    voucherify_export_bounds: str = "exclusive"  # $after / $before: "exclusive" or "inclusive"
    # Which logged activity moves a customer's updated_at, where the spec is silent (SANDBOX.md).
    voucherify_activity_touches_updated_at: str = "changed_fields"  # or "never" or "always"
    voucherify_segment_move_touches_updated_at: str = "no"  # or "yes"
    # Activity generated in the background, per minute of wall time (0: none).
    voucherify_activity_per_minute: float = 0.0

    # Settings that take one of a few words.
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "voucherify_export_headers": ("titles", "fields"),
        "voucherify_export_metadata": ("schema_columns", "json"),
        "voucherify_export_bounds": ("exclusive", "inclusive"),
        "voucherify_activity_touches_updated_at": ("changed_fields", "never", "always"),
        "voucherify_segment_move_touches_updated_at": ("no", "yes"),
    }

    def __post_init__(self) -> None:
        for name, allowed in self.CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"setting {name!r} must be one of {', '.join(allowed)}")

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `changes`; raise ValueError naming any unknown or ill-typed setting."""
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown setting {name!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, name)
            if isinstance(current, bool) or not isinstance(value, type(current) | int):
                raise ValueError(f"setting {name!r} must be {type(current).__name__}")
            allowed = self.CHOICES.get(name)
            if allowed is not None and value not in allowed:
                raise ValueError(f"setting {name!r} must be one of {', '.join(allowed)}")
            setattr(self, name, type(current)(value))

    def public(self) -> dict[str, Any]:
        """The settings as JSON-ready data."""
        return asdict(self)
