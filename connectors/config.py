"""Every environment variable promosync reads, read here, and the API settings built from them.

One path from the environment to the clients and the warehouse, taken alike by the Dagster
resources (`pipelines/resources.py`) and by every CLI command (`sync`, `push`, `status`,
`rejects`): a value given explicitly (a resource field) wins over its variable, and an empty or
zero one means "the variable, else the default". docs/CONFIGURATION.md lists every variable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promosync.connectors.errors import ConfigError

if TYPE_CHECKING:  # imported when used: the clients import modules that read this one
    from promosync.connectors.budget import BudgetSettings
    from promosync.connectors.http import ApiClient
    from promosync.connectors.http_settings import HttpSettings
    from promosync.connectors.talon_one.client import TalonOne

WAREHOUSE_URL = "WAREHOUSE_URL"
DEFAULT_WAREHOUSE_URL = "duckdb:///.promosync/warehouse.duckdb"
# 1 (or `--allow-ephemeral-warehouse`, the `allow_ephemeral` resource field): sync into a
# database that ends with the process, for an experiment.
ALLOW_EPHEMERAL = "PROMOSYNC_ALLOW_EPHEMERAL_WAREHOUSE"
STRICT_STREAMS = "PROMOSYNC_STRICT_STREAMS"
DAGSTER_HOME = "DAGSTER_HOME"
CA_BUNDLE = "REQUESTS_CA_BUNDLE"
# What each platform cannot do without: base URL and credentials.
REQUIRED = {
    "voucherify": ("VOUCHERIFY_BASE_URL", "VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN"),
    "talon_one": ("TALON_ONE_BASE_URL", "TALON_ONE_API_KEY"),
}
MANAGEMENT_KEY = "TALON_ONE_MANAGEMENT_KEY"
VOUCHERIFY_REQUESTS_PER_MINUTE = "PROMOSYNC_VOUCHERIFY_REQUESTS_PER_MINUTE"
TALON_ONE_REQUESTS_PER_MINUTE = "PROMOSYNC_TALON_ONE_REQUESTS_PER_MINUTE"
TALON_ONE_MANAGEMENT_PER_SECOND = "PROMOSYNC_TALON_ONE_MANAGEMENT_REQUESTS_PER_SECOND"
HTTP_LIMITS = {  # HttpSettings field: its variable
    "connect_timeout": "PROMOSYNC_HTTP_CONNECT_TIMEOUT",
    "read_timeout": "PROMOSYNC_HTTP_READ_TIMEOUT",
    "total_timeout": "PROMOSYNC_HTTP_TOTAL_TIMEOUT",
    "max_response_bytes": "PROMOSYNC_HTTP_MAX_RESPONSE_BYTES",
    "max_decompressed_bytes": "PROMOSYNC_HTTP_MAX_DECOMPRESSED_BYTES",
}


def setting(name: str, environ: Mapping[str, str] | None = None) -> str:
    """Variable `name`, spaces around it dropped; "" when unset."""
    return (os.environ if environ is None else environ).get(name, "").strip()


def secret(name: str, environ: Mapping[str, str] | None = None) -> str:
    """Variable `name` as set: the client checks and trims a credential where it is read, with a
    note when it had to (`secrets.credential`)."""
    return (os.environ if environ is None else environ).get(name, "")


def warehouse_url() -> str:
    """The configured warehouse URL (`WAREHOUSE_URL`), or the embedded DuckDB file."""
    return setting(WAREHOUSE_URL) or DEFAULT_WAREHOUSE_URL


def ephemeral_allowed() -> bool:
    """Whether PROMOSYNC_ALLOW_EPHEMERAL_WAREHOUSE allows a warehouse that does not persist."""
    return setting(ALLOW_EPHEMERAL).lower() in {"1", "true", "yes", "on"}


def strict_stream_names() -> set[str]:
    """The names PROMOSYNC_STRICT_STREAMS lists (comma-separated)."""
    return {name.strip() for name in setting(STRICT_STREAMS).split(",") if name.strip()}


def dagster_home() -> str | None:
    """DAGSTER_HOME, if set: the Dagster instance `promosync sync` and `status` use."""
    return setting(DAGSTER_HOME) or None


def missing(platforms: Iterable[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The required variables of `platforms` that are unset or empty."""
    return [name for p in platforms for name in REQUIRED[p] if not setting(name, environ)]


