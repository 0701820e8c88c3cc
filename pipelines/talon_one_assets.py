"""Talon.One pull assets (group `talon_one`, built from the stream declarations) and resource."""

from __future__ import annotations

import dagster as dg
from promosync.connectors import config
from promosync.connectors.talon_one.client import TalonOne
from promosync.pipelines.resources import HttpConfig
from promosync.pipelines.stream_assets import PULL_ASSETS

GROUP = "talon_one"


class TalonOneResource(dg.ConfigurableResource):
    """Talon.One: base URL, Integration API key, optionally a Management API key; limits."""

    base_url: str
    api_key: str
    management_key: str = ""  # empty: read TALON_ONE_MANAGEMENT_KEY when a run starts, if set
    # Integration API budget; 0: PROMOSYNC_TALON_ONE_REQUESTS_PER_MINUTE, else none (the spec
    # states none)
    requests_per_minute: int = 0
    # per endpoint; None: PROMOSYNC_TALON_ONE_MANAGEMENT_REQUESTS_PER_SECOND, else the documented
    # 3 a second; 0: unpaced
    management_requests_per_second: float | None = None
    http: HttpConfig = HttpConfig()

    def client(self) -> TalonOne:
        """Fresh clients (their counters measure one asset's requests), built as the CLI's are."""
        return config.talon_one(
            base_url=self.base_url, api_key=self.api_key, management_key=self.management_key,
            requests_per_minute=self.requests_per_minute,
            management_per_second=self.management_requests_per_second,
            http=self.http.model_dump(),
        ).client()  # fmt: skip


def talon_one_resource(**fields: object) -> TalonOneResource:
    """The Talon.One resource on its variables, read when a run starts."""
    base_url, api_key = map(dg.EnvVar, config.REQUIRED["talon_one"])
    return TalonOneResource(base_url=base_url, api_key=api_key, **fields)


def talon_one_resources() -> dict[str, dg.ConfigurableResource]:
    """The Talon.One resource read from the environment when a run starts."""
    return {"talon_one": talon_one_resource()}


TALON_ONE_ASSETS = [asset for asset in PULL_ASSETS if asset.group_names_by_key[asset.key] == GROUP]
