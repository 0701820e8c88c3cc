"""Talon.One pull assets (group `talon_one`, built from the stream declarations) and resource."""

from __future__ import annotations

import dagster as dg
from promosync.connectors.talon_one.client import MANAGEMENT_PER_SECOND, TalonOne, talon_one_client
from promosync.pipelines.resources import HttpConfig
from promosync.pipelines.stream_assets import PULL_ASSETS

GROUP = "talon_one"


class TalonOneResource(dg.ConfigurableResource):
    """Talon.One: base URL, Integration API key, optionally a Management API key; limits."""

    base_url: str
    api_key: str
    management_key: str = ""  # empty: read TALON_ONE_MANAGEMENT_KEY when a run starts, if set
    requests_per_minute: int = 0  # Integration API budget; 0: the spec states none
    management_requests_per_second: float = MANAGEMENT_PER_SECOND  # per endpoint
    http: HttpConfig = HttpConfig()

    def client(self) -> TalonOne:
        """Fresh clients (their counters measure one asset's requests)."""
        management_key = self.management_key or dg.EnvVar("TALON_ONE_MANAGEMENT_KEY").get_value("")
        return talon_one_client(
            self.base_url,
            self.api_key,
            management_key or "",
            requests_per_minute=self.requests_per_minute or None,
            management_per_second=self.management_requests_per_second or None,
            settings=self.http.settings(),
        )


def talon_one_resources() -> dict[str, dg.ConfigurableResource]:
    """The Talon.One resource read from the environment when a run starts."""
    return {
        "talon_one": TalonOneResource(
            base_url=dg.EnvVar("TALON_ONE_BASE_URL"), api_key=dg.EnvVar("TALON_ONE_API_KEY")
        )
    }


TALON_ONE_ASSETS = [asset for asset in PULL_ASSETS if asset.group_names_by_key[asset.key] == GROUP]