def rate(name: str, given: float | None, environ: Mapping[str, str] | None = None) -> float | None:
    """A pace: `given` if set (not None or 0), else variable `name`, else None (no pace of
    promosync's own); ConfigError naming the variable for a value that is not a number above 0."""
    if given:
        return given
    text = setting(name, environ)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a number above 0, not {text!r}")
    return value


def http_settings(environ: Mapping[str, str] | None = None, **given: float | None) -> HttpSettings:
    """Request limits: each from `given` if set, else its PROMOSYNC_HTTP_* variable, else the
    default."""
    from promosync.connectors.http_settings import HttpSettings

    return HttpSettings.from_env(os.environ if environ is None else environ, **given)


@dataclass(frozen=True)
class VoucherifySettings:
    """What a Voucherify client is made of."""

    base_url: str
    app_id: str
    app_token: str
    requests_per_minute: float | None
    http: HttpSettings
    budget: BudgetSettings

    def client(self) -> ApiClient:
        """A fresh client (its counters measure one step's requests), paced per hour when the
        budget has an hourly limit (a Sandbox project's 100 calls an hour)."""
        from promosync.connectors.budget import hour_seconds
        from promosync.connectors.http import RateLimiter
        from promosync.connectors.voucherify.client import voucherify_client

        client = voucherify_client(
            self.base_url, self.app_id, self.app_token, self.requests_per_minute,
            settings=self.http,
        )  # fmt: skip
        if per_hour := self.budget.limits.per_hour:
            client.limiter = RateLimiter(
                self.requests_per_minute, per_hour=per_hour, hour=hour_seconds(self.budget),
                shared=client.limiter.shared,
            )  # fmt: skip
        return client

    def account(self) -> str:
        """The request ledger's name of this project: API host and app id, never the token."""
        from promosync.connectors.spending import account_of

        return account_of(self.base_url.strip(), self.app_id.strip())


@dataclass(frozen=True)
class TalonOneSettings:
    """What the Talon.One clients (Integration, and Management with its key) are made of."""

    base_url: str
    api_key: str
    management_key: str
    requests_per_minute: float | None
    management_per_second: float | None
    http: HttpSettings

    def client(self) -> TalonOne:
        """Fresh clients (their counters measure one step's requests)."""
        from promosync.connectors.talon_one.client import talon_one_client

        return talon_one_client(
            self.base_url, self.api_key, self.management_key,
            requests_per_minute=self.requests_per_minute,
            management_per_second=self.management_per_second, settings=self.http,
        )  # fmt: skip


def voucherify(
    *,
    base_url: str = "",
    app_id: str = "",
    app_token: str = "",
    requests_per_minute: float | None = None,
    http: Mapping[str, Any] | None = None,
    budget: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> VoucherifySettings:
    """Voucherify's settings: each given value, else its variable (else its default)."""
    from promosync.connectors.budget import BudgetSettings

    names = REQUIRED["voucherify"]
    return VoucherifySettings(
        base_url=base_url or secret(names[0], environ),
        app_id=app_id or secret(names[1], environ),
        app_token=app_token or secret(names[2], environ),
        requests_per_minute=rate(VOUCHERIFY_REQUESTS_PER_MINUTE, requests_per_minute, environ),
        http=http_settings(environ, **(http or {})),
        budget=BudgetSettings.from_env(environ, **(budget or {})),
    )


def talon_one(
    *,
    base_url: str = "",
    api_key: str = "",
    management_key: str = "",
    requests_per_minute: float | None = None,
    management_per_second: float | None = None,
    http: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> TalonOneSettings:
    """Talon.One's settings: each given value, else its variable (else its default; the
    Management API's documented 3 requests a second per endpoint; 0 given: unpaced)."""
    from promosync.connectors.talon_one.client import MANAGEMENT_PER_SECOND

    names = REQUIRED["talon_one"]
    if management_per_second is None:
        per_second = rate(TALON_ONE_MANAGEMENT_PER_SECOND, None, environ) or MANAGEMENT_PER_SECOND
    else:
        per_second = management_per_second or None
    return TalonOneSettings(
        base_url=base_url or secret(names[0], environ),
        api_key=api_key or secret(names[1], environ),
        management_key=management_key or secret(MANAGEMENT_KEY, environ),
        requests_per_minute=rate(TALON_ONE_REQUESTS_PER_MINUTE, requests_per_minute, environ),
        management_per_second=per_second,
        http=http_settings(environ, **(http or {})),
    )
