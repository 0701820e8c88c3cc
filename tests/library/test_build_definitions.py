"""`promosync.build_definitions` as a user's project merges it: keys, prefix, resources, jobs.

Offline: nothing here runs a step.
"""

from __future__ import annotations

import dagster as dg
import pytest
import yaml
from promosync.connectors import catalog, config
from promosync.connectors.budget import BudgetSettings
from promosync.connectors.errors import ConfigError
from promosync.pipelines.component import PromosyncComponent, PromosyncScaffolder

from promosync import PromosyncTranslator, ResourceKeys, build_definitions


def asset_specs(defs: dg.Definitions) -> dict[str, dg.AssetSpec]:
    return {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}


def test_a_key_prefix_carries_dependencies_and_checks_along() -> None:
    defs = build_definitions(key_prefix="acme")
    specs = asset_specs(defs)
    assert specs and all(name.startswith("acme/") for name in specs)
    every_key = {spec.key for spec in specs.values()}
    for stream in catalog.STREAMS:
        spec = specs[f"acme/{stream.name}"]
        assert {dep.asset_key for dep in spec.deps} == {
            dg.AssetKey(["acme", name]) for name in stream.depends_on
        }
    for spec in specs.values():  # no dependency points at an unprefixed key
        assert {dep.asset_key for dep in spec.deps} <= every_key
    repository = defs.get_repository_def()
    checked = {key.asset_key for key in repository.asset_checks_defs_by_key}
    assert checked and checked <= every_key
    # Each job selects the prefixed assets and checks; none selects nothing.
    pull = defs.resolve_job_def("acme_voucherify_pull")
    assert {key.to_user_string() for key in pull.asset_layer.selected_asset_keys} == {
        f"acme/{stream.name}" for stream in catalog.by_platform()["voucherify"]
    }
    checks = defs.resolve_job_def("acme_promosync_checks")
    assert len(checks.asset_layer.asset_graph.asset_check_keys) == len(
        repository.asset_checks_defs_by_key
    )
    dg.Definitions.validate_loadable(defs)


def test_resource_keys_do_not_collide_and_no_executor_is_imposed() -> None:
    ours = dg.Definitions(
        resources={"warehouse": dg.ResourceDefinition.none_resource()},
        executor=dg.multiprocess_executor,
    )
    promosync = build_definitions()
    assert promosync.executor is None
    assert set(promosync.resources) == {
        "promosync_warehouse",
        "promosync_voucherify",
        "promosync_talon_one",
    }
    merged = dg.Definitions.merge(ours, promosync)
    dg.Definitions.validate_loadable(merged)
    job = merged.resolve_job_def("voucherify_pull")
    assert job.executor_def.name == "multiprocess"  # the user's, not promosync's
    for asset in merged.get_repository_def().assets_defs_by_key.values():
        assert "warehouse" not in asset.required_resource_keys


def test_chosen_resource_keys_and_groups_are_the_ones_asked_for() -> None:
    defs = build_definitions(
        platforms=["talon_one"],
        resource_keys=ResourceKeys(warehouse="dwh", talon_one="talon"),
        group_names={"talon_one": "loyalty"},
    )
    specs = asset_specs(defs)
    assert {spec.group_name for name, spec in specs.items() if "push" not in name} == {
        "loyalty",
        "analytics",
    }
    assert set(defs.resources) == {"dwh", "talon"}
    for asset in defs.get_repository_def().assets_defs_by_key.values():
        assert asset.required_resource_keys - {"io_manager"} <= {"dwh", "talon"}


def test_schedules_name_their_job_objects_so_assets_checks_and_schedules_alone_load() -> None:
    full = build_definitions(schedules="running")
    schedules = list(full.schedules)
    assert schedules and all(s.default_status.value == "RUNNING" for s in schedules)
    alone = dg.Definitions(  # no jobs: each schedule brings its own
        assets=list(full.assets),
        asset_checks=list(full.asset_checks),
        schedules=schedules,
        resources=dict(full.resources),
    )
    dg.Definitions.validate_loadable(alone)
    assert {s.name for s in schedules} <= {s.name for s in alone.get_repository_def().schedule_defs}
    assert not list(build_definitions(schedules="none").schedules)


def test_streams_bring_what_they_depend_on_and_unknown_names_say_the_choices() -> None:
    defs = build_definitions(
        streams=["voucherify_customer_activities"], push=False, views=False, schedules="none"
    )
    assert set(asset_specs(defs)) == {"voucherify_customers", "voucherify_customer_activities"}
    with pytest.raises(ValueError, match=r"unknown stream 'nope'.*choose from"):
        build_definitions(streams=["nope"])
    with pytest.raises(ValueError, match=r"unknown platform 'stripe'"):
        build_definitions(platforms=["stripe"])


def test_every_warehouse_step_is_in_the_pool() -> None:
    defs = build_definitions(platforms=["voucherify"])
    repository = defs.get_repository_def()
    nodes = [*repository.assets_defs_by_key.values(), *repository.asset_checks_defs_by_key.values()]
    pools = {node.node_def.pool for node in nodes if node.is_executable}
    assert pools == {"promosync_warehouse"}


class Renamed(PromosyncTranslator):
    """A user's translator: every key under `sync`, then the platform."""

    def get_asset_key(self, name: str) -> dg.AssetKey:
        platform = "talon_one" if name.startswith(("talon_one", "push_talon_one")) else "other"
        return dg.AssetKey(["sync", platform, name])


def test_a_translator_subclass_renames_keys_with_dependencies() -> None:
    defs = build_definitions(translator=Renamed(), platforms=["talon_one"], schedules="none")
    specs = asset_specs(defs)
    assert "sync/talon_one/talon_one_customer_profiles" in specs
    views = specs["sync/other/analyst_views"]
    assert dg.AssetKey(["sync", "talon_one", "talon_one_customer_profiles"]) in {
        dep.asset_key for dep in views.deps
    }
    dg.Definitions.validate_loadable(defs)


def test_dg_scaffold_writes_a_defs_yaml_that_loads(tmp_path) -> None:
    request = dg.ScaffoldRequest(
        type_name="promosync.pipelines.component.PromosyncComponent",
        target_path=tmp_path,
        scaffold_format="yaml",
        project_root=None,
        params=None,
    )
    PromosyncScaffolder().scaffold(request)
    written = yaml.safe_load((tmp_path / "defs.yaml").read_text())
    assert written["type"] == request.type_name
    defs = PromosyncComponent(**written["attributes"]).build_defs(None)
    assert {key.path[0] for key in defs.resolve_all_asset_keys()} == {"promosync"}
    dg.Definitions.validate_loadable(defs)


def test_a_components_budget_reaches_the_voucherify_resource(monkeypatch) -> None:
    for name, value in zip(
        config.REQUIRED["voucherify"], ("https://api.voucherify.io", "a", "t"), strict=True
    ):
        monkeypatch.setenv(name, value)

    def budget_of(defs: dg.Definitions) -> BudgetSettings:
        resource = defs.resources["promosync_voucherify"]
        return resource.process_config_and_initialize().budget_settings()

    budget = budget_of(
        PromosyncComponent(budget={"plan": "business", "share": 0.3}).build_defs(None)
    )
    assert (budget.limits.per_cycle, budget.share) == (100_000, 0.3)
    with pytest.raises(
        ConfigError, match=r"PROMOSYNC_VOUCHERIFY_SHARE \(resource field budget.share\)"
    ):
        budget_of(build_definitions(budget={"share": 2}))
