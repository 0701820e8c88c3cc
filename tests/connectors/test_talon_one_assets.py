"""The Talon.One assets materialize from the environment, with or without a Management key."""

from __future__ import annotations

import dagster as dg
import pytest
from promosync.pipelines.resources import WarehouseResource
from promosync.pipelines.talon_one_assets import TALON_ONE_ASSETS, talon_one_resources

PROGRAMS = {"profile_program_ids": [101, 102], "card_program_ids": [103]}


@pytest.mark.parametrize("with_management_key", [True, False])
def test_assets_report_their_mode_and_requests(
    sandbox, monkeypatch, tmp_path, with_management_key
) -> None:
    settings = sandbox.settings
    monkeypatch.setenv("TALON_ONE_BASE_URL", sandbox.talon_one_url)
    monkeypatch.setenv("TALON_ONE_API_KEY", settings.talon_one_api_key)
    if with_management_key:
        monkeypatch.setenv("TALON_ONE_MANAGEMENT_KEY", settings.talon_one_management_key)
    else:
        monkeypatch.delenv("TALON_ONE_MANAGEMENT_KEY", raising=False)
    resources = {
        **talon_one_resources(),
        "warehouse": WarehouseResource(url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}"),
    }
    config = {"ops": {
        "talon_one_loyalty_transactions": {"config": {"lag_seconds": 0, **PROGRAMS}},
        "talon_one_loyalty_balances": {"config": PROGRAMS},
    }}  # fmt: skip
    result = dg.materialize(TALON_ONE_ASSETS, resources=resources, run_config=config)
    assert result.success
    metadata = {
        event.asset_key.path[-1]: {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }
    transactions = metadata["talon_one_loyalty_transactions"]
    if with_management_key:
        assert transactions["mode"] == "program-wide (Management API)"
        assert transactions["requests"] == 3 and transactions["inserted"] > 1000
        assert metadata["talon_one_customer_profiles"]["inserted"] > 0
    else:
        assert transactions["mode"].startswith("per entity (Integration API)")
        assert metadata["talon_one_customer_profiles"]["requests"] == 0
        assert metadata["talon_one_customer_profiles"]["mode"].startswith("skipped")
