"""Settings of a sandbox run: dataset, credentials, rate limits and async-action timing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


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

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `changes`; raise ValueError naming any unknown or ill-typed setting."""
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown setting {name!r}; known: {', '.join(sorted(known))}")
            current = getattr(self, name)
            if isinstance(current, bool) or not isinstance(value, type(current) | int):
                raise ValueError(f"setting {name!r} must be {type(current).__name__}")
            setattr(self, name, type(current)(value))

    def public(self) -> dict[str, Any]:
        """The settings as JSON-ready data."""
        return asdict(self)
