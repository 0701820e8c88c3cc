"""The declarations drive the wiring: assets, checks and CLI choices follow them, and every
declared field is read by the code that builds the definitions and runs the syncs."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import dagster as dg
import pytest
from promosync.connectors import catalog
from promosync.connectors import stream as stream_module
from promosync.connectors.report import SyncReport
from promosync.connectors.stream import REJECTS_RESOLVED, UNIQUE_KEY, WINDOW, WITHIN_BUDGET, Stream
from promosync.pipelines import run
from promosync.pipelines.checks import pull_checks
from promosync.pipelines.resources import VoucherifyResource, WarehouseResource
from promosync.pipelines.stream_assets import pull_asset, pull_assets
from promosync.pipelines.stream_options import OPTIONS
from promosync.pipelines.talon_one_assets import TalonOneResource

FIELDS = {field.name for field in dataclasses.fields(Stream)}
# Every (stream, field) given a value, taken before any test records the reads.
DECLARED = {
    (stream.name, field)
    for stream in catalog.STREAMS
    for field in FIELDS
    if getattr(stream, field) is not None
}
README = Path(__file__).parents[2] / "README.md"


def config_fields(asset: dg.AssetsDefinition) -> set[str]:
    """The config fields of an asset's op (none: an asset without config)."""
    return set(getattr(asset.op.config_schema.as_field().config_type, "fields", {}))


def test_assets_checks_and_cli_choices_follow_the_declarations() -> None:
    assets = {asset.key.to_user_string(): asset for asset in pull_assets()}
    assert list(assets) == [stream.name for stream in catalog.STREAMS]
    for stream in catalog.STREAMS:
        asset, key = assets[stream.name], dg.AssetKey(stream.name)
        assert asset.group_names_by_key[key] == stream.platform
        assert asset.descriptions_by_key[key] == stream.description
        assert {d.asset_key.to_user_string() for d in asset.specs_by_key[key].deps} == set(
            stream.depends_on
        )
        expected = {name for option in stream.options for name in OPTIONS[option][0].model_fields}
        assert config_fields(asset) == expected, stream.name
        assert {stream.platform, "warehouse"} <= asset.required_resource_keys
    checks = {
        (key.asset_key.to_user_string(), key.name) for c in pull_checks() for key in c.check_keys
    }
    assert checks == {(s.name, check) for s in catalog.STREAMS for check in s.checks}
    assert run.streams_by_platform() == {
        platform: sorted(s.name for s in streams)
        for platform, streams in catalog.by_platform().items()
    }


def test_a_new_declaration_becomes_an_asset_with_its_checks_config_and_cli_choice(
    monkeypatch, tmp_path
) -> None:
    vouchers = Stream(
        name="voucherify_vouchers", platform="voucherify", description="Every voucher.",
        endpoint="/v1/vouchers", primary_key=("id",), cursor_field="updated_at", page_size=100,
        records_key="vouchers", to_row=lambda record, synced_at: record,
        depends_on=("voucherify_customers",), checks=(UNIQUE_KEY,), options=(WINDOW,),
    )  # fmt: skip
    calls = []

    def sync_vouchers(client, warehouse, **options) -> SyncReport:
        calls.append((client, options))
        return SyncReport(vouchers.name, inserted=3)

    monkeypatch.setitem(stream_module._SYNC_FUNCTIONS, vouchers.name, sync_vouchers)
    monkeypatch.setattr(catalog, "STREAMS", (*catalog.STREAMS, vouchers))
    asset = pull_asset(vouchers)
    assert [c.check_keys for c in pull_checks([vouchers])] == [
        {dg.AssetCheckKey(dg.AssetKey("voucherify_vouchers"), UNIQUE_KEY)},
        {dg.AssetCheckKey(dg.AssetKey("voucherify_vouchers"), REJECTS_RESOLVED)},  # every stream's
        {dg.AssetCheckKey(dg.AssetKey("voucherify_vouchers"), WITHIN_BUDGET)},  # Voucherify bills
    ]
    assert "voucherify_vouchers" in run.streams_by_platform()["voucherify"]
    run.resolve_only("voucherify_vouchers")  # a valid `--only` choice
    cli_config = run.run_config("voucherify", True, None, True)["ops"]["voucherify_vouchers"]
    assert cli_config == {"config": {"full_refresh": True}}  # no sweep option: no full_sweep

    class Api:
        def client(self) -> str:
            return "the voucherify client"

    warehouse = WarehouseResource(url=f"duckdb:///{tmp_path / 'w.duckdb'}")
    config = {"ops": {"voucherify_vouchers": {"config": {"full_refresh": True}}}}
    result = dg.materialize(
        [asset], resources={"voucherify": Api(), "warehouse": warehouse}, run_config=config
    )
    assert calls == [("the voucherify client", {"full_refresh": True, "window": None})]
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["inserted"].value == 3


@pytest.fixture
def read_fields(monkeypatch) -> set[tuple[str, str]]:
    """(stream, field) of every declared field read from now on, outside dataclass dunders."""
    reads: set[tuple[str, str]] = set()
    plain = object.__getattribute__

    def recording(self: Stream, name: str):
        if name in FIELDS:
            caller = sys._getframe(1).f_code.co_name
            if not (caller.startswith("__") and caller.endswith("__")):
                reads.add((plain(self, "name"), name))
        return plain(self, name)

    monkeypatch.setattr(Stream, "__getattribute__", recording)
    return reads


def test_every_declared_field_is_read_by_the_wiring_and_the_syncs(
    sandbox, tmp_path, read_fields
) -> None:
    settings = sandbox.settings
    resources = {
        "voucherify": VoucherifyResource(
            base_url=sandbox.voucherify_url,
            app_id=settings.voucherify_app_id,
            app_token=settings.voucherify_app_token,
        ),
        "talon_one": TalonOneResource(
            base_url=sandbox.talon_one_url,
            api_key=settings.talon_one_api_key,
            management_key=settings.talon_one_management_key,
            management_requests_per_second=0,
        ),
        "warehouse": WarehouseResource(url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}"),
    }
    assets, checks = pull_assets(), pull_checks()
    run.streams_by_platform()
    catalog.tables_markdown()
    result = dg.materialize(assets, resources=resources, selection=None)
    assert result.success
    assert checks
    unread = sorted(DECLARED - read_fields)
    assert unread == [], f"declared but read by no code: {unread}"


def test_the_readme_table_is_the_declarations() -> None:
    assert catalog.tables_markdown() in README.read_text()
